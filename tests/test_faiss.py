"""FAISS specifics on the real library: persistence, crash recovery, corruption, tombstones."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from edgevec import BackendUnavailableError, ConfigError, CorruptDataError, F, Metric, Record
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
            snaps = list(tmp_path.glob("items/snap-*/index.bin"))
            assert snaps, "HNSW graph is saved, not rebuilt on load"


def test_acknowledged_writes_survive_a_crash(tmp_path: Path) -> None:
    """A process that is killed after upsert returned loses nothing (write-ahead log replay)."""
    script = f"""
import os, numpy as np, edgevec
store = edgevec.connect("faiss", path={str(tmp_path)!r})
coll = store.create_collection("c", 4, "dot")
pays = [{{"n": 1}}, {{"n": 2}}, {{"n": 3}}]
coll.upsert_arrays(["a", "b", "c"], np.eye(3, 4, dtype=np.float32), pays)
coll.delete(ids=["b"])
coll.upsert([edgevec.Record("a", np.ones(4, np.float32), {{"n": 9}})])
os._exit(0)  # no close(): no snapshot was written after the first
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    assert list(tmp_path.glob("c/wal-*.log"))
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll = store.collection("c")
        assert sorted(r.id for r in coll.get(["a", "b", "c"])) == ["a", "c"]
        assert coll.get(["a"])[0].payload == {"n": 9}
        np.testing.assert_array_equal(coll.get(["a"])[0].vector, np.ones(4))


def test_torn_log_tail_is_dropped(tmp_path: Path) -> None:
    with edgevec.connect("faiss", path=str(tmp_path)) as first:
        first.create_collection("c", 4, "dot")
    store: Any = edgevec.connect("faiss", path=str(tmp_path))
    coll = store.collection("c")
    coll.upsert_arrays(["a"], np.ones((1, 4), np.float32))
    wal = next(tmp_path.glob("c/wal-*.log"))
    coll._wal.close()  # abandon without checkpoint, as a crash would
    store._collections.clear()
    store._dir_lock.release()
    store._dir_lock = None
    good = wal.read_bytes()
    wal.write_bytes(good + good[: len(good) // 2])  # a second append cut off mid-way
    with edgevec.connect("faiss", path=str(tmp_path)) as reopened:
        assert reopened.collection("c").count() == 1


@pytest.mark.parametrize(
    "damage",
    ["flip-vectors", "truncate-records", "drop-meta", "bad-current", "meta-count"],
)
def test_corrupt_snapshot_is_an_error_not_an_empty_store(tmp_path: Path, damage: str) -> None:
    ids, vecs, pays = _data(50, 8)
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        store.create_collection("c", 8, "cosine").upsert_arrays(ids, vecs, pays)
    snap = next(tmp_path.glob("c/snap-*"))
    if damage == "flip-vectors":
        flipped = bytearray((snap / "vectors.npy").read_bytes())
        flipped[-5] ^= 0xFF
        (snap / "vectors.npy").write_bytes(bytes(flipped))
    elif damage == "truncate-records":
        raw = (snap / "records.jsonl").read_bytes()
        (snap / "records.jsonl").write_bytes(raw[: len(raw) // 2])
    elif damage == "drop-meta":
        (snap / "meta.json").unlink()
    elif damage == "bad-current":
        (tmp_path / "c" / "CURRENT").write_text("garbage")
    else:
        meta = (snap / "meta.json").read_text().replace('"count": 50', '"count": 49')
        (snap / "meta.json").write_text(meta)
    with edgevec.connect("faiss", path=str(tmp_path)) as store, pytest.raises(CorruptDataError):
        store.collection("c")


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
