"""The ``edgevec`` command through typer's CliRunner, on FAISS with the bundled models.

Every command runs for real: ``index`` embeds real images and sentences (some broken on purpose),
``search`` is judged by the exact numpy oracle, ``collections``, ``config check`` and ``bench``
work on real stores. Needs the faiss, onnx and cli extras; skips without them.
"""

from __future__ import annotations

import re
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

pytest.importorskip("typer", reason='needs the cli extra: pip install "edgevec[cli]"')
pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')

from PIL import Image
from typer.testing import Result

import edgevec
from edgevec.cli.config import describe
from edgevec.errors import InvalidInputError
from edgevec.filters import as_filter
from edgevec.testing.oracle import assert_hits_match
from edgevec.types import Hit, Hits
from tests.cli_support import clear_edgevec_env, cli

DATA = Path(__file__).parent / "data"
GOOD_IMAGES = [
    "photos/chelsea.png",
    "photos/rocket.jpg",
    "clipart/food-fruit/an_apple_01.jpg",
    "clipart/animals-birds/gull_marcelo_staudt_01.jpg",
]


def ok(*args: str | Path) -> Result:
    result = cli(*args)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}"
    return result


def refused(*args: str | Path) -> Result:
    """``edgevec ARGS``, which must stop with a usage error (exit 2)."""
    result = cli(*args)
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}"
    return result


def config_refused(folder: Path, text: str) -> Result:
    """``edgevec config check`` on a file holding ``text``, which it must refuse."""
    bad = folder / "bad.toml"
    bad.write_text(text)
    return refused("config", "check", bad)


def png_header_bomb(side: int = 20_000) -> bytes:
    """A PNG whose header claims side x side pixels: refused before any decoding."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    crc = zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", crc)


@pytest.fixture(autouse=True)
def _no_edgevec_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_edgevec_env(monkeypatch)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FAISS store config; the module's image folder and sentences are indexed into it by the
    first tests (which check that)."""
    root = tmp_path_factory.mktemp("cli")
    (root / "edgevec.toml").write_text(
        f'backend = "faiss"\n\n[faiss]\npath = "{(root / "vectors").as_posix()}"\n'
    )
    return root


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four real images in subfolders, a truncated JPEG, a PNG bomb and a note (not an image)."""
    folder = tmp_path_factory.mktemp("images")
    for rel in GOOD_IMAGES:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / rel, folder / rel)
    (folder / "broken").mkdir()
    (folder / "broken" / "truncated.jpg").write_bytes(
        (DATA / "photos/rocket.jpg").read_bytes()[:2000]
    )
    (folder / "broken" / "bomb.png").write_bytes(png_header_bomb())
    (folder / "notes.txt").write_text("not an image")
    return folder


def sentences(n: int) -> list[dict[str, str]]:
    lines = (DATA / "sentences.tsv").read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.split("\t") for line in lines][:: len(lines) // n][:n]
    return [{"id": f"s{i}", "topic": topic, "text": text} for i, (topic, text) in enumerate(rows)]


def stored(config: Path, name: str) -> tuple[list[str], Any, list[dict[str, Any]]]:
    """Ids, vectors and payloads of every record of a collection (small ones only)."""
    with edgevec.connect(config=config) as store:
        coll = store.collection(name)
        ids = (
            [f"s{i}" for i in range(100)] if name == "texts" else [*GOOD_IMAGES, "broken/bomb.png"]
        )
        records = coll.get(ids)
    return (
        [r.id for r in records],
        np.stack([np.asarray(r.vector) for r in records]),
        [dict(r.payload) for r in records],
    )


def hits_of(result: Result) -> Hits:
    return Hits([Hit(h["id"], h["score"], h["payload"]) for h in orjson.loads(result.stdout)])


# -- index ---------------------------------------------------------------------------------------


def test_index_folder_reports_bad_files_writes_the_rest_and_resumes(
    store_dir: Path, image_dir: Path
) -> None:
    config = store_dir / "edgevec.toml"
    first = ok("index", image_dir, "-c", config, "--collection", "images", "--json")
    summary = orjson.loads(first.stdout)
    assert summary["added"] == 4
    assert summary["present"] == 0
    assert summary["count"] == 4
    bad = {r["where"]: r["reason"] for r in summary["rejected"]}
    assert set(bad) == {"broken/truncated.jpg", "broken/bomb.png"}
    assert "over the limit" in bad["broken/bomb.png"]
    assert "skipped broken/truncated.jpg" in first.stderr
    with edgevec.connect(config=config) as store:
        coll = store.collection("images")
        assert sorted(r.id for r in coll.get([*GOOD_IMAGES, *bad])) == sorted(GOOD_IMAGES)
        assert coll.get(["photos/rocket.jpg"])[0].payload == {"path": "photos/rocket.jpg"}
        coll.delete(ids=["photos/rocket.jpg"])  # as if the first run had stopped before it

    again = orjson.loads(
        ok("index", image_dir, "-c", config, "--collection", "images", "--json").stdout
    )
    assert (again["added"], again["present"], again["count"]) == (1, 3, 4)


def test_index_jsonl_takes_ids_and_payloads_and_skips_bad_lines(store_dir: Path) -> None:
    rows = sentences(12)
    lines = [orjson.dumps(r).decode() for r in rows]
    lines[3:3] = [
        "{not json",
        '{"id": "x", "topic": "none"}',  # no text
        "",
        '{"id": "", "text": "An id no collection takes."}',
        '{"id": "big", "text": "A payload int beyond 64 bits.", "n": 18446744073709551615}',
    ]
    source = store_dir / "sentences.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = store_dir / "edgevec.toml"
    summary = orjson.loads(
        ok(
            "index", source, "-c", config, "--collection", "texts", "--batch-size", "5", "--json"
        ).stdout
    )
    assert summary["added"] == 12
    assert summary["count"] == 12
    reasons = {r["where"]: r["reason"] for r in summary["rejected"]}
    assert list(reasons) == ["line 4", "line 5", "''", "big"]
    assert reasons["''"] == "ids must be non-empty"
    assert "outside the exact range" in reasons["big"]
    with edgevec.connect(config=config) as store:
        (rec,) = store.collection("texts").get(["s2"])
    assert rec.payload == {"topic": rows[2]["topic"], "text": rows[2]["text"]}


def test_index_plain_text_file_numbers_its_lines(tmp_path: Path, store_dir: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("Bake the bread at high heat.\n\nThe match ended in a draw.\n")
    config = store_dir / "edgevec.toml"
    summary = orjson.loads(
        ok("index", source, "-c", config, "--collection", "notes", "--json").stdout
    )
    assert summary["count"] == 2
    with edgevec.connect(config=config) as store:
        assert [r.payload for r in store.collection("notes").get(["1", "3"])] == [
            {"text": "Bake the bread at high heat."},
            {"text": "The match ended in a draw."},
        ]


def test_index_refuses_the_wrong_embedder_for_a_collection(
    store_dir: Path, image_dir: Path
) -> None:
    result = refused("index", image_dir, "-c", store_dir / "edgevec.toml", "--collection", "texts")
    assert "holds text vectors, not image vectors" in result.stderr
    assert "Traceback" not in result.output
    wrong_model = refused("index", image_dir, "-c", store_dir / "edgevec.toml", "--collection",
                          "new", "--embedder", "text")  # fmt: skip
    assert "holds images: --embedder text cannot embed them" in wrong_model.stderr
    with edgevec.connect(config=store_dir / "edgevec.toml") as store:
        assert not store.has_collection("new")


# -- search --------------------------------------------------------------------------------------


def test_search_by_image_finds_a_small_copy_of_it(store_dir: Path, tmp_path: Path) -> None:
    thumb = tmp_path / "thumb.jpg"
    Image.open(DATA / "photos/chelsea.png").convert("RGB").resize((225, 150)).save(thumb, "JPEG")
    config = store_dir / "edgevec.toml"
    hits = hits_of(ok("search", thumb, "-c", config, "--collection", "images", "-k", "2", "--json"))
    assert hits.ids[0] == "photos/chelsea.png"
    assert len(hits) == 2
    table = ok("search", thumb, "-c", config, "--collection", "images", "-k", "1").stdout
    assert "chelsea.png" in table
    assert "score" in table


def test_search_by_text_with_a_filter_matches_the_oracle(store_dir: Path) -> None:
    config = store_dir / "edgevec.toml"
    query = sentences(12)[5]
    filt = {"field": "topic", "op": "ne", "value": query["topic"]}
    result = ok("search", query["text"], "-c", config, "--collection", "texts",
                "-k", "4", "--filter", orjson.dumps(filt).decode(), "--json")  # fmt: skip
    from edgevec.embedders import text_embedder

    qvec = text_embedder().embed([query["text"]])[0]
    ids, vectors, payloads = stored(config, "texts")
    assert_hits_match(hits_of(result), ids, vectors, payloads, qvec, 4, "cosine", as_filter(filt))


def test_search_by_npy_vector_matches_the_oracle(store_dir: Path, tmp_path: Path) -> None:
    config = store_dir / "edgevec.toml"
    ids, vectors, payloads = stored(config, "images")
    query = vectors[1] + 0.01
    np.save(tmp_path / "q.npy", query[None, :])  # a (1, dim) row works as well as a vector
    result = ok("search", tmp_path / "q.npy", "-c", config, "--collection", "images", "--json")
    assert_hits_match(hits_of(result), ids, vectors, payloads, query, 5, "cosine")


@pytest.mark.parametrize(
    ("filter_text", "message"),
    [
        ("{nope", "--filter is not JSON"),
        ('{"field": "a", "op": "like", "value": 1}', "unknown operator"),
    ],
)
def test_bad_filter_is_one_red_line_and_exit_2(
    store_dir: Path, filter_text: str, message: str
) -> None:
    result = refused("search", "anything", "-c", store_dir / "edgevec.toml", "--collection",
                     "texts", "--filter", filter_text)  # fmt: skip
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not result.stdout


def test_debug_lets_the_typed_error_through(store_dir: Path) -> None:
    result = cli("--debug", "search", "x", "-c", store_dir / "edgevec.toml", "--collection",
                 "texts", "--filter", "{nope")  # fmt: skip
    assert isinstance(result.exception, InvalidInputError)


def test_missing_collection_is_a_runtime_error(store_dir: Path) -> None:
    result = cli("search", "x", "-c", store_dir / "edgevec.toml", "--collection", "nothing")
    assert result.exit_code == 1
    assert "no collection named 'nothing'" in result.stderr


# -- collections, config, bench --------------------------------------------------------------------


def test_collections_list_info_and_drop(store_dir: Path, tmp_path: Path) -> None:
    config = store_dir / "edgevec.toml"
    source = tmp_path / "two.txt"
    source.write_text("one line\nanother line\n")
    ok("index", source, "-c", config, "--collection", "scratch")
    listed = {
        c["name"]: c["count"]
        for c in orjson.loads(ok("collections", "list", "-c", config, "--json").stdout)
    }
    assert listed["scratch"] == 2
    info = orjson.loads(ok("collections", "info", "scratch", "-c", config, "--json").stdout)
    assert (info["dim"], info["metric"], info["count"]) == (384, "cosine", 2)
    assert info["embedder"].startswith("text:")

    refused = cli("collections", "drop", "scratch", "-c", config, input="n\n")
    assert refused.exit_code == 1
    assert "Drop 'scratch' and its 2 records?" in refused.output
    assert "scratch" in ok("collections", "list", "-c", config).stdout
    ok("collections", "drop", "scratch", "-c", config, "--yes")
    with edgevec.connect(config=config) as store:
        assert not store.has_collection("scratch")
    assert cli("collections", "info", "scratch", "-c", config).exit_code == 1


def test_config_check_validates_and_hides_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(
        "pinecone", reason='needs the pinecone extra: pip install "edgevec[pinecone]"'
    )
    good = tmp_path / "good.toml"
    good.write_text('backend = "pinecone"\n[pinecone]\napi_key = "pc-very-secret"\n'
                    'host = "https://idx.example.pinecone.io"\n')  # fmt: skip
    result = ok("config", "check", good)
    assert "backend 'pinecone'" in result.stdout
    assert "idx.example.pinecone.io" in result.stdout
    assert "pc-very-secret" not in result.output
    assert "**********" in result.stdout

    monkeypatch.setenv("PC_KEY", "pc-from-env")
    by_env = tmp_path / "env.toml"
    by_env.write_text('backend = "pinecone"\n[pinecone]\napi_key = { env = "PC_KEY" }\n'
                      'host = "https://idx.example.pinecone.io"\n')  # fmt: skip
    result = ok("config", "check", by_env)
    assert "from $PC_KEY" in result.stdout
    assert "pc-from-env" not in result.output

    pytest.importorskip("starlette", reason='needs the server extra: pip install "edgevec[server]"')
    served = tmp_path / "served.toml"
    served.write_text(good.read_text() + '[service]\ncollection = "c"\napi_keys = ["svc-secret"]\n')
    result = ok("config", "check", served)
    assert re.search(r"\[service\] api_keys\s*│\s*1 key\(s\)", result.stdout), result.stdout
    assert "svc-secret" not in result.output

    result = config_refused(
        tmp_path, 'backend = "pinecone"\n[pinecone]\napi_key = "pc-very-secret"\nhots = "x"\n'
    )
    assert "unknown option 'hots'" in result.stderr
    assert "valid options:" in result.stderr
    assert "pc-very-secret" not in result.output


def test_config_check_masks_secrets_inside_nested_tables() -> None:
    """A router's regions reach ``config check`` as plain tables, not as models' SecretStr."""
    regions = {
        "us": {"backend": "qdrant", "url": "https://us.example", "api_key": "s3cret"},
        "eu": {"backend": "pinecone", "api_key": {"env": "EU_KEY"}, "tokens": ["t0k3n"]},
    }
    ((name, shown),) = describe({"regions": regions}, validated=None)
    assert name == "regions"
    assert "s3cret" not in shown
    assert "t0k3n" not in shown
    assert "'api_key': from $EU_KEY" in shown
    assert "'url': 'https://us.example'" in shown


def test_config_check_shows_the_layers_connect_adds(tmp_path: Path) -> None:
    layered = tmp_path / "layered.toml"
    layered.write_text('backend = "faiss"\ntelemetry = true\n[cache]\nttl = 5\n')
    result = ok("config", "check", layered)
    assert re.search(r"layer cache\s*│\s*CacheOptions\(ttl=5.0", result.stdout), result.stdout
    assert re.search(r"layer telemetry\s*│\s*True", result.stdout)
    result = config_refused(tmp_path, 'backend = "faiss"\n[cache]\nttl = -1\n')
    assert "store layers (cache, telemetry)" in result.stderr


def test_config_check_names_a_file_that_is_not_toml(tmp_path: Path) -> None:
    result = config_refused(tmp_path, "backend = \n")
    assert "is not valid TOML" in result.stderr


def test_bench_measures_and_drops_its_scratch_collection(store_dir: Path) -> None:
    config = store_dir / "edgevec.toml"
    with edgevec.connect(config=config) as store:
        before = store.list_collections()
    result = ok("bench", "-c", config, "--count", "300", "--dim", "16", "--queries", "20",
                "--batch-size", "100", "--json")  # fmt: skip
    report = orjson.loads(result.stdout)
    assert set(report["results"]) == {"edgevec", "raw FAISS"}
    for figures in report["results"].values():
        assert figures["upsert_per_s"] > 0
        assert 0 < figures["query_p50_ms"] <= figures["query_p95_ms"] <= figures["query_p99_ms"]
    assert report["setup"]["vectors"].startswith("synthetic: 300 x 16")
    assert report["setup"]["faiss_index"] == "flat"
    assert report["setup"]["faiss_threads"] >= 1
    with edgevec.connect(config=config) as store:
        assert store.list_collections() == before


def test_demo_into_a_folder_it_cannot_write_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the demo's folder would go")
    result = refused("demo", "--dir", blocker / "demo")
    assert result.stderr.startswith(f"error: cannot write the demo store in {blocker / 'demo'}")


def test_version_and_help() -> None:
    assert ok("--version").stdout.strip() == f"edgevec {edgevec.__version__}"
    assert cli().exit_code in (0, 2)  # no command: typer shows the help
    assert "demo" in cli("--help").stdout
