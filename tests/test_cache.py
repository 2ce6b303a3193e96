"""The result cache on real engines: FAISS in process and Qdrant's local mode.

Each test reads the wrapper's hit/miss counters, so a cache that silently stopped caching (or
stopped invalidating) fails here; results are judged against the engine's own answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import edgevec
from edgevec import BaseCollection, F, Record
from edgevec.prepare import PreparedUpsert
from edgevec.router.acached import AsyncCachedStore
from edgevec.router.cache import CachedResult, InProcessCache
from edgevec.router.cached import CachedStore
from edgevec.wrapped import WrappedCollection, WrappedStore

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

DIM = 8
Q = np.linspace(-1.0, 1.0, DIM, dtype=np.float32)


class FakeClock:
    """A clock the test moves by hand, so entries expire without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _vectors(n: int, seed: int = 0) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _connect(backend: str) -> edgevec.BaseStore:
    if backend == "qdrant":
        pytest.importorskip("qdrant_client", reason='pip install "edgevec[qdrant]"')
        return edgevec.connect("qdrant", location=":memory:")
    return edgevec.connect("faiss")


@pytest.fixture
def cached() -> Iterator[CachedStore]:
    with closing(CachedStore(edgevec.connect("faiss"))) as store:
        yield store


def _filled(store: edgevec.BaseStore, n: int = 20) -> edgevec.BaseCollection:
    coll = store.create_collection("items", dim=DIM, metric="cosine")
    payloads = [{"n": i, "tag": "even" if i % 2 == 0 else "odd"} for i in range(n)]
    coll.upsert_arrays([f"r{i}" for i in range(n)], _vectors(n), payloads)
    return coll


@pytest.mark.parametrize("backend", ["faiss", "qdrant"])
def test_a_write_through_the_wrapper_makes_the_next_query_miss(backend: str) -> None:
    with closing(CachedStore(_connect(backend))) as store:
        coll = _filled(store)
        first = coll.query(Q, k=3)
        assert coll.query(Q, k=3) == first
        assert (store.cache_info().hits, store.cache_info().misses) == (1, 1)

        coll.upsert([Record("best", Q, {"n": -1})])  # the exact query vector: now the top hit
        assert coll.query(Q, k=3).ids[0] == "best"
        assert store.cache_info().misses == 2
        coll.delete(["best"])
        assert coll.query(Q, k=3) == first
        coll.delete(filter=F("n") == first[0].payload["n"])
        assert first[0].id not in coll.query(Q, k=3).ids
        assert (store.cache_info().hits, store.cache_info().misses) == (1, 4)


def test_async_twin_caches_and_invalidates() -> None:
    async def scenario() -> tuple[list[str], list[str], tuple[int, int]]:
        store = AsyncCachedStore(edgevec.connect_async("faiss"))
        try:
            coll = await store.create_collection("items", dim=DIM)
            await coll.upsert_arrays(["a", "b"], _vectors(2))
            before = (await coll.query(Q, k=2)).ids
            assert (await coll.query(Q, k=2)).ids == before
            await coll.upsert([Record("q", Q)])
            after = (await coll.query(Q, k=2)).ids
            info = store.cache_info()
            return before, after, (info.hits, info.misses)
        finally:
            await store.close()

    before, after, counts = asyncio.run(scenario())
    assert after[0] == "q"
    assert "q" not in before
    assert counts == (1, 2)


def test_drop_and_recreate_through_the_wrapper_is_a_new_collection(cached: CachedStore) -> None:
    coll = _filled(cached)
    assert len(coll.query(Q, k=5)) == 5
    cached.drop_collection("items")
    fresh = cached.create_collection("items", dim=DIM, metric="cosine")
    assert fresh.query(Q, k=5) == []


def test_entries_expire_after_the_ttl_by_the_injected_clock() -> None:
    clock = FakeClock()
    with closing(CachedStore(edgevec.connect("faiss"), ttl=10.0, clock=clock)) as store:
        coll = _filled(store)
        coll.query(Q, k=3)
        clock.now = 9.9
        coll.query(Q, k=3)
        assert store.cache_info().hits == 1
        clock.now = 10.0  # TTLCache: an entry lives while now < stored + ttl
        coll.query(Q, k=3)
        assert (store.cache_info().hits, store.cache_info().misses) == (1, 2)


def test_the_lru_bound_holds_and_evicts_the_least_recently_used() -> None:
    cache = InProcessCache(ttl=60.0, max_entries=3)
    with closing(CachedStore(edgevec.connect("faiss"), cache=cache)) as store:
        coll = _filled(store)
        queries = _vectors(5, seed=1)
        for q in queries[:3]:
            coll.query(q, k=2)
        coll.query(queries[0], k=2)  # used again: queries[1] is now the least recent
        for q in queries[3:]:
            coll.query(q, k=2)
        assert len(cache) == 3
        before = store.cache_info()
        coll.query(queries[0], k=2)  # survived: hit
        coll.query(queries[1], k=2)  # evicted: miss
        after = store.cache_info()
        assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)


def test_equal_filters_written_differently_share_an_entry(cached: CachedStore) -> None:
    coll = _filled(cached)
    built = (F("tag") == "even") & F("n").isin([2, 4, 6])
    as_json = {
        "and": [
            {"field": "n", "op": "in", "value": [6, 4, 2, 4]},
            {"and": [{"field": "tag", "op": "eq", "value": "even"}]},
        ]
    }
    expected = coll.query(Q, k=3, filter=built)
    assert coll.query(Q, k=3, filter=as_json) == expected
    assert cached.cache_info().hits == 1
    assert sorted(h.payload["n"] for h in expected) == [2, 4, 6]


@pytest.mark.parametrize("other", [3.0, "3", True])
def test_filter_values_of_another_type_do_not_share_an_entry(
    cached: CachedStore, other: object
) -> None:
    coll = _filled(cached)
    coll.query(Q, k=3, filter=F("n") == 3)
    coll.query(Q, k=3, filter=F("n") == other)
    assert (cached.cache_info().hits, cached.cache_info().misses) == (0, 2)


@pytest.mark.parametrize(
    "variant",
    [
        {"k": 4},
        {"include_vectors": True},
        {"include_payload": False},
        {"params": {"exact": True}},
        {"score_threshold": 0.1},
        {"filter": F("n") > 3},
    ],
)
def test_every_query_option_is_part_of_the_key(
    cached: CachedStore, variant: dict[str, Any]
) -> None:
    coll = _filled(cached)
    base: dict[str, Any] = {"k": 3}
    coll.query(Q, **base)
    varied = coll.query(Q, **{**base, **variant})
    assert (cached.cache_info().hits, cached.cache_info().misses) == (0, 2)
    assert varied == coll.query(Q, **{**base, **variant})  # and the variant itself is cached
    assert cached.cache_info().hits == 1


def test_batches_arrays_and_query_by_id_are_cached_apart(cached: CachedStore) -> None:
    coll = _filled(cached)
    batch = _vectors(3, seed=2)
    rows = coll.query_batch(batch, k=2)
    assert coll.query_batch(batch, k=2) == rows
    arrays = coll.query_arrays(batch, k=2)  # same vectors, other result shape: a miss
    again = coll.query_arrays(batch, k=2)
    np.testing.assert_array_equal(again.ids, arrays.ids)
    assert again.ids.tolist() == [r.ids for r in rows]
    similar = coll.query_by_id("r0", k=2)
    assert coll.query_by_id("r0", k=2) == similar
    assert (cached.cache_info().hits, cached.cache_info().misses) == (3, 3)


def test_returned_hits_are_private_copies(cached: CachedStore) -> None:
    coll = _filled(cached)
    first = coll.query(Q, k=3, include_vectors=True)
    expected = [(h.id, h.score, dict(h.payload), np.array(h.vector)) for h in first]
    first[0].payload["n"] = "changed"  # type: ignore[index]  # payloads handed out are dicts
    assert first[0].vector is not None
    first[0].vector[:] = 0.0
    first.clear()
    again = coll.query(Q, k=3, include_vectors=True)
    assert cached.cache_info().hits == 1
    assert [(h.id, h.score, dict(h.payload)) for h in again] == [e[:3] for e in expected]
    for hit, (*_, vector) in zip(again, expected):
        assert hit.vector is not None
        np.testing.assert_array_equal(hit.vector, vector)


def test_threads_sharing_an_entry_each_get_their_own_answer(cached: CachedStore) -> None:
    coll = _filled(cached)
    first = coll.query(Q, k=4, include_vectors=True)
    expected = [(h.id, h.score, dict(h.payload), np.array(h.vector).tolist()) for h in first]

    def read_and_spoil(i: int) -> list[tuple[str, float, dict[str, Any], list[float]]]:
        got = coll.query(Q, k=4, include_vectors=True)
        seen = [(h.id, h.score, dict(h.payload), np.array(h.vector).tolist()) for h in got]
        for hit in got:  # a caller changing everything it can
            hit.payload["n"] = i  # type: ignore[index]  # payloads handed out are dicts
            assert hit.vector is not None
            hit.vector[:] = i
        return seen

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(read_and_spoil, range(40)))
    assert answers == [expected] * 40
    assert cached.cache_info().hits == 40


class _SlowWriteCollection(WrappedCollection):
    """A collection whose engine takes a while to apply a write (a remote engine would), so
    reads land inside the write: the window a cache must not re-fill from."""

    def _upsert(self, batch: PreparedUpsert) -> None:
        time.sleep(0.003)
        self.inner._upsert(batch)


class _SlowWrites(WrappedStore):
    def _wrap(self, coll: BaseCollection) -> BaseCollection:
        return _SlowWriteCollection(coll)


class _ForgetfulCache(InProcessCache):
    """A broken cache that ignores writes: the control proving the race check can fail."""

    def bump(self, scope: str) -> None:
        return None


def _stale_reads(store: CachedStore, writes: int = 25, readers: int = 3) -> list[tuple[int, int]]:
    """Upsert record ``x`` with versions 1..``writes`` while threads query it; returns every
    ``(version read, version acknowledged before the read began)`` that went backwards."""
    coll = store.create_collection("race", dim=DIM, metric="cosine")
    coll.upsert([Record("x", Q, {"v": 0}), Record("y", -Q, {"v": -1})])
    acked = 0
    done = threading.Event()
    stale: list[tuple[int, int]] = []

    def read() -> None:
        floor = acked
        seen = coll.query(Q, k=1)[0].payload["v"]
        if seen < floor:
            stale.append((seen, floor))

    def keep_reading() -> None:
        while not done.is_set():
            read()

    with ThreadPoolExecutor(readers) as pool:
        running = [pool.submit(keep_reading) for _ in range(readers)]
        try:
            for version in range(1, writes + 1):
                coll.upsert([Record("x", Q, {"v": version})])
                acked = version
                read()  # also from the writer's thread, right after its write returned
        finally:
            done.set()
        for future in running:
            future.result()
    return stale


def test_no_read_is_older_than_the_last_acknowledged_write() -> None:
    with closing(CachedStore(_SlowWrites(edgevec.connect("faiss")))) as store:
        assert _stale_reads(store) == []
        assert store.cache_info().hits > 0  # the readers did share cached answers


def test_the_race_check_catches_a_cache_that_misses_writes() -> None:
    with closing(CachedStore(edgevec.connect("faiss"), cache=_ForgetfulCache())) as store:
        assert _stale_reads(store, writes=5, readers=2)


def test_partial_results_are_not_cached(cached: CachedStore) -> None:
    """A federated answer some region missed must not be served again for the TTL."""
    key = b"k" * 16
    partial = [edgevec.Hits([], partial=True, missing=["us"])]
    returned: CachedResult = cached.front.store(key, partial)
    assert returned is partial
    assert cached.front.cache.get(key) is None
    fused = [edgevec.Hits([edgevec.Hit("a", 0.03, source="eu")], fused=True)]
    assert cached.front.store(key, fused) is fused
    assert cached.front.cache.get(key) is not None
    found = cached.front.lookup(key, "items", "faiss")
    assert isinstance(found, list)
    (again,) = found
    assert again == fused[0]
    assert again.fused  # a rank-fused answer stays marked as one


def test_a_config_file_asks_for_the_cache(tmp_path: Path) -> None:
    config = tmp_path / "edgevec.toml"
    config.write_text('backend = "faiss"\n\n[cache]\nttl = 5\nmax_entries = 2\n')
    store = edgevec.connect(config=config)
    assert isinstance(store, CachedStore)
    coll = _filled(store)
    for q in _vectors(3, seed=4):  # three distinct queries through a cache of two
        coll.query(q, k=1)
    assert isinstance(store.front.cache, InProcessCache)
    assert len(store.front.cache) == 2
    with pytest.raises(edgevec.ConfigError, match="max_entries"):
        edgevec.connect("faiss", cache={"max_entries": 0})
    with pytest.raises(edgevec.ConfigError, match="ttl"):
        CachedStore(edgevec.connect("faiss"), ttl=float("nan"))
    store.close()
