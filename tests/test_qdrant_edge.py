"""Qdrant Edge specifics on the real engine: how ids, scores, vectors and declared fields land in
the shard, the optimize policy, search params, locks, the async shell, and two quirks of
qdrant-edge-py 0.9 that the backend works around (pinned here, so a new version is noticed)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

pytest.importorskip(
    "qdrant_edge", reason='Qdrant Edge extra not installed: pip install "edgevec[qdrant-edge]"'
)

import qdrant_edge as qe  # after the skip guard

import edgevec
from edgevec import F, Record
from edgevec.backends._qdrant_codec import ID_NAMESPACE, RESERVED_KEY
from edgevec.backends.qdrant_edge import AsyncQdrantEdgeCollection, QdrantEdgeCollection
from edgevec.errors import (
    BackendUnavailableError,
    CollectionNotFoundError,
    CorruptDataError,
    InvalidInputError,
    StoreClosedError,
)
from edgevec.testing import assert_hits_match
from edgevec.testing.oracle import exact_scores

DIM = 8


def _rand(n: int, seed: int, dim: int = DIM) -> Any:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _raw(shard_dir: Path) -> Any:
    """The collection's shard opened with the engine's own API (the store must be closed)."""
    return qe.EdgeShard.load(str(shard_dir))


def test_ids_scores_and_vectors_as_the_engine_holds_them(tmp_path: Path) -> None:
    vecs = _rand(3, 1) * 5
    with edgevec.connect("qdrant_edge", path=str(tmp_path)) as store:
        cos = store.create_collection("cos", DIM, "cosine")
        cos.upsert_arrays(["ü/ 🙂", "1", "x" * 512], vecs, [{"k": 1}, None, {"k": 3}])
        l2 = store.create_collection("l2", DIM, "l2")
        l2.upsert_arrays(["a", "b", "c"], vecs)
        hits = l2.query(vecs[0] + 1, k=3)
        want = exact_scores(vecs, vecs[0] + 1, "l2")
        np.testing.assert_allclose(sorted(h.score for h in hits), sorted(want), atol=1e-4)
        assert all(h.score < 0 for h in hits)  # -distance, never the distance itself
        got = cos.get(["1", "ü/ 🙂"])
        assert [r.id for r in got] == ["1", "ü/ 🙂"]
        assert got[0].vector is not None
        np.testing.assert_allclose(got[0].vector, vecs[1], rtol=1e-6)  # as written, not unit
        assert got[1].payload == {"k": 1}
    shard = _raw(tmp_path / "cos" / "shard")
    try:
        pid = uuid.uuid5(ID_NAMESPACE, "ü/ 🙂")
        (point,) = shard.retrieve([str(pid)], True, True)
        assert point.id == pid
        assert point.payload[RESERVED_KEY]["id"] == "ü/ 🙂"
        norm = point.payload[RESERVED_KEY]["norm"]
        assert norm == pytest.approx(float(np.linalg.norm(vecs[0].astype(np.float64))))
        assert np.linalg.norm(point.vector) == pytest.approx(1.0, abs=1e-6)  # the engine's copy
    finally:
        shard.close()


def test_reserved_key_and_inexact_floats_write_nothing() -> None:
    with edgevec.connect("qdrant_edge") as store:
        coll = store.create_collection("c", DIM, "dot")
        for bad in ({RESERVED_KEY: {"id": "x"}}, {"f": [0.5, 0.1 + 0.2, 1e-30]}):
            with pytest.raises(InvalidInputError):
                coll.upsert_arrays(["ok", "bad"], _rand(2, 2), [{"f": 0.5}, bad])
            assert coll.count() == 0
        ok = {"f": 0.1 + 0.2, "g": 1e22, "h": 2.5e-7}  # read exactly, though 17 digits long
        coll.upsert_arrays(["ok"], _rand(1, 2), [ok])
        assert coll.get(["ok"])[0].payload == ok
        with pytest.raises(InvalidInputError, match=r"payload #0 .*\['f'\]"):
            coll.upsert_arrays(["x"], _rand(1, 3), [{"f": 0.09999999999999999}])


def test_persisted_across_processes_with_its_spec_and_field_indexes(tmp_path: Path) -> None:
    writer = f"""
import numpy as np, edgevec
with edgevec.connect("qdrant_edge", path={str(tmp_path)!r}) as store:
    coll = store.create_collection(
        "items", 8, "l2", fields={{"label": "int", "tags": "keyword[]"}}, index="flat"
    )
    vecs = np.random.default_rng(4).normal(size=(50, 8)).astype(np.float32)
    coll.upsert_arrays([f"r{{i}}" for i in range(50)], vecs,
                       [{{"label": i % 5, "tags": ["t" + str(i % 3)]}} for i in range(50)])
    coll.delete(ids=["r0", "r1"])
"""
    subprocess.run([sys.executable, "-c", writer], check=True, timeout=120)
    vecs = _rand(50, 4)
    ids = [f"r{i}" for i in range(50)]
    pays = [{"label": i % 5, "tags": [f"t{i % 3}"]} for i in range(50)]
    # Reopened with a thread count: the engine then needs the whole config on load.
    with edgevec.connect("qdrant_edge", path=str(tmp_path), search_threads=1) as store:
        coll = store.collection("items")
        assert (coll.dim, coll.metric, dict(coll.spec.fields)) == (
            8, "l2", {"label": "int", "tags": "keyword[]"}
        )  # fmt: skip
        assert coll.spec.options["index"] == "flat"
        assert coll.count() == 48
        flt = (F("label") == 2) & (F("tags") == "t1")
        assert_hits_match(coll.query(vecs[7], k=5, filter=flt), ids[2:], vecs[2:], pays[2:],
                          vecs[7], 5, "l2", flt)  # fmt: skip
    shard = _raw(tmp_path / "items" / "shard")
    try:
        assert set(shard.info().payload_schema) == {"label", "tags"}
    finally:
        shard.close()
    saved = orjson.loads((tmp_path / "items" / "shard" / "edge_config.json").read_bytes())
    assert saved["max_search_threads"] == 1


def test_optimize_builds_the_graph_explicitly_and_by_policy(tmp_path: Path) -> None:
    vecs = _rand(300, 5)
    ids = [f"v{i}" for i in range(300)]
    opts: dict[str, Any] = {"full_scan_threshold_kb": 1, "hnsw_m": 8, "ef_construct": 32}
    with edgevec.connect("qdrant_edge", path=str(tmp_path), **opts) as store:
        manual = store.create_collection("manual", DIM, "l2", optimize_after=None)
        auto = store.create_collection("auto", DIM, "l2", optimize_after=200)
        flat = store.create_collection("flat", DIM, "l2", index="flat")
        assert isinstance(manual, QdrantEdgeCollection)
        assert isinstance(flat, QdrantEdgeCollection)
        for coll in (manual, auto, flat):
            coll.upsert_arrays(ids[:150], vecs[:150])
            coll.upsert_arrays(ids[150:], vecs[150:])  # auto: 300 >= 200 written, optimizes
        assert manual.optimize() is True
        assert flat.optimize() is False  # never indexed
        assert not flat.capabilities.search_params
        assert flat.capabilities.exact
        q = vecs[3] + 0.1
        want = exact_scores(vecs, q, "l2")
        for coll in (manual, auto):
            assert coll.capabilities.search_params == {"ef", "exact"}
            exact = coll.query(q, k=10, params={"exact": True})
            np.testing.assert_allclose([h.score for h in exact], sorted(want)[::-1][:10], atol=1e-4)
            assert len(coll.query(q, k=10, params={"ef": 16})) == 10
    indexed = {}
    for name in ("manual", "auto", "flat"):
        shard = _raw(tmp_path / name / "shard")
        try:
            indexed[name] = shard.info().indexed_vectors_count
        finally:
            shard.close()
    assert indexed == {"manual": 300, "auto": 300, "flat": 0}


def test_filters_on_undeclared_fields_search_exactly_declared_ones_use_the_graph() -> None:
    """The engine walks the graph checking a filter on an unindexed field (measured recall@10
    0.75 at 20 % selectivity), so the backend scans exactly there unless ``ef`` is given."""
    vecs = _rand(600, 6)
    ids = [f"v{i}" for i in range(600)]
    pays = [{"b": i % 5, "d": i % 5} for i in range(600)]
    q = _rand(5, 9)
    opts: dict[str, Any] = {
        "full_scan_threshold_kb": 1, "optimize_after": 600, "hnsw_m": 4, "ef_construct": 8,
    }  # fmt: skip
    with edgevec.connect("qdrant_edge", **opts) as store:
        coll = store.create_collection("c", DIM, "l2", fields={"d": "int"}, quantization="int8")
        coll.upsert_arrays(ids, vecs, pays)
        for flt in (F("b") == 1, (F("d") == 1) & (F("b") < 2)):
            for row in q:
                assert_hits_match(coll.query(row, k=10, filter=flt), ids, vecs, pays, row, 10,
                                  "l2", flt)  # fmt: skip
        assert "exact scan" in coll.explain(F("b") == 1)
        assert "exact scan" not in coll.explain(F("d") == 1)
        hits = coll.query_batch(q, k=10, filter=F("d") == 1)  # declared: the engine's plan
        assert all(len(h) == 10 and all(x.payload["d"] == 1 for x in h) for h in hits)


def test_acorn_is_a_collection_option() -> None:
    with edgevec.connect("qdrant_edge", acorn=True, full_scan_threshold_kb=1) as store:
        coll = store.create_collection("c", DIM, "cosine", optimize_after=100)
        coll.upsert_arrays([f"v{i}" for i in range(100)], _rand(100, 8))
        assert coll.spec.options["acorn"] is True
        assert len(coll.query(_rand(1, 9)[0], k=5, params={"ef": 32})) == 5


def test_a_shard_open_elsewhere_is_a_typed_lock_error(tmp_path: Path) -> None:
    with edgevec.connect("qdrant_edge", path=str(tmp_path)) as store:
        store.create_collection("c", DIM, "dot")
        with pytest.raises(BackendUnavailableError, match="in use by another edgevec store"):
            edgevec.connect("qdrant_edge", path=str(tmp_path))
    held = _raw(tmp_path / "c" / "shard")  # the engine's own lock on the WAL: WouldBlock
    try:
        with (
            edgevec.connect("qdrant_edge", path=str(tmp_path)) as store,
            pytest.raises(BackendUnavailableError, match="open elsewhere"),
        ):
            store.collection("c")
    finally:
        held.close()
    with edgevec.connect("qdrant_edge", path=str(tmp_path)) as store:
        assert store.collection("c").count() == 0


def test_damaged_collections_are_corrupt_not_empty(tmp_path: Path) -> None:
    with edgevec.connect("qdrant_edge", path=str(tmp_path)) as store:
        for name in ("meta", "gone", "config"):
            store.create_collection(name, DIM, "dot").upsert_arrays(["a"], _rand(1, 0))
    (tmp_path / "meta" / "edgevec.json").write_bytes(b'{"dim": 8')
    (tmp_path / "gone" / "edgevec.json").unlink()
    (tmp_path / "config" / "shard" / "edge_config.json").write_bytes(b"\x00garbage")
    with edgevec.connect("qdrant_edge", path=str(tmp_path)) as store:
        assert store.list_collections() == ["config", "gone", "meta"]  # damaged, still listed
        for name in ("meta", "gone", "config"):
            with pytest.raises(CorruptDataError):
                store.collection(name)
            store.drop_collection(name)  # and droppable
        assert store.list_collections() == []


def test_memory_store_lives_in_a_temp_dir_removed_on_close() -> None:
    store = edgevec.connect("qdrant_edge")
    coll = store.create_collection("c", DIM, "l2")
    coll.upsert([Record("a", np.ones(DIM, np.float32))])
    where = store._temp  # type: ignore[attr-defined]  # the backend's own attribute
    assert where is not None
    assert (where / "c" / "shard").is_dir()
    store.close()
    assert not os.path.exists(where)
    with pytest.raises(StoreClosedError):
        coll.count()


def test_async_runs_the_engine_off_the_event_loop() -> None:
    async def main() -> tuple[int, bool]:
        async with edgevec.connect_async("qdrant_edge", optimize_after=None) as store:
            coll = await store.create_collection("c", DIM, "l2")
            await coll.upsert_arrays([f"v{i}" for i in range(2000)], _rand(2000, 7))
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            task = asyncio.ensure_future(ticker())
            await coll.query_batch(_rand(200, 8), k=10)  # exact scans: milliseconds of work
            task.cancel()
            assert isinstance(coll, AsyncQdrantEdgeCollection)
            return ticks, await coll.optimize()

    ticks, changed = asyncio.run(main())
    assert ticks > 0  # the loop kept running while the engine searched
    assert changed


def test_vendor_quirks_the_backend_works_around(tmp_path: Path) -> None:
    """qdrant-edge-py 0.9: ``retrieve`` needs both flags (its stub says optional), a Python bool
    in ``MatchValue`` is read as the int 1, and payload floats come back one ulp off."""
    shard = qe.EdgeShard.create(
        str(tmp_path / "s"), qe.EdgeConfig(vectors=qe.EdgeVectorParams(2, qe.Distance.Dot))
    )
    try:
        points = [qe.Point(1, [1.0, 0.0], {"v": True}), qe.Point(2, [0.0, 1.0], {"v": 1})]
        points.append(qe.Point(3, [1.0, 1.0], {"v": 0.09999999999999999}))
        shard.update(qe.UpdateOperation.upsert_points(points))
        with pytest.raises(TypeError):
            shard.retrieve([1])
        as_bool = qe.Filter(must=[qe.FieldCondition("v", match=qe.MatchValue(True))])
        assert [p.id for p in shard.scroll(qe.ScrollRequest(filter=as_bool))[0]] == [2]
        assert shard.retrieve([3], True, False)[0].payload == {"v": 0.1}
    finally:
        shard.close()
    with edgevec.connect("qdrant_edge") as store:
        coll = store.create_collection("c", 2, "dot")
        coll.upsert_arrays(["t", "one"], _rand(2, 3, 2), [{"v": True}, {"v": 1}])
        assert coll.query(np.ones(2, np.float32), filter=F("v") == True).ids == ["t"]  # noqa: E712


def test_threads_writing_querying_and_closing_share_one_collection(tmp_path: Path) -> None:
    """Writers, readers and an optimize on several threads, then a drop and a close while readers
    run (edgevec takes no lock: the engine's close waits for the calls in flight): every
    acknowledged write is there after reopening, and late calls get the refusal, nothing else."""
    store = edgevec.connect("qdrant_edge", path=str(tmp_path), optimize_after=150)
    coll = store.create_collection("c", DIM, "l2")
    dropped = store.create_collection("d", DIM, "l2")
    vecs = _rand(400, 11)
    dropped.upsert_arrays([f"v{i}" for i in range(400)], vecs)
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(part: int) -> None:
        for start in range(part * 100, part * 100 + 100, 10):
            coll.upsert_arrays(
                [f"v{i}" for i in range(start, start + 10)], vecs[start : start + 10]
            )

    def read(target: Any, refusal: tuple[type[Exception], ...]) -> None:
        try:
            while not stop.is_set():
                target.query(vecs[0], k=5)
                target.count()
        except refusal:
            pass
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    readers = [threading.Thread(target=read, args=(coll, (StoreClosedError,))) for _ in range(3)]
    gone = (CollectionNotFoundError, StoreClosedError)  # the store may close before it looks
    readers.append(threading.Thread(target=read, args=(dropped, gone)))
    writers = [threading.Thread(target=write, args=(p,)) for p in range(4)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    store.drop_collection("d")  # its reader may be inside the engine while the files go
    store.close()  # readers may be inside the engine: close waits for them, then refuses
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    with edgevec.connect("qdrant_edge", path=str(tmp_path)) as again:
        assert again.list_collections() == ["c"]
        reopened = again.collection("c")
        assert reopened.count() == 400
        assert reopened.query(vecs[123], k=1).ids == ["v123"]
