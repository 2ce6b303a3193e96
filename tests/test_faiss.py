"""FAISS specifics on the real library: persistence, crash recovery, corruption, tombstones."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from edgevec import (
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigError,
    CorruptDataError,
    F,
    Metric,
    Record,
    StoreClosedError,
)
from edgevec.testing import assert_hits_match, oracle_topk, recall_at_k


def _data(
    n: int, dim: int, seed: int = 0
) -> tuple[list[str], np.ndarray[Any, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    return (
        [f"id{i}" for i in range(n)],
        rng.normal(size=(n, dim)).astype(np.float32),
        [{"i": i, "even": i % 2 == 0} for i in range(n)],
    )


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_close_and_reopen_keeps_everything(tmp_path: Path, index: str) -> None:
    ids, vecs, pays = _data(300, 16)
    with edgevec.connect("faiss", path=str(tmp_path), index=index) as store:
        coll = store.create_collection("items", 16, "l2")
        coll.upsert_arrays(ids, vecs, pays)
        coll.delete(ids=["id5"])
        before = coll.query(vecs[0], k=10, filter=F("even") == True)  # noqa: E712
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        assert store.list_collections() == ["items"]
        coll = store.collection("items")
        assert (coll.dim, coll.metric, coll.count()) == (16, "l2", 299)
        assert coll.spec.options["index"] == index  # the collection keeps its own index kind
        after = coll.query(vecs[0], k=10, filter=F("even") == True)  # noqa: E712
        assert after.ids == before.ids
        (rec,) = coll.get(["id7"])
        np.testing.assert_array_equal(rec.vector, vecs[7])
        assert rec.payload == pays[7]
        if index == "hnsw":
            assert (tmp_path / "items" / "hnsw.index").is_file(), "the HNSW graph is saved"


def test_acknowledged_writes_survive_a_crash(tmp_path: Path) -> None:
    """A process that is killed after upsert returned loses nothing (each write is committed)."""
    script = f"""
import os, numpy as np, edgevec
store = edgevec.connect("faiss", path={str(tmp_path)!r})
coll = store.create_collection("c", 4, "dot")
pays = [{{"n": 1}}, {{"n": 2}}, {{"n": 3}}]
coll.upsert_arrays(["a", "b", "c"], np.eye(3, 4, dtype=np.float32), pays)
coll.delete(ids=["b"])
coll.upsert([edgevec.Record("a", np.ones(4, np.float32), {{"n": 9}})])
os._exit(0)  # no close()
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll = store.collection("c")
        assert sorted(r.id for r in coll.get(["a", "b", "c"])) == ["a", "c"]
        assert coll.get(["a"])[0].payload == {"n": 9}
        np.testing.assert_array_equal(coll.get(["a"])[0].vector, np.ones(4))


def _persisted(root: Path, n: int = 50, index: str = "flat") -> tuple[list[str], Any, Any]:
    ids, vecs, pays = _data(n, 8)
    with edgevec.connect("faiss", path=str(root), index=index) as store:
        store.create_collection("c", 8, "cosine").upsert_arrays(ids, vecs, pays)
    return ids, vecs, pays


def _sql(db: Path, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute(statement)


@pytest.mark.parametrize(
    "damage", ["row-vector", "row-payload", "lost-row", "meta-ef-search", "not-a-db", "empty-db"]
)
def test_damaged_records_are_an_error_not_different_data(tmp_path: Path, damage: str) -> None:
    """Edits SQLite itself cannot see (it has no row checksums) are caught by edgevec's own."""
    _persisted(tmp_path)
    db = tmp_path / "c" / "records.sqlite"
    if damage == "row-vector":
        _sql(db, "UPDATE rows SET vector = zeroblob(32) WHERE id = 'id3'")
    elif damage == "row-payload":
        _sql(db, """UPDATE rows SET payload = CAST('{"i":4}' AS BLOB) WHERE id = 'id3'""")
    elif damage == "lost-row":
        _sql(db, "DELETE FROM rows WHERE id = 'id3'")
    elif damage == "meta-ef-search":  # a flip must not silently change a search parameter
        _sql(db, "UPDATE meta SET value = replace(value, '64', '65') WHERE key = 'collection'")
    elif damage == "not-a-db":
        db.write_bytes(b"garbage" * 100)
    else:
        db.write_bytes(b"")
    with edgevec.connect("faiss", path=str(tmp_path)) as store, pytest.raises(CorruptDataError):
        store.collection("c")


def test_a_lost_database_is_corrupt_data_never_an_empty_or_new_collection(tmp_path: Path) -> None:
    _persisted(tmp_path, index="hnsw")
    (tmp_path / "c" / "records.sqlite").unlink()  # the graph cache is still there
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        assert store.list_collections() == ["c"]  # still there, and damaged
        with pytest.raises(CorruptDataError, match=r"lost its records\.sqlite"):
            store.collection("c")
        with pytest.raises(CorruptDataError, match=r"lost its records\.sqlite"):
            store.create_collection("c", 8, "cosine", exist_ok=True)
        assert (tmp_path / "c" / "hnsw.index").is_file()  # nothing was overwritten
        store.drop_collection("c")  # the way out, once the loss is accepted
        assert store.create_collection("c", 8, "cosine").count() == 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "symlink", "wrong-rows", "wrong-metric"])
def test_a_bad_hnsw_cache_is_rebuilt_from_the_rows(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    ids, vecs, pays = _persisted(tmp_path / "s", n=200, index="hnsw")
    cache = tmp_path / "s" / "c" / "hnsw.index"
    raw = cache.read_bytes()
    if damage == "flip":
        cache.write_bytes(raw[:-100] + bytes([raw[-100] ^ 1]) + raw[-99:])
    elif damage == "truncate":
        cache.write_bytes(raw[: len(raw) // 2])
    elif damage == "symlink":
        (tmp_path / "elsewhere").write_bytes(raw)
        cache.unlink()
        cache.symlink_to(tmp_path / "elsewhere")
    else:  # a valid cache of other rows, or of the same rows under another metric
        other_ids, other_vecs, other_pays = _data(200, 8, seed=1 if damage == "wrong-rows" else 0)
        with edgevec.connect("faiss", path=str(tmp_path / "o"), index="hnsw") as store:
            coll = store.create_collection("c", 8, "cosine" if damage == "wrong-rows" else "l2")
            coll.upsert_arrays(other_ids, other_vecs, other_pays)
        cache.write_bytes((tmp_path / "o" / "c" / "hnsw.index").read_bytes())
    with edgevec.connect("faiss", path=str(tmp_path / "s")) as store:
        coll = store.collection("c")
        for q in vecs[:3]:
            assert_hits_match(coll.query(q, k=10), ids, vecs, pays, q, 10, "cosine")
        assert coll.count() == 200
    if damage != "wrong-rows":
        assert "rebuilding the graph" in caplog.text


def test_a_stale_hnsw_cache_is_reused_for_the_rows_it_still_matches(tmp_path: Path) -> None:
    """After a crash the graph lags the rows: matching slots are kept, the rest re-inserted."""
    ids, vecs, pays = _persisted(tmp_path, n=300, index="hnsw")
    script = f"""
import os, numpy as np, edgevec
store = edgevec.connect("faiss", path={str(tmp_path)!r})
coll = store.collection("c")
coll.delete(ids=["id0", "id1"])
coll.upsert_arrays(["id2", "new"], np.ones((2, 8), np.float32), [{{"x": 1}}, {{"x": 2}}])
os._exit(0)  # the saved graph now lags two deletes and two upserts
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    ids = [*ids[2:], "new"]
    vecs = np.vstack([vecs[2:], np.ones((1, 8), np.float32)])
    vecs[0] = 1
    pays = [{"x": 1}, *pays[3:], {"x": 2}]
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll: Any = store.collection("c")
        assert coll._dead == 3, "the 300 saved slots are reused, 3 of them outdated"
        assert coll._index.ntotal == 302
        for q in (vecs[0], vecs[50], vecs[-1]):
            assert_hits_match(coll.query(q, k=10), ids, vecs, pays, q, 10, "cosine")
        assert coll.count() == 299


def test_symlinked_database_is_refused(tmp_path: Path) -> None:
    _persisted(tmp_path / "s")
    db = tmp_path / "s" / "c" / "records.sqlite"
    db.rename(tmp_path / "outside.sqlite")
    db.symlink_to(tmp_path / "outside.sqlite")
    with edgevec.connect("faiss", path=str(tmp_path / "s")) as store:
        assert store.list_collections() == []  # a symlink is not a collection
        with pytest.raises(CollectionNotFoundError):
            store.collection("c")
        with pytest.raises(ConfigError, match="not an edgevec collection"):
            store.create_collection("c", 8)
    assert (tmp_path / "outside.sqlite").stat().st_size > 0


def test_stray_entries_are_not_collections(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "bad name").mkdir()
    (tmp_path / ".dropped-old-1").mkdir()  # a drop interrupted by a crash
    (tmp_path / ".creating-new-1").mkdir()
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        assert store.list_collections() == []
        assert not store.has_collection("notes")
        store.create_collection("c", 4)
        assert store.list_collections() == ["c"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".lock", "bad name", "c", "notes", "readme.txt"]


def test_old_format_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "old" / "snap-000001").mkdir(parents=True)
    (tmp_path / "old" / "CURRENT").write_text("snap-000001")
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        assert store.list_collections() == ["old"]
        with pytest.raises(ConfigError, match="format 1"):
            store.collection("old")
        store.drop_collection("old")
        assert store.list_collections() == []


@pytest.mark.parametrize("bad", ["file", "nul"])
def test_path_must_be_a_directory(tmp_path: Path, bad: str) -> None:
    (tmp_path / "f").write_text("not a directory")
    path = str(tmp_path / "f") if bad == "file" else str(tmp_path) + "/a\0b"
    with pytest.raises(ConfigError, match="path"):
        edgevec.connect("faiss", path=path)


def test_paths_with_uri_characters_work(tmp_path: Path) -> None:
    path = tmp_path / "a?mode=ro#x %41"
    _persisted(path)
    with edgevec.connect("faiss", path=str(path)) as store:
        assert store.collection("c").count() == 50


@pytest.mark.parametrize("persisted", [True, False])
def test_handles_of_a_closed_store_refuse_calls(tmp_path: Path, persisted: bool) -> None:
    store = edgevec.connect("faiss", **({"path": str(tmp_path)} if persisted else {}))
    coll = store.create_collection("c", 4)
    coll.upsert([Record("a", np.ones(4, np.float32))])
    store.close()
    with pytest.raises(StoreClosedError):
        coll.upsert([Record("late", np.ones(4, np.float32))])
    with pytest.raises(StoreClosedError):
        coll.delete(ids=["a"])
    with pytest.raises(StoreClosedError):
        coll.query(np.ones(4, np.float32))
    if persisted:
        with edgevec.connect("faiss", path=str(tmp_path)) as again:
            assert [r.id for r in again.collection("c").get(["a", "late"])] == ["a"]


def test_a_dropped_collection_handle_refuses_writes(tmp_path: Path) -> None:
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll = store.create_collection("c", 4)
        store.drop_collection("c")
        with pytest.raises(CollectionNotFoundError):
            coll.upsert([Record("a", np.ones(4, np.float32))])
        assert store.list_collections() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]


def test_one_store_per_directory(tmp_path: Path) -> None:
    with (
        edgevec.connect("faiss", path=str(tmp_path)),
        pytest.raises(BackendUnavailableError, match="in use"),
    ):
        edgevec.connect("faiss", path=str(tmp_path))
    edgevec.connect("faiss", path=str(tmp_path)).close()  # released on close


def test_hnsw_tombstones_compact_and_stay_correct() -> None:
    ids, vecs, pays = _data(1000, 16, seed=3)
    store = edgevec.connect("faiss", index="hnsw", compact_fraction=0.2)
    coll = store.create_collection("c", 16, "cosine")
    coll.upsert_arrays(ids, vecs, pays)
    coll.delete(filter=F("i") < 600)
    assert coll.count() == 400
    assert coll._index.ntotal == 400, "tombstones past compact_fraction trigger a rebuild"  # type: ignore[attr-defined]
    # Overwrites tombstone the old slot too; churn must not leak results.
    coll.upsert_arrays(ids[600:700], vecs[600:700] * 2, pays[600:700])
    live_ids, live_vecs, live_pays = ids[600:], vecs[600:].copy(), pays[600:]
    live_vecs[:100] *= 2
    for q in vecs[:5]:
        hits = coll.query(q, k=5, filter=F("even") == True)  # noqa: E712
        assert all(int(h.id[2:]) >= 600 and int(h.id[2:]) % 2 == 0 for h in hits)
    exact = edgevec.connect("faiss").create_collection("e", 16, "cosine")
    exact.upsert_arrays(live_ids, live_vecs, live_pays)
    assert_hits_match(
        exact.query(vecs[1], k=10), live_ids, live_vecs, live_pays, vecs[1], 10, "cosine"
    )


def test_index_options_are_validated() -> None:
    store = edgevec.connect("faiss")
    with pytest.raises(ConfigError, match="index"):
        store.create_collection("c", 4, index="annoy")
    with pytest.raises(ConfigError, match="hnsw_m"):
        store.create_collection("c", 4, hnsw_m=1)
    with pytest.raises(ConfigError):
        edgevec.connect("faiss", ef_search=0)


def test_concurrent_writers_and_readers() -> None:
    coll = edgevec.connect("faiss", index="hnsw").create_collection("c", 8, "l2")
    rng = np.random.default_rng(5)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for b in range(10):
                ids = [f"t{t}-{b}-{i}" for i in range(20)]
                coll.upsert_arrays(ids, rng.normal(size=(20, 8)).astype(np.float32))
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                coll.query(np.ones(8, np.float32), k=5, filter=F("x").exists() | (F("y") != 1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert coll.count() == 600


def test_explain_shows_the_plan() -> None:
    coll = edgevec.connect("faiss", index="hnsw").create_collection("c", 4)
    text = coll.explain(F("a") == 1)
    assert text.startswith("a == 1")
    assert "exact scan" in text


def test_records_keep_original_vectors_under_cosine() -> None:
    coll = edgevec.connect("faiss").create_collection("c", 3, "cosine")
    coll.upsert([Record("a", np.array([3, 4, 0], np.float32))])
    vec = coll.get(["a"])[0].vector
    assert vec is not None
    np.testing.assert_allclose(vec, [3, 4, 0], rtol=1e-6)
    assert abs(coll.query(np.array([6, 8, 0], np.float32), k=1)[0].score - 1.0) < 1e-6


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_narrow_filters_on_hnsw_switch_to_an_exact_scan(metric: Metric) -> None:
    rng = np.random.default_rng(8)
    ids = [str(i) for i in range(3000)]
    vecs = rng.normal(size=(3000, 16)).astype(np.float32)
    pays = [{"b": float(x)} for x in rng.random(3000)]
    coll = edgevec.connect("faiss", index="hnsw").create_collection("c", 16, metric)
    coll.upsert_arrays(ids, vecs, pays)
    for share in (0.005, 0.04):  # both under exact_fraction (5 %): results must be exact
        flt = F("b") < share
        q = rng.normal(size=16).astype(np.float32)
        assert_hits_match(coll.query(q, k=10, filter=flt), ids, vecs, pays, q, 10, metric, flt)


def test_broad_filters_on_hnsw_keep_recall_through_a_wider_beam() -> None:
    """With the exact scan switched off, the graph walk under a bitmap keeps recall@10."""
    rng = np.random.default_rng(9)
    n, dim = 4000, 24
    ids = [str(i) for i in range(n)]
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    pays = [{"b": float(x)} for x in rng.random(n)]
    store = edgevec.connect("faiss", index="hnsw", exact_rows=0, exact_fraction=0.0, ef_search=32)
    coll = store.create_collection("c", dim, "l2")
    coll.upsert_arrays(ids, vecs, pays)
    assert "widened" in coll.explain(F("b") < 0.3)
    qs = rng.normal(size=(30, dim)).astype(np.float32)
    for share in (0.1, 0.3):
        flt = F("b") < share
        got = [h.ids for h in coll.query_batch(qs, k=10, filter=flt)]
        truth = [[i for i, _ in oracle_topk(ids, vecs, pays, q, 10, "l2", flt)] for q in qs]
        assert recall_at_k(got, truth) >= 0.95
