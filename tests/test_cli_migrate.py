"""``edgevec migrate`` between real engines: FAISS -> Qdrant local mode -> Milvus Lite.

The copies verify; a target that lacks a record fails verification with exit status 1; a rerun
writes only what is missing. Needs the cli, faiss, qdrant and milvus extras; skips without them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

pytest.importorskip("typer", reason='needs the cli extra: pip install "edgevec[cli]"')
pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')
pytest.importorskip("qdrant_client", reason='needs the qdrant extra: pip install "edgevec[qdrant]"')
pytest.importorskip("pymilvus", reason='needs the milvus extra: pip install "edgevec[milvus]"')


import edgevec
from tests.cli_support import clear_edgevec_env, cli

N = 40


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A FAISS store holding ``items`` (N records, payloads), and empty Qdrant and Milvus ones."""
    clear_edgevec_env(monkeypatch)
    tables = {
        "faiss": f'path = "{(tmp_path / "faiss").as_posix()}"',
        "qdrant": f'path = "{(tmp_path / "qdrant").as_posix()}"',
        "milvus": f'uri = "{(tmp_path / "milvus.db").as_posix()}"',
    }
    files = {}
    for backend, table in tables.items():
        files[backend] = tmp_path / f"{backend}.toml"
        files[backend].write_text(f'backend = "{backend}"\n[{backend}]\n{table}\n')
    vectors = np.random.default_rng(3).standard_normal((N, 16)).astype(np.float32)
    with edgevec.connect(config=files["faiss"]) as store:
        coll = store.create_collection("items", dim=16, metric="cosine")
        payloads = [{"n": i, "tag": "even" if i % 2 == 0 else "odd"} for i in range(N)]
        coll.upsert_arrays([f"id-{i}" for i in range(N)], vectors, payloads)
    return files


def test_migrate_faiss_to_qdrant_to_milvus_verifies_and_a_gap_fails(
    configs: dict[str, Path],
) -> None:
    for src, dst in [("faiss", "qdrant"), ("qdrant", "milvus")]:
        result = cli("migrate", "--from", configs[src], "--to", configs[dst],
                     "--collection", "items", "--batch-size", "16", "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        summary = orjson.loads(result.stdout)
        assert (summary["read"], summary["written"]) == (N, N)
        assert summary["verification"].startswith(f"verified: {N} records")
    with edgevec.connect(config=configs["milvus"]) as store:
        coll = store.collection("items")
        assert coll.get(["id-7"])[0].payload == {"n": 7, "tag": "odd"}
        coll.delete(ids=["id-7"])

    gap = cli("migrate", "--from", configs["qdrant"], "--to", configs["milvus"],
              "--collection", "items", "--verify-only", "--verify-sample", str(N))  # fmt: skip
    assert gap.exit_code == 1
    assert gap.stderr.startswith("error: verification failed")
    assert f"source has {N} records, target {N - 1}" in gap.stderr
    assert "'id-7'" in gap.stderr

    resumed = cli("migrate", "--from", configs["qdrant"], "--to", configs["milvus"],
                  "--collection", "items", "--json")  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert orjson.loads(resumed.stdout)["written"] == 1


def test_migrate_into_a_target_with_extra_records_fails_verification(
    configs: dict[str, Path],
) -> None:
    with edgevec.connect(config=configs["qdrant"]) as store:
        extra = store.create_collection("items", dim=16, metric="cosine")
        extra.upsert_arrays(["stray"], np.ones((1, 16), np.float32))
    result = cli("migrate", "--from", configs["faiss"], "--to", configs["qdrant"],
                 "--collection", "items")  # fmt: skip
    assert result.exit_code == 1
    assert f"source has {N} records, target {N + 1}" in result.stderr
