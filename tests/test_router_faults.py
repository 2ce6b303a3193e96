"""The router against a bad network: a Pinecone region (the loopback test server, reached over
HTTP) behind a fault-injecting proxy, next to an in-process FAISS region.

The ``us`` region has two endpoints on the same index: ``us[0]`` through the proxy and ``us[1]``
straight to the server (two gateways of one region), so failover inside a region is visible.
Each fault -- refused connections, a proxy slower than the deadline, reset connections,
flapping, HTTP 503/429 -- must give failover, ``partial`` with the right ``missing`` in a
federated query, the deadline kept, a breaker that opens and recovers (on an injected clock),
and no acknowledged write lost. Engines: FAISS (in process), Pinecone test server (HTTP).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')
pytest.importorskip(
    "pinecone", reason='Pinecone extra not installed: pip install "edgevec[pinecone]"'
)

import edgevec  # after the skip guards
from edgevec import BackendTimeoutError, PartialWriteError, RoutingError
from edgevec.router.calls import RegionWriteError
from edgevec.router.policy import BreakerState
from edgevec.testing import assert_hits_match
from tests.servers.faultproxy import FaultProxy
from tests.servers.pinecone_server import PineconeTestServer

DIM = 8
DEADLINE = 0.4
SLACK = 0.1
"""How far past its deadline a call may return here: generous, for a loaded CI machine (the
benchmark reports the real overshoot, a few milliseconds)."""

FAULTS: dict[str, dict[str, Any]] = {
    "down": {"mode": "down"},
    "slow": {"mode": "slow", "delay": 2.0},
    "reset": {"mode": "reset"},
    "flap": {"mode": "flap", "period": 0.02},
    "http503": {"mode": "status", "status": 503},
    "http429": {"mode": "status", "status": 429},
}


class Clock:
    """The breakers' clock, moved by hand: cool-downs pass without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[PineconeTestServer]:
    with PineconeTestServer(dimension=DIM, metric="cosine") as srv:
        yield srv


@pytest.fixture
def proxy(server: PineconeTestServer) -> Iterator[FaultProxy]:
    with FaultProxy(int(server.url.rsplit(":", 1)[1])) as p:
        yield p


def pinecone(server: PineconeTestServer, url: str) -> dict[str, Any]:
    return {"backend": "pinecone", "host": url, "api_key": server.api_key, "exact": True}


Data = tuple[list[str], np.ndarray, list[dict[str, Any]]]


@pytest.fixture
def data() -> Data:
    vecs = np.random.default_rng(7).normal(size=(40, DIM)).astype(np.float32)
    return [f"r{i}" for i in range(40)], vecs, [{"n": i} for i in range(40)]


@pytest.fixture
def name() -> str:
    return f"faults_{uuid.uuid4().hex[:10]}"  # the server is shared: one namespace per test


@pytest.fixture
def make_router(
    server: PineconeTestServer, proxy: FaultProxy, data: Data, name: str
) -> Iterator[Callable[..., Any]]:
    """A router over pre-filled regions (written directly, so nothing has been measured yet):
    ``eu`` (FAISS) and ``us`` (``us[0]`` through the proxy, ``us[1]`` direct)."""
    ids, vecs, pays = data
    with edgevec.connect(pinecone(server, server.url)) as direct:
        direct.create_collection(name, DIM).upsert_arrays(ids, vecs, pays)
    made: list[Any] = []

    def make(two_gateways: bool = True, **options: Any) -> Any:
        eu = edgevec.connect("faiss")
        eu.create_collection(name, DIM).upsert_arrays(ids, vecs, pays)
        us: Any = pinecone(server, proxy.url)
        if two_gateways:
            us = [us, pinecone(server, server.url)]
        options = {"home": "us", "timeout": DEADLINE, "clock": Clock(), **options}
        router = edgevec.Router(regions={"eu": eu, "us": us}, **options)
        made.append(router)
        return router

    yield make
    for router in made:
        router.close()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_over_and_keeps_the_deadline(
    fault: str, make_router: Callable[..., Any], proxy: FaultProxy, data: Data, name: str
) -> None:
    ids, vecs, pays = data
    router = make_router(breaker_failures=1)
    coll = router.collection(name)
    breaker = router.core.members["us"][0].endpoint.breaker
    q = vecs[3]
    proxy.set(**FAULTS[fault])
    # Nothing is measured yet, so us[0] (home) goes first: it fails, or outlasts its half of
    # the deadline, and us[1] answers.
    hits, took = timed(lambda: coll.query(q, k=5, region="us"))
    assert_hits_match(hits, ids, vecs, pays, q, 5, "cosine")
    assert {h.source for h in hits} == {"us"}
    assert took < DEADLINE + SLACK
    if fault != "flap":  # a flapping proxy may let that request through
        assert breaker.state is BreakerState.OPEN
    # Nearest, again and again: whatever us[0] does, another endpoint answers in time.
    for _ in range(3):
        hits, took = timed(lambda: coll.query(q, k=5))
        assert_hits_match(hits, ids, vecs, pays, q, 5, "cosine")
        assert took < DEADLINE + SLACK


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_federated_query_is_partial_with_the_region_that_missed(
    fault: str, make_router: Callable[..., Any], proxy: FaultProxy, data: Data, name: str
) -> None:
    ids, vecs, pays = data
    clock = Clock()
    router = make_router(two_gateways=False, clock=clock)
    coll = router.collection(name)
    q = vecs[5]
    proxy.set(**FAULTS[fault])
    res, took = timed(lambda: coll.query(q, k=5, regions="all", timeout=0.25))
    assert took < 0.25 + SLACK
    assert_hits_match(res, ids, vecs, pays, q, 5, "cosine")  # each region holds every record
    if fault != "flap":  # a flapping proxy may let the request through
        assert (res.partial, res.missing) == (True, ["us"])
        assert {h.source for h in res} == {"eu"}
        with pytest.raises((RoutingError, BackendTimeoutError)):
            coll.query(q, k=5, region="us", timeout=0.25)
    proxy.set("up")
    clock.now += 60.0  # past the cool-down of a breaker those failures may have opened
    whole = coll.query(q, k=5, regions=["us", "eu"])
    assert (whole.partial, whole.missing) == (False, [])
    assert_hits_match(whole, ids, vecs, pays, q, 5, "cosine")


def test_callers_keep_their_deadline_while_in_process_regions_run_inline(
    make_router: Callable[..., Any], proxy: FaultProxy, data: Data, name: str
) -> None:
    """The FAISS region is called on the router's loop thread: many threads fanning out at
    once past a stalled region all still get eu's answer, marked partial, by the deadline."""
    ids, vecs, pays = data
    router = make_router(two_gateways=False)
    assert [m.inline for m in router.core.all_members] == [True, False]  # eu FAISS, us Pinecone
    coll = router.collection(name)
    proxy.set("slow", delay=2.0)

    def federated(i: int) -> tuple[Any, float]:
        return timed(lambda: coll.query(vecs[i], k=3, regions="all", timeout=0.25))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(federated, range(16)))
    for i, (res, took) in enumerate(answers):
        assert took < 0.25 + SLACK
        assert (res.partial, res.missing) == (True, ["us"])
        assert_hits_match(res, ids, vecs, pays, vecs[i], 3, "cosine")
    proxy.set("up")


def test_breaker_opens_fails_fast_and_recovers(
    make_router: Callable[..., Any], proxy: FaultProxy, data: Data, name: str
) -> None:
    ids, vecs, pays = data
    clock = Clock()
    router = make_router(two_gateways=False, breaker_failures=1, breaker_cooldown=10.0, clock=clock)
    coll = router.collection(name)
    breaker = router.core.members["us"][0].endpoint.breaker
    proxy.set("reset")
    # The only endpoint of us fails (its client may retry the resets until the deadline).
    with pytest.raises((RoutingError, BackendTimeoutError)):
        coll.query(vecs[0], k=3, region="us")
    assert breaker.state is BreakerState.OPEN
    tried = proxy.connections
    # Open: no request goes out; the call fails at once, a federated one marks us missing.
    start = time.perf_counter()
    with pytest.raises(RoutingError, match="every breaker is open"):
        coll.query(vecs[0], k=3, region="us")
    assert time.perf_counter() - start < 0.05
    res, took = timed(lambda: coll.query(vecs[0], k=3, regions="all"))
    assert (res.partial, res.missing) == (True, ["us"])
    assert took < 0.05
    assert proxy.connections == tried
    # After the cool-down one probe goes; its success closes the breaker.
    proxy.set("up")
    clock.now += 10.0
    assert breaker.state.value == "half_open"  # (mypy narrowed the state to OPEN above)
    hits = coll.query(vecs[0], k=3, region="us")
    assert_hits_match(hits, ids, vecs, pays, vecs[0], 3, "cosine")
    assert breaker.state.value == "closed"
    assert proxy.connections > tried


def test_hedged_read_takes_the_first_answer(
    make_router: Callable[..., Any], proxy: FaultProxy, data: Data, name: str
) -> None:
    ids, vecs, pays = data
    router = make_router(hedge=True, timeout=3.0)
    coll = router.collection(name)
    for _ in range(25):  # us[0] answers these (measured beats unmeasured): its p95 is known
        coll.query(vecs[1], k=3, region="us")
    p95 = router.core.members["us"][0].endpoint.latency.p95
    assert p95 is not None
    assert p95 < 0.5
    proxy.set("slow", delay=1.0)
    hits, took = timed(lambda: coll.query(vecs[2], k=3, region="us"))
    assert_hits_match(hits, ids, vecs, pays, vecs[2], 3, "cosine")
    assert took < 1.0  # us[1] answered once us[0] outlasted its p95; us[0] was cancelled


def test_write_all_never_reports_an_unacknowledged_region(
    make_router: Callable[..., Any], proxy: FaultProxy, name: str
) -> None:
    clock = Clock()
    router = make_router(two_gateways=False, write="all", clock=clock, timeout=0.3)
    coll = router.collection(name)
    rng = np.random.default_rng(11)
    acked: dict[str, set[str]] = {"eu": set(), "us": set()}
    partial = 0
    for round_, fault in enumerate(["up", *sorted(FAULTS), "up"]):
        spec = FAULTS.get(fault, {"mode": "up"})
        proxy.set(**spec)
        clock.now += 60.0  # past any cool-down: every round tries us again
        ids = [f"w{round_}_{i}" for i in range(5)]
        failure: RegionWriteError | None = None
        try:
            coll.upsert_arrays(ids, rng.normal(size=(5, DIM)).astype(np.float32))
        except RegionWriteError as exc:
            failure = exc
        acked["eu"].update(ids)
        if failure is None:
            acked["us"].update(ids)
            continue
        partial += 1
        assert isinstance(failure, PartialWriteError)
        assert failure.succeeded == ("eu",)
        assert set(failure.regions_failed) == {"us"}
        assert failure.written == ()
        assert set(failure.failed) == set(ids)
    assert partial >= len(FAULTS) - 1  # flapping may let a write through; the others fail
    proxy.set("up")
    clock.now += 60.0
    for region, wanted in acked.items():
        got = {r.id for r in coll.get(sorted(wanted), region=region, include_vectors=False)}
        assert wanted <= got, f"{region} lost acknowledged writes: {sorted(wanted - got)}"


def test_async_router_fails_over_and_marks_the_missing_region(
    server: PineconeTestServer, proxy: FaultProxy, data: Data, name: str
) -> None:
    """The same core through the async API: failover inside a region, then a federated query
    with that region's only gateway reset."""
    ids, vecs, pays = data
    with edgevec.connect(pinecone(server, server.url)) as direct:
        direct.create_collection(name, DIM).upsert_arrays(ids, vecs, pays)

    async def main() -> None:
        eu = edgevec.connect_async("faiss")
        await (await eu.create_collection(name, DIM)).upsert_arrays(ids, vecs, pays)
        us = [pinecone(server, proxy.url), pinecone(server, server.url)]
        regions = {"eu": eu, "us": us, "ap": pinecone(server, proxy.url)}
        async with edgevec.AsyncRouter(regions, home="us", timeout=DEADLINE) as router:
            coll: Any = await router.collection(name)
            proxy.set("reset")
            hits = await coll.query(vecs[3], k=5, region="us")
            assert_hits_match(hits, ids, vecs, pays, vecs[3], 5, "cosine")
            start = time.perf_counter()
            res = await coll.query(vecs[4], k=5, regions="all")
            assert time.perf_counter() - start < DEADLINE + SLACK
            assert (res.partial, res.missing) == (True, ["ap"])
            assert_hits_match(res, ids, vecs, pays, vecs[4], 5, "cosine")
            assert {h.source for h in res} <= {"eu", "us"}

    asyncio.run(main())


def test_cancelled_federated_query_leaves_no_straggler(
    server: PineconeTestServer, proxy: FaultProxy, data: Data, name: str
) -> None:
    """A caller that gives up on a fan-out (its task cancelled) takes the regions' calls with
    it: the stalled region's call does not run on until the router's deadline."""
    ids, vecs, pays = data
    with edgevec.connect(pinecone(server, server.url)) as direct:
        direct.create_collection(name, DIM).upsert_arrays(ids, vecs, pays)

    async def main() -> None:
        eu = edgevec.connect_async("faiss")
        await (await eu.create_collection(name, DIM)).upsert_arrays(ids, vecs, pays)
        regions = {"eu": eu, "ap": pinecone(server, proxy.url)}
        async with edgevec.AsyncRouter(regions, home="eu", timeout=5.0) as router:
            coll: Any = await router.collection(name)
            proxy.set("slow", delay=5.0)
            query = asyncio.ensure_future(coll.query(vecs[4], k=5, regions="all"))
            await asyncio.sleep(0.2)  # eu has answered, ap stalls
            others = asyncio.all_tasks() - {asyncio.current_task()}
            assert query in others
            assert len(others) > 1  # the query's straggler, ap's call
            query.cancel()
            with pytest.raises(asyncio.CancelledError):
                await query
            await asyncio.sleep(0.05)  # the straggler's cancellation runs its cleanup
            assert asyncio.all_tasks() == {asyncio.current_task()}
            proxy.set("up")

    asyncio.run(main())
