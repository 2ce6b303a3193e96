"""Where edgevec's time goes on top of raw FAISS: a stage breakdown and a cProfile listing.

``bench_faiss.py`` says *whether* edgevec meets its overhead targets; this script says *why not*.
It builds one edgevec collection and gives raw FAISS a byte copy of its index, then times,
interleaved and per call:

* ``faiss``           raw ``index.search``;
* ``validate``        ``prepare_query`` alone (shape, dtype, NaN/Inf, k, filter checks);
* ``backend hook``    the backend's ``_query`` on an already-prepared query (search + hits);
* ``edgevec``         the public ``query`` / ``query_batch``;
* ``edgevec, no payload``  the same with ``include_payload=False``.

Each contender uses a different query in the same iteration (offset by a fixed stride), so no
contender finds the graph nodes another just visited in cache. Then it runs cProfile over the
public call and prints the costliest functions by own time.

    python benchmarks/profile_faiss.py --index hnsw --n 20000 --queries 2000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from collections.abc import Callable, Sequence
from typing import Any

import faiss
import harness
import numpy as np
import numpy.typing as npt
from fashion_mnist import DatasetMissingError, load_fashion_mnist
from harness import Latency, fmt_ms, interleaved, print_table

import edgevec
from edgevec.prepare import prepare_query

RAW = "faiss"
Vectors = npt.NDArray[np.float32]


def build(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """(edgevec store, collection, raw index, data) with the same vectors in the same batches."""
    data = load_fashion_mnist(args.n, args.queries, seed=args.seed, directory=args.data_dir)
    dim = data.dim
    store = edgevec.connect(
        "faiss", index=args.index, hnsw_m=32, ef_construction=200, ef_search=args.ef_search
    )
    coll = store.create_collection("profile", dim=dim, metric="l2")
    step = 10_000
    for s in range(0, len(data.base), step):
        rows = range(s, min(s + step, len(data.base)))
        payloads = [{"label": int(data.base_labels[i]), "shard": i % 10} for i in rows]
        coll.upsert_arrays([str(i) for i in rows], data.base[s : s + step], payloads)
    # Raw FAISS searches a byte copy of edgevec's own index: the same graph (an HNSW graph built
    # separately differs), in its own memory (sharing one would run it from the other's caches).
    own: Any = coll
    raw = faiss.deserialize_index(faiss.serialize_index(own._index))
    return store, coll, raw, data


def stages(
    coll: Any, raw: Any, queries: Vectors, k: int, batch: int, args: argparse.Namespace
) -> dict[str, Latency]:
    """Interleaved per-call timings of the stages, each contender on its own query stream."""
    nq = len(queries)
    kw: dict[str, Any] = {
        "dim": coll.dim,
        "metric": coll.metric,
        "capabilities": coll.capabilities,
        "backend": coll.backend,
    }
    if batch > 1:
        starts = list(range(0, nq - batch + 1, batch))

        def q(i: int, j: int) -> Vectors:
            s = starts[(i + j * 7) % len(starts)]
            return queries[s : s + batch]

        prepared = {
            s: prepare_query(queries[s : s + batch], k, None, batch=True, **kw) for s in starts
        }
        fns: dict[str, Callable[[int], object]] = {
            RAW: lambda i: raw.search(q(i, 0), k),
            "validate": lambda i: prepare_query(q(i, 1), k, None, batch=True, **kw),
            "backend hook": lambda i: coll._query(prepared[starts[(i + 14) % len(starts)]]),
            "edgevec": lambda i: coll.query_batch(q(i, 3), k),
            "edgevec, no payload": lambda i: coll.query_batch(q(i, 4), k, include_payload=False),
        }
        n = len(starts) * args.batch_rounds
    else:
        stride = max(1, nq // 5)

        def one(i: int, j: int) -> Vectors:
            return queries[(i + j * stride) % nq]  # type: ignore[no-any-return]

        pq = [prepare_query(queries[i], k, None, **kw) for i in range(nq)]
        fns = {
            RAW: lambda i: raw.search(one(i, 0)[None, :], k),
            "validate": lambda i: prepare_query(one(i, 1), k, None, **kw),
            "backend hook": lambda i: coll._query(pq[(i + 2 * stride) % nq]),
            "edgevec": lambda i: coll.query(one(i, 3), k),
            "edgevec, no payload": lambda i: coll.query(one(i, 4), k, include_payload=False),
        }
        n = nq
    samples, _ = interleaved(fns, n, warmup=min(50, n), budget_s=args.series_seconds)
    return {name: Latency.of(ns) for name, ns in samples.items()}


def profile(fn: Callable[[], object], top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    stats.print_stats(top)
    return out.getvalue()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--index", choices=["flat", "hnsw"], default="hnsw")
    p.add_argument("--n", type=int, default=20_000, help="base vectors")
    p.add_argument("--queries", type=int, default=2000, help="distinct queries")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--ef-search", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--batch-rounds", type=int, default=5)
    p.add_argument("--series-seconds", type=float, default=20.0)
    p.add_argument("--top", type=int, default=20, help="functions listed by cProfile")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        store, coll, raw, data = build(args)
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hw = harness.hardware()
    print(f"cpu: {hw['cpu']}, {hw['usable_cpus']} usable CPUs, load {hw['load_avg_1_5_15']}")
    print(f"faiss {hw.get('faiss')}, numpy {hw['numpy']}, python {hw['python']}\n")
    qs, k = data.queries, args.k
    for label, batch in (("single query", 1), (f"batch of {args.batch_size}", args.batch_size)):
        res = stages(coll, raw, qs, k, batch, args)
        base = res[RAW].p50_ms
        rows = [
            [
                name,
                fmt_ms(lat.p50_ms),
                fmt_ms(lat.mean_ms),
                f"{(lat.p50_ms - base) * 1000:+.1f} µs" if name != "validate" else "",
                f"{lat.p50_ms / base:.3f}x" if name != "validate" else "",
                lat.n,
            ]
            for name, lat in res.items()
        ]
        print_table(
            f"{args.index}, n={len(data.base)}, k={k}, {label}: stages (p50 delta vs raw faiss)",
            ["stage", "p50", "mean", "p50 - faiss", "ratio", "calls"],
            rows,
        )
    nq = len(qs)
    bs = args.batch_size
    print(f"cProfile, {nq} single queries (own time):")
    print(profile(lambda: [coll.query(qs[i], k) for i in range(nq)], args.top))
    print(f"cProfile, {nq // bs} batches of {bs} (own time):")
    print(
        profile(lambda: [coll.query_batch(qs[s : s + bs], k) for s in range(0, nq, bs)], args.top)
    )
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
