"""Router costs, each against the direct call in the same run (``benchmarks/harness.py``).

* **fan-out overhead**: a federated query over ``--regions`` in-process FAISS regions (default
  16) minus the slowest of the same query sent to each region's store directly, in the same
  iteration (target, issue 10: <= 1 ms); also one routed read against one direct read.
* **deadline accuracy**: how far past ``timeout`` a call returns when a region hangs (a Pinecone
  test-server region behind ``tests/servers/faultproxy.py`` stalling every request), for a
  federated query (partial answer) and a single-region read (``BackendTimeoutError``).
* **failover time**: a read whose first endpoint is refused, reset or answers 503 (the breaker
  kept closed, so every call pays the failover) against a read of the healthy endpoint directly;
  with the Pinecone client's own retries (as before edgevec switched them off) and without.
* **tail with one slow endpoint**: every 10th request to the region's first endpoint stalls
  ``--stall`` seconds; p50/p99 without hedging, with ``hedge=True``, and direct.

Small sizes: a check that the router adds little, not a load test.

    python benchmarks/bench_router.py            # ~1 min
    python benchmarks/bench_router.py --regions 8 --calls 50
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import harness
import numpy as np
from harness import fmt_ms, fmt_ratio, interleaved, paired_ratio, print_table

import edgevec
from tests.servers.faultproxy import FaultProxy
from tests.servers.pinecone_server import PineconeTestServer

DIM = 32
TARGET_FANOUT_MS = 1.0


def percentiles(ms: Sequence[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(ms, dtype=np.float64), [50, 99])
    return float(p50), float(p99)


def fanout(regions: int, calls: int, n: int) -> list[list[object]]:
    """Federated query over ``regions`` FAISS stores vs the slowest direct query."""
    rng = np.random.default_rng(0)
    stores = [edgevec.connect("faiss") for _ in range(regions)]
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    ids = [f"r{i}" for i in range(n)]
    direct = []
    for s, store in enumerate(stores):  # disjoint shards
        coll = store.create_collection("items", dim=DIM)
        coll.upsert_arrays(ids[s::regions], vecs[s::regions])
        direct.append(coll)
    router = edgevec.Router({f"r{i}": s for i, s in enumerate(stores)}, timeout=5.0)
    routed: Any = router.collection("items")
    queries = rng.normal(size=(calls, DIM)).astype(np.float32)
    rows: list[list[object]] = []
    over, fed, slowest = [], [], []
    for i in range(calls + 10):
        q = queries[i % calls]
        t0 = time.perf_counter()
        res = routed.query(q, k=10, regions="all")
        t1 = time.perf_counter()
        each = []
        for coll in direct:
            s0 = time.perf_counter()
            coll.query(q, k=10)
            each.append(time.perf_counter() - s0)
        assert not res.partial
        if i >= 10:  # warm-up
            fed.append((t1 - t0) * 1e3)
            slowest.append(max(each) * 1e3)
            over.append((t1 - t0 - max(each)) * 1e3)
    p50, p99 = percentiles(over)
    verdict = "meets" if p50 <= TARGET_FANOUT_MS else "misses"
    rows.append([f"fan-out to {regions} regions", *map(fmt_ms, percentiles(fed)), "", ""])
    rows.append(["slowest direct query", *map(fmt_ms, percentiles(slowest)), "", ""])
    rows.append(["overhead (routed - slowest)", fmt_ms(p50), fmt_ms(p99), "",
                 f"{verdict} p50 ≤ {TARGET_FANOUT_MS:g} ms"])  # fmt: skip
    ns, _ = interleaved(
        {
            "routed": lambda i: routed.query(queries[i % calls], k=10, region="r0"),
            "direct": lambda i: direct[0].query(queries[i % calls], k=10),
        },
        calls,
    )
    for name in ("routed", "direct"):
        lat = harness.Latency.of(ns[name])
        ratio = fmt_ratio(paired_ratio(ns["routed"], ns["direct"])) if name == "routed" else ""
        rows.append([f"one region, {name}", fmt_ms(lat.p50_ms), fmt_ms(lat.p99_ms), ratio, ""])
    router.close()
    return rows


def pinecone(server: PineconeTestServer, url: str) -> dict[str, Any]:
    return {"backend": "pinecone", "host": url, "api_key": server.api_key, "exact": True}


def seeded(server: PineconeTestServer, name: str, vecs: np.ndarray) -> Any:
    """A FAISS store and the Pinecone namespace both holding ``vecs`` in collection ``name``."""
    ids = [f"r{i}" for i in range(len(vecs))]
    with edgevec.connect(pinecone(server, server.url)) as direct:
        direct.create_collection(name, dim=DIM).upsert_arrays(ids, vecs)
    eu = edgevec.connect("faiss")
    eu.create_collection(name, dim=DIM).upsert_arrays(ids, vecs)
    return eu


def deadline(server: PineconeTestServer, calls: int) -> list[list[object]]:
    vecs = np.random.default_rng(1).normal(size=(200, DIM)).astype(np.float32)
    rows: list[list[object]] = []
    with FaultProxy(int(server.url.rsplit(":", 1)[1])) as proxy:
        eu = seeded(server, "deadline", vecs)
        regions = {"eu": eu, "us": pinecone(server, proxy.url)}
        with edgevec.Router(regions, breaker_failures=10**6) as router:
            coll: Any = router.collection("deadline")
            proxy.set("slow", delay=5.0)
            for timeout in (0.05, 0.2):
                for how, kwargs in (
                    ("federated", {"regions": "all"}),
                    ("region=us", {"region": "us"}),
                ):
                    late = []
                    for i in range(calls):
                        t0 = time.perf_counter()
                        try:
                            res = coll.query(vecs[i % 200], k=5, timeout=timeout, **kwargs)
                            assert res.missing == ["us"]
                        except (edgevec.BackendTimeoutError, edgevec.RoutingError):
                            pass
                        late.append((time.perf_counter() - t0 - timeout) * 1e3)
                    p50, p99 = percentiles(late)
                    rows.append(
                        [
                            f"{how}, timeout {timeout * 1e3:.0f} ms",
                            fmt_ms(p50),
                            fmt_ms(p99),
                            f"max {fmt_ms(max(late))}",
                        ]
                    )
    return rows


def client_retrying(config: dict[str, Any]) -> Any:
    """A Pinecone store whose client retries on its own again (3 times, 0.25 s backoff and
    more), as before edgevec switched that off, and with no retries of edgevec's: the "before"
    of the failover comparison. It reaches into the client's transport, as edgevec does."""
    from pinecone import RetryConfig
    from pinecone._internal.http_client import get_budget_registry

    store: Any = edgevec.connect({**config, "retries": 0})
    store._index._http._client._transport._config = RetryConfig()
    # The client also stops retrying a host once about 50 of its requests failed (a token
    # bucket per host, process-wide); a full bucket keeps each call's retries as a fresh
    # process would make them.
    get_budget_registry()._reset()
    return store


def failover(server: PineconeTestServer, calls: int) -> list[list[object]]:
    """Each call on a fresh router, so nothing is measured yet and the failing endpoint (the
    home region's first) is tried first; the healthy endpoint's direct read in the same
    iteration is the baseline. The endpoints are sync stores (the router runs them in threads)
    so that the two retry policies are compared on the same path."""
    vecs = np.random.default_rng(2).normal(size=(200, DIM)).astype(np.float32)
    rows: list[list[object]] = []
    seeded(server, "failover", vecs).close()
    policies: dict[str, Callable[[dict[str, Any]], Any]] = {
        "client retries (before)": client_retrying,
        "edgevec retries (now)": edgevec.connect,
    }
    with (
        FaultProxy(int(server.url.rsplit(":", 1)[1])) as proxy,
        edgevec.connect(pinecone(server, server.url)) as plain,
    ):
        healthy = plain.collection("failover")
        for fault, spec in (("refused", {"mode": "down"}), ("reset", {"mode": "reset"}),
                            ("HTTP 503", {"mode": "status", "status": 503})):  # fmt: skip
            for policy, open_store in policies.items():
                extra, ratios = [], []
                for i in range(calls):
                    us = [open_store(pinecone(server, proxy.url)), pinecone(server, server.url)]
                    with edgevec.Router({"us": us}, timeout=2.0) as router:
                        coll: Any = router.collection("failover")
                        proxy.set(**spec)
                        t0 = time.perf_counter()
                        coll.query(vecs[i % 200], k=5)
                        t1 = time.perf_counter()
                        healthy.query(vecs[i % 200], k=5)
                        t2 = time.perf_counter()
                        proxy.set("up")
                    extra.append((t1 - t0 - (t2 - t1)) * 1e3)
                    ratios.append((t1 - t0) / (t2 - t1))
                p50, p99 = percentiles(extra)
                rows.append([f"{fault}, {policy}", fmt_ms(p50), fmt_ms(p99),
                             f"{float(np.median(ratios)):.1f}x"])  # fmt: skip
    return rows


def hedging(server: PineconeTestServer, calls: int, stall: float) -> list[list[object]]:
    vecs = np.random.default_rng(3).normal(size=(200, DIM)).astype(np.float32)
    seeded(server, "hedge", vecs).close()
    us = [pinecone(server, server.url), pinecone(server, server.url)]
    plain_router = edgevec.Router({"us": us}, timeout=5.0)
    hedged_router = edgevec.Router({"us": us}, timeout=5.0, hedge=True)
    plain = edgevec.connect(pinecone(server, server.url))
    colls = {
        "router": plain_router.collection("hedge"),
        "router, hedge=True": hedged_router.collection("hedge"),
        "direct": plain.collection("hedge"),
    }
    for coll in colls.values():  # measured latency (and a p95) before the stalls begin
        for i in range(30):
            coll.query(vecs[i], k=5)

    def call(coll: Any) -> Callable[[int], object]:
        def one(i: int) -> object:
            if i % 10 == 0:
                server.slow_next(stall)  # the next request, the first endpoint's, stalls
            return coll.query(vecs[i % 200], k=5)

        return one

    ns, _ = interleaved({name: call(coll) for name, coll in colls.items()}, calls, warmup=0)
    rows: list[list[object]] = []
    for name in colls:
        lat = harness.Latency.of(ns[name])
        rows.append([name, fmt_ms(lat.p50_ms), fmt_ms(lat.p99_ms), fmt_ms(lat.mean_ms)])
    for store in (plain_router, hedged_router, plain):
        store.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--regions", type=int, default=16)
    p.add_argument("--records", type=int, default=2_000, help="records over all regions")
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--stall", type=float, default=0.1, help="seconds a stalled request takes")
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    args = p.parse_args(argv)
    print(f"command: {harness.command_line()}")
    tables = [
        print_table(
            "fan-out and routing overhead (in-process FAISS regions)",
            ["what", "p50", "p99", "vs direct (paired)", "target"],
            fanout(args.regions, args.calls, args.records),
        )
    ]
    with PineconeTestServer(dimension=DIM, metric="cosine") as server:
        for title, headers, rows in (
            ("deadline overshoot (a region stalls every request)", ["call", "p50", "p99", ""],
             deadline(server, args.calls // 4)),
            ("failover: extra time over the healthy endpoint's direct read",
             ["first endpoint", "p50", "p99", "vs direct (paired)"],
             failover(server, args.calls // 5)),
            (f"one endpoint stalls {args.stall:g} s on every 10th request",
             ["contender", "p50", "p99", "mean"], hedging(server, args.calls * 2, args.stall)),
        ):  # fmt: skip
            tables.append(print_table(title, headers, rows))
    if not args.no_json:
        harness.save_run("router", {"tables": tables})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
