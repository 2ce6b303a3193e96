"""edgevec on Qdrant Edge against raw ``qdrant_edge`` calls and against edgevec on FAISS.

The same Fashion-MNIST vectors (l2) go into an edgevec ``qdrant_edge`` collection and an edgevec
``faiss`` HNSW collection, each payload holding the class ``label`` and a random ``bucket`` 0..999
(both declared fields, so Qdrant Edge indexes them). The shard is optimized (HNSW built) before
timing. Then, timed interleaved call by call:

* overhead: edgevec ``query`` against the raw ``EdgeShard.query`` call on the same shard (so both
  search one graph) with the same request, from the same numpy row, reading ids, scores and
  payloads; the raw call converts the row with ``tolist()`` (the engine's documented input) and,
  as a second raw contender, with the row's ``memoryview`` (what edgevec passes); unfiltered and
  filtered; target (issue 12) <= 1.05x per query;
* where a query's time goes: each step of edgevec's call and of the raw one, timed inside a
  second interleaved run (so the timers do not touch the ratio above);
* unfiltered and filtered queries at 10 %, 1 % and 0.5 % selectivity (``bucket < 100 / 10 / 5``):
  latency p50/p99 and recall@10 against the exact answer, Qdrant Edge vs FAISS;
* queries/s with 1 and 2 threads on one Qdrant Edge collection (does the engine release the GIL?);
* how long ``optimize()`` held the interpreter.

Results print as Markdown tables and are written to ``benchmarks/results/*.json``.

    python benchmarks/bench_qdrant_edge.py --n 20000 --queries 300
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import qdrant_edge as qe
from fashion_mnist import DatasetMissingError, load_fashion_mnist
from harness import (
    Latency,
    fmt_ms,
    fmt_ratio,
    hardware,
    interleaved,
    paired_ratio,
    print_table,
    write_results,
)

import edgevec
from edgevec import F, Filter
from edgevec.backends.qdrant_edge import QdrantEdgeCollection
from edgevec.backends.qdrant_edge.filters import compile_filter

Matrix = npt.NDArray[np.float32]
K = 10
SHARES = {"10 %": 100, "1 %": 10, "0.5 %": 5}
"""Selectivity -> ``bucket <`` bound (buckets are uniform over 0..999)."""


def exact_topk(
    base: Matrix, queries: Matrix, allowed: npt.NDArray[np.bool_] | None
) -> list[set[int]]:
    """The true top-``K`` row numbers per query (float64), among ``allowed`` rows."""
    b = base.astype(np.float64)
    norms = (b * b).sum(1)
    rows = np.arange(len(base)) if allowed is None else np.flatnonzero(allowed)
    out = []
    for q in queries.astype(np.float64):
        d = norms[rows] - 2 * b[rows] @ q
        out.append(set(rows[np.argsort(d, kind="stable")[:K]].tolist()))
    return out


def recall(got: Sequence[Sequence[str]], truth: list[set[int]]) -> float:
    """Mean share of the true top-``K`` found (ids are ``v<row>``)."""
    found = sum(len({int(i[1:]) for i in g} & t) for g, t in zip(got, truth))
    return found / sum(len(t) for t in truth)


RawQuery = Callable[[int], tuple[qe.QueryRequest, Callable[[qe.QueryRequest], list[Any]]]]


def steps(
    edge: QdrantEdgeCollection,
    queries: Matrix,
    flt: Filter | None,
    rflt: qe.Filter | None,
    budget_s: float,
) -> dict[str, dict[str, float]]:
    """Median µs of each step of one query, edgevec's and raw's, timed inside an interleaved run.

    edgevec's steps are timed by wrapping its validation (``_prepare_search``), the shard's
    ``query`` and the conversion to ``Hits`` (``_hits``) on this one collection, so the code
    timed is the code that runs; "request" is the rest of the call: the compiled-filter lookup,
    the vector conversion, ``QueryRequest`` and the closed-shard check.
    """
    clock = time.perf_counter_ns
    spent: dict[str, int] = {}
    shard = edge._shard

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args)
            finally:
                spent[name] = clock() - t0

        return run

    class TimedShard:
        def __init__(self) -> None:
            self.query = timed("engine", shard.query)

        def __getattr__(self, name: str) -> Any:
            return getattr(shard, name)

    rows: dict[str, list[list[int]]] = {"edgevec": [], "raw": []}

    def edgevec_query(i: int) -> None:
        t0 = clock()
        edge.query(queries[i % len(queries)], k=K, filter=flt)
        total = clock() - t0
        parts = [spent["validate"], spent["engine"], spent["hits"]]
        rows["edgevec"].append([parts[0], total - sum(parts), parts[1], parts[2], total])

    def raw_query(i: int) -> None:
        t0 = clock()
        vector = qe.Query.Nearest(queries[i % len(queries)].tolist())
        request = qe.QueryRequest(limit=K, query=vector, filter=rflt, with_payload=True)
        t1 = clock()
        points = shard.query(request)
        t2 = clock()
        _ = [(p.id, p.score, p.payload) for p in points]
        t3 = clock()
        rows["raw"].append([0, t1 - t0, t2 - t1, t3 - t2, t3 - t0])

    setattr(edge, "_prepare_search", timed("validate", edge._prepare_search))  # noqa: B010
    setattr(edge, "_hits", timed("hits", edge._hits))  # noqa: B010
    setattr(edge, "_shard", TimedShard())  # noqa: B010
    try:
        interleaved({"edgevec": edgevec_query, "raw": raw_query}, 20 * len(queries),
                    budget_s=budget_s)  # fmt: skip
    finally:
        delattr(edge, "_prepare_search")
        delattr(edge, "_hits")
        edge._shard = shard
    names = ["validate", "request", "engine", "results", "total"]
    return {
        who: dict(zip(names, (np.median(np.array(r), axis=0) / 1000).tolist(), strict=True))
        for who, r in rows.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="base vectors")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per timed series")
    args = parser.parse_args(argv)
    try:
        data = load_fashion_mnist(args.n, args.queries)
    except DatasetMissingError as exc:
        print(exc, file=sys.stderr)
        return 2

    base, queries = data.base, data.queries
    rng = np.random.default_rng(1)
    buckets = rng.integers(0, 1000, len(base))
    ids = [f"v{i}" for i in range(len(base))]
    pays = [{"label": int(lab), "bucket": int(b)} for lab, b in zip(data.base_labels, buckets)]
    fields = {"label": "int", "bucket": "int"}
    hnsw: dict[str, Any] = {"hnsw_m": 16, "ef_construct": 100}

    tmp = tempfile.TemporaryDirectory(prefix="bench-qdrant-edge-")
    edge_store = edgevec.connect(
        "qdrant_edge", path=f"{tmp.name}/edgevec", optimize_after=None, **hnsw
    )
    edge = edge_store.create_collection("fm", data.dim, "l2", fields=fields)
    assert isinstance(edge, QdrantEdgeCollection)
    faiss_store = edgevec.connect("faiss", index="hnsw", hnsw_m=16, ef_construction=100)
    faiss = faiss_store.create_collection("fm", data.dim, "l2", fields=fields)
    for start in range(0, len(base), 5000):
        stop = start + 5000
        edge.upsert_arrays(ids[start:stop], base[start:stop], pays[start:stop])
        faiss.upsert_arrays(ids[start:stop], base[start:stop], pays[start:stop])
    t0 = time.perf_counter()
    edge.optimize()
    optimize_s = time.perf_counter() - t0
    shard = edge._shard  # the raw engine object edgevec calls
    hw = hardware()

    # -- overhead: the same request through edgevec and raw ---------------------------------
    raw_filter = qe.Filter(must=[qe.FieldCondition("bucket", range=qe.RangeFloat(lt=10))])
    # The same engine filter edgevec sends (no search params: neither sets any).
    assert repr(compile_filter(F("bucket") < 10)) == repr(raw_filter)
    overhead: dict[str, dict[str, Any]] = {}
    profile: dict[str, dict[str, dict[str, float]]] = {}
    for label, flt, rflt in (
        ("unfiltered", None, None),
        ("filtered 1 %", F("bucket") < 10, raw_filter),
    ):

        def raw_query(i: int, rflt: Any = rflt, view: bool = False) -> object:
            # From the numpy row, as edgevec starts; ids, scores and payloads read, as edgevec does.
            row = queries[i % len(queries)]
            request = qe.QueryRequest(
                limit=K,
                query=qe.Query.Nearest(
                    row.data if view else row.tolist()
                ),  # the binary reads any float sequence
                filter=rflt,
                with_payload=True,
            )
            return [(p.id, p.score, p.payload) for p in shard.query(request)]

        def edgevec_query(i: int, flt: Filter | None = flt) -> object:
            return edge.query(queries[i % len(queries)], k=K, filter=flt)

        contenders: dict[str, Callable[[int], object]] = {
            "edgevec": edgevec_query,
            "raw": raw_query,
            "raw, memoryview": lambda i: raw_query(i, view=True),
        }
        ns, _ = interleaved(contenders, 20 * len(queries), budget_s=args.budget)
        overhead[label] = {
            "edgevec": Latency.of(ns["edgevec"]), "raw": Latency.of(ns["raw"]),
            "ratio": paired_ratio(ns["edgevec"], ns["raw"]),
            "ratio_memoryview": paired_ratio(ns["edgevec"], ns["raw, memoryview"]),
        }  # fmt: skip
        profile[label] = steps(edge, queries, flt, rflt, args.budget / 2)

    # -- Qdrant Edge vs FAISS: latency and recall -------------------------------------------
    versus: dict[str, dict[str, Any]] = {}
    for label, bound in {"unfiltered": None, **SHARES}.items():
        flt = None if bound is None else F("bucket") < bound
        truth = exact_topk(base, queries, None if bound is None else buckets < bound)

        def top(coll: Any, flt: Filter | None = flt) -> Callable[[int], object]:
            return lambda i: coll.query(queries[i], k=K, filter=flt).ids

        contenders = {"qdrant_edge": top(edge), "faiss": top(faiss)}
        ns, out = interleaved(contenders, len(queries), keep=True, warmup=5)
        versus[label] = {
            name: {"latency": Latency.of(ns[name]), "recall": recall(out[name], truth)}  # type: ignore[arg-type]  # lists of ids
            for name in contenders
        }

    # -- threads: does a second thread add throughput? --------------------------------------
    qps: dict[int, float] = {}
    for threads in (1, 2):
        per = 2 * len(queries) // threads

        def work(per: int = per) -> None:
            for i in range(per):
                edge.query(queries[i % len(queries)], k=K)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        t0 = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        qps[threads] = per * threads / (time.perf_counter() - t0)

    edge_store.close()
    faiss_store.close()
    tmp.cleanup()

    print(
        f"Fashion-MNIST n={len(base)}, {len(queries)} queries, {hw['cpu']}, "
        f"{hw['usable_cpus']} CPUs (load {hw['load_avg_1_5_15']}); "
        f"optimize() held the GIL {optimize_s:.1f} s"
    )
    print_table(
        "edgevec on Qdrant Edge vs raw qdrant_edge (per query, k=10, payload returned)",
        ["query", "edgevec p50", "edgevec p99", "raw p50", "raw p99", "ratio (target 1.05)",
         "vs raw with memoryview"],
        [[k, fmt_ms(v["edgevec"].p50_ms), fmt_ms(v["edgevec"].p99_ms), fmt_ms(v["raw"].p50_ms),
          fmt_ms(v["raw"].p99_ms), fmt_ratio(v["ratio"], 1.05),
          fmt_ratio(v["ratio_memoryview"], 1.05)] for k, v in overhead.items()],
    )  # fmt: skip
    print_table(
        "Where one query's time goes (median µs per step: edgevec / raw)",
        ["query", "validate", "request", "engine", "results", "total"],
        [[k] + [f"{v['edgevec'][s]:.1f} / {v['raw'][s]:.1f}" for s in v["edgevec"]]
         for k, v in profile.items()],
    )  # fmt: skip
    rows = []
    for k, v in versus.items():
        row = [k]
        for name in ("qdrant_edge", "faiss"):
            lat = v[name]["latency"]
            row += [fmt_ms(lat.p50_ms), fmt_ms(lat.p99_ms), f"{v[name]['recall']:.3f}"]
        rows.append(row)
    print_table(
        "edgevec on Qdrant Edge vs edgevec on FAISS (HNSW m=16, declared fields)",
        ["filter", "edge p50", "edge p99", "edge recall", "faiss p50", "faiss p99", "faiss recall"],
        rows,
    )
    print_table("Qdrant Edge queries/s by threads", ["threads", "queries/s"],
                [[t, f"{q:.0f}"] for t, q in qps.items()])  # fmt: skip
    path = write_results(
        "qdrant_edge",
        {"args": vars(args), "hardware": hw, "optimize_s": optimize_s, "overhead": overhead,
         "steps_us": profile, "versus": versus, "qps_by_threads": qps},
    )  # fmt: skip
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
