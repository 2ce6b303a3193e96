"""edgevec on Qdrant Edge against raw ``qdrant_edge`` calls and against edgevec on FAISS.

The same Fashion-MNIST vectors (l2) go into an edgevec ``qdrant_edge`` collection and an edgevec
``faiss`` HNSW collection, each payload holding the class ``label`` and a random ``bucket`` 0..999
(both declared fields, so Qdrant Edge indexes them). The shard is optimized (HNSW built) before
timing. Then, timed interleaved call by call:

* overhead: edgevec ``query`` against the raw ``EdgeShard.query`` call on the same shard (so both
  search one graph), from the same numpy row, reading ids, scores and payloads; unfiltered and
  filtered; target (issue 12) <= 1.05x per query;
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
    overhead: dict[str, dict[str, Any]] = {}
    for label, flt, rflt in (
        ("unfiltered", None, None),
        ("filtered 1 %", F("bucket") < 10, raw_filter),
    ):

        def raw_query(i: int, rflt: Any = rflt) -> object:
            # From the numpy row, as edgevec starts; ids, scores and payloads read, as edgevec does.
            request = qe.QueryRequest(
                limit=K,
                query=qe.Query.Nearest(queries[i % len(queries)].tolist()),
                filter=rflt,
                with_payload=True,
            )
            return [(p.id, p.score, p.payload) for p in shard.query(request)]

        def edgevec_query(i: int, flt: Filter | None = flt) -> object:
            return edge.query(queries[i % len(queries)], k=K, filter=flt)

        contenders: dict[str, Callable[[int], object]] = {
            "edgevec": edgevec_query,
            "raw": raw_query,
        }
        ns, _ = interleaved(contenders, 20 * len(queries), budget_s=args.budget)
        overhead[label] = {
            "edgevec": Latency.of(ns["edgevec"]), "raw": Latency.of(ns["raw"]),
            "ratio": paired_ratio(ns["edgevec"], ns["raw"]),
        }  # fmt: skip

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
        ["query", "edgevec p50", "edgevec p99", "raw p50", "raw p99", "ratio (target 1.05)"],
        [[k, fmt_ms(v["edgevec"].p50_ms), fmt_ms(v["edgevec"].p99_ms), fmt_ms(v["raw"].p50_ms),
          fmt_ms(v["raw"].p99_ms), fmt_ratio(v["ratio"], 1.05)] for k, v in overhead.items()],
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
         "versus": versus, "qps_by_threads": qps},
    )  # fmt: skip
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
