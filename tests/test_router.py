"""The router over in-process and local engines: config (a TOML file with three regions on
FAISS, Qdrant local mode and Milvus Lite), routing arguments checked before any I/O, the
capability intersection, spec agreement between regions, provenance, and many threads and tasks
on one router collection. Network faults are in ``test_router_faults.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec  # after the skip guards
from edgevec import (
    ConfigError,
    EmbedderMismatchError,
    F,
    FilterNotSupportedError,
    InvalidInputError,
    Record,
)
from edgevec.testing import assert_hits_match
from edgevec.testing.wrappers import VectorEmbedder
from edgevec.threaded import ThreadedAsyncStore

Vectors = npt.NDArray[np.float32]


def rand(n: int, dim: int = 8, seed: int = 0) -> Vectors:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def region_count(router: edgevec.Router, region: str, name: str) -> int:
    """Records in ``region``'s own store, read past the router."""
    store = router.core.members[region][0].store
    assert isinstance(store, ThreadedAsyncStore)  # a config's FAISS store, served in threads
    return store.sync.collection(name).count()


@pytest.fixture
def two_faiss() -> Iterator[edgevec.Router]:
    router = edgevec.Router(
        regions={"eu": {"backend": "faiss"}, "us": {"backend": "faiss"}}, home="eu", write="all"
    )
    with router:
        yield router


def test_route_arguments_are_checked_before_any_io(two_faiss: edgevec.Router) -> None:
    coll = two_faiss.create_collection("items", dim=8)
    q = rand(1)[0]
    bads: list[dict[str, Any]] = [
        {"region": "mars"},
        {"region": "eu", "regions": "all"},
        {"regions": []},
        {"regions": ["eu", "mars"]},
        {"regions": "eu"},  # one name is region=, not a list of regions
        {"timeout": 0},
    ]
    for bad in bads:
        with pytest.raises(InvalidInputError):
            coll.query(q, k=3, **bad)
    with pytest.raises(InvalidInputError):
        coll.get(["a"], region="mars")


def test_reads_name_their_region_and_writes_reach_every_region(two_faiss: edgevec.Router) -> None:
    coll = two_faiss.create_collection("items", dim=8, metric="l2")
    vecs = rand(30, seed=1)
    ids = [f"r{i}" for i in range(30)]
    pays = [{"n": i} for i in range(30)]
    coll.upsert_arrays(ids, vecs, pays)
    for region in ("eu", "us"):
        hits = coll.query(vecs[4], k=5, region=region, filter=F("n") < 20)
        assert_hits_match(hits, ids, vecs, pays, vecs[4], 5, "l2", F("n") < 20)
        assert {h.source for h in hits} == {region}
        assert [r.id for r in coll.get(["r3", "nope"], region=region)] == ["r3"]
    fed = coll.query(vecs[4], k=5, regions="all")
    assert_hits_match(fed, ids, vecs, pays, vecs[4], 5, "l2")
    assert (fed.partial, fed.missing) == (False, [])
    assert coll.query_by_id("r4", k=3, regions=["us"]).ids == fed.ids[1:4]
    arrays = coll.query_arrays(vecs[:3], k=4, regions="all")
    assert arrays.ids.shape == (3, 4)
    assert list(arrays.ids[0]) == [h.id for h in coll.query(vecs[0], k=4)]
    coll.delete(ids=["r4"])
    assert [coll.count() for _ in range(2)] == [29, 29]
    assert [region_count(two_faiss, r, "items") for r in ("eu", "us")] == [29, 29]


def test_capabilities_are_the_intersection_and_refuse_before_io() -> None:
    # The test plugin backend "tiny" runs no "not": a router over it and FAISS cannot either.
    with edgevec.Router(
        regions={"eu": {"backend": "faiss"}, "lab": {"backend": "tiny"}}, write="all"
    ) as router:
        assert "not" not in router.capabilities.filter_ops
        coll: Any = router.create_collection("items", dim=4)  # a RouterCollection
        assert "not" not in coll.capabilities.filter_ops
        coll.upsert_arrays(["a", "b"], rand(2, 4), [{"n": 1}, {"n": 2}])
        with pytest.raises(FilterNotSupportedError):
            coll.delete(filter=~(F("n") == 1))
        with pytest.raises(FilterNotSupportedError):
            coll.query(rand(1, 4)[0], filter=~(F("n") == 1), regions="all")
        for region in ("eu", "lab"):  # FAISS, which runs "not", deleted nothing either
            assert len(coll.get(["a", "b"], region=region)) == 2


def test_regions_must_agree_on_dim_and_metric() -> None:
    eu, us = edgevec.connect("faiss"), edgevec.connect("faiss")
    eu.create_collection("items", dim=4)
    us.create_collection("items", dim=5)
    with (
        edgevec.Router(regions={"eu": eu, "us": us}) as router,
        pytest.raises(ConfigError, match="differs between regions"),
    ):
        router.collection("items")


def test_options_are_validated_and_secrets_stay_out_of_repr() -> None:
    with pytest.raises(ConfigError, match="home"):
        edgevec.Router(regions={"eu": {"backend": "faiss"}}, home="us")
    with pytest.raises(ConfigError, match="write"):
        edgevec.Router(regions={"eu": {"backend": "faiss"}}, write="some")
    with pytest.raises(ConfigError, match="async"):
        edgevec.Router(regions={"eu": edgevec.connect_async("faiss")})
    secret = "sk-do-not-print-me"  # noqa: S105  # a fake, to find in a repr
    with edgevec.Router(
        regions={"eu": {"backend": "faiss"}, "lab": [{"backend": "tiny", "label": secret}]}
    ) as router:
        assert secret not in repr(router)
        assert secret not in repr(router.options)
        assert repr(router) == "<Router regions=['eu', 'lab'] home='eu'>"


THREE_REGIONS = """\
backend = "router"

[router]
home = "eu"
timeout = 5.0
write = "all"

[router.regions.eu]
backend = "faiss"

[router.regions.us]
backend = "qdrant"
location = ":memory:"

[router.regions.ap]
backend = "milvus"
uri = "{milvus}"
"""


@pytest.mark.parametrize("api", ["sync", "async"])
def test_three_engines_from_a_toml_config(tmp_path: Path, api: str) -> None:
    """FAISS, Qdrant local mode and Milvus Lite as three regions: every write reaches each,
    a federated query equals the exact answer, and each hit names its region."""
    pytest.importorskip("qdrant_client", reason="Qdrant extra not installed")
    pytest.importorskip("pymilvus", reason="Milvus extra not installed")
    path = tmp_path / "edgevec.toml"
    path.write_text(THREE_REGIONS.format(milvus=tmp_path / "ap.db"), encoding="utf-8")
    vecs = rand(40, seed=3)
    ids = [f"r{i}" for i in range(40)]
    pays = [{"n": i % 5} for i in range(40)]

    async def scenario(store: Any) -> None:
        coll = await store.create_collection("items", dim=8, metric="cosine")
        await coll.upsert([Record(i, v, p) for i, v, p in zip(ids, vecs, pays)])
        assert sorted(store.members) == ["ap", "eu", "us"]
        for region in ("eu", "us", "ap"):
            assert await coll.count(F("n") == 1) == 8
            hits = await coll.query(vecs[0], k=4, region=region)
            assert_hits_match(hits, ids, vecs, pays, vecs[0], 4, "cosine")
            assert {h.source for h in hits} == {region}
        fed = await coll.query(vecs[9], k=6, filter=F("n") >= 2, regions="all")
        assert_hits_match(fed, ids, vecs, pays, vecs[9], 6, "cosine", F("n") >= 2)
        assert not fed.partial
        assert {h.source for h in fed} <= {"eu", "us", "ap"}
        assert await store.list_collections() == ["items"]

    if api == "async":

        async def run_async() -> None:
            async with edgevec.connect_async(config=path) as store:
                await scenario(store)

        asyncio.run(run_async())
        return
    store: Any
    with edgevec.connect(config=path) as store:
        asyncio.run(scenario(_Awaitable(store.core, store)))


class _Awaitable:
    """The sync router seen through awaits, so one scenario body checks both APIs."""

    def __init__(self, core: Any, store: Any) -> None:
        self.members = core.members
        self._store = store

    async def create_collection(self, *args: Any, **kwargs: Any) -> Any:
        return _AwaitableColl(self._store.create_collection(*args, **kwargs))

    async def list_collections(self) -> list[str]:
        return list(self._store.list_collections())


class _AwaitableColl:
    def __init__(self, coll: Any) -> None:
        self._coll = coll

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._coll, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def test_many_threads_on_one_router_collection(two_faiss: edgevec.Router) -> None:
    coll = two_faiss.create_collection("items", dim=8)
    base = rand(64, seed=5)
    coll.upsert_arrays([f"b{i}" for i in range(64)], base)

    def worker(t: int) -> list[str]:
        mine = rand(5, seed=100 + t)
        coll.upsert_arrays([f"t{t}_{i}" for i in range(5)], mine)
        got = []
        for i in range(5):
            hits = coll.query(mine[i], k=1, regions="all" if i % 2 else None)
            got.append(hits[0].id)
        return got

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(worker, range(16)))
    assert results == [[f"t{t}_{i}" for i in range(5)] for t in range(16)]
    assert [region_count(two_faiss, r, "items") for r in ("eu", "us")] == [144, 144]


def test_many_tasks_on_one_async_router_collection() -> None:
    async def main() -> None:
        async with edgevec.AsyncRouter(
            regions={"eu": edgevec.connect("faiss"), "us": edgevec.connect_async("faiss")},
            write="all",
        ) as router:
            coll: Any = await router.create_collection("items", dim=8)

            async def task(t: int) -> str:
                mine = rand(3, seed=200 + t)
                await coll.upsert_arrays([f"t{t}_{i}" for i in range(3)], mine)
                hits = await coll.query(mine[2], k=1, regions="all")
                assert not hits.partial
                return str(hits[0].id)

            found = await asyncio.gather(*(task(t) for t in range(32)))
            assert found == [f"t{t}_2" for t in range(32)]
            assert await coll.count() == 96

    asyncio.run(main())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_result_cache_keys_on_the_route_and_writes_invalidate() -> None:
    clock = Clock()
    regions = {"eu": {"backend": "faiss"}, "us": {"backend": "faiss"}}
    router = edgevec.Router(regions, write="all", cache={"ttl": 30}, clock=clock)
    with router:
        coll: Any = router.create_collection("items", dim=8)
        vecs = rand(10, seed=9)
        coll.upsert_arrays([f"r{i}" for i in range(10)], vecs)
        first = coll.query(vecs[0], k=3, region="us")
        assert coll.query(vecs[0], k=3, region="us") == first  # a hit
        assert coll.query(vecs[0], k=3, region="eu")[0].source == "eu"  # another route: a miss
        assert (router.cache_info().hits, router.cache_info().misses) == (1, 2)
        coll.upsert_arrays(["near"], vecs[:1] * 1.01)  # written through the router
        assert coll.query(vecs[0], k=3, region="us")[0].id in {"near", "r0"}
        assert router.cache_info().misses == 3
        coll.query(vecs[0], k=3, regions="all")
        clock.now += 31  # past the TTL: the next identical query goes to the regions again
        coll.query(vecs[0], k=3, regions="all")
        assert router.cache_info().misses == 5
    with edgevec.connect(
        {"backend": "router", "regions": regions, "cache": {"ttl": 5}}
    ) as store:  # from config, the router keeps the cache itself (routes stay in the key)
        assert isinstance(store, edgevec.Router)
        assert store.core.front is not None


def test_every_region_records_the_embedder_fingerprint() -> None:
    emb = VectorEmbedder(4, "cosine")
    eu, us = edgevec.connect("faiss"), edgevec.connect("faiss")
    with edgevec.Router({"eu": eu, "us": us}, write="all") as router:
        bound = router.create_collection("imgs", embedder=emb)
        bound.add(["a", "b"], list(np.eye(2, 4, dtype=np.float32)))
        assert bound.search(np.eye(1, 4, dtype=np.float32)[0], k=1).ids == ["a"]
        assert [s.collection("imgs").spec.fingerprint for s in (eu, us)] == [emb.fingerprint] * 2
        with pytest.raises(EmbedderMismatchError):
            router.collection("imgs", embedder=VectorEmbedder(4, "dot"))
