"""edgevec's FAISS backend against raw FAISS, in one run, on the same data and index parameters.

For each index kind (``flat``, ``hnsw``) one raw FAISS index and one edgevec collection are built
from the same Fashion-MNIST vectors in the same batches, then timed interleaved call by call:

* upsert throughput (edgevec's records also carry a two-field payload, raw FAISS has none);
* query latency p50/p99 at k=10, one query per call and ``--batch-size`` queries per call;
* recall@10 against exact ground truth, and how often edgevec's top-10 equals raw FAISS's;
* filtered queries on the class label (~10 % of rows pass) and label + a random shard of 20
  (~1 % and ~0.5 %), the hard case since the label is correlated with the vectors, and on a
  random bucket of 200 (``in`` 20 buckets, ``in`` 2, ``==`` 1: ~10 / 1 / 0.5 %, and the range
  ``< 20``, which no partition answers); ``label``,
  ``shard`` and ``bucket`` are declared ``int`` fields. edgevec's ``F`` filter runs against FAISS
  given an ``IDSelectorBitmap`` built once from the same mask and against edgevec's own
  unfiltered query, all three interleaved call by call (issue 9: <= 2x unfiltered, recall >= 0.95);
* queries/s with 1, 2 and 4 reader threads sharing one collection (or one raw index);
* one-record upserts: in memory against raw ``add``, persisted with and without fsyncs;
* cold ``import edgevec`` in fresh interpreters, next to ``import numpy`` and ``import faiss``.

Raw FAISS builds its own index for the upsert timing; every query series then runs against a
byte copy of edgevec's own index (and the A/A control against another copy), so both sides
search the same graph yet none shares memory, and so warm caches, with another.

Targets (issue 2): edgevec <= 1.10x raw FAISS per single query, <= 1.03x per batch, identical
recall. Results print as Markdown tables and are written to ``benchmarks/results/*.json``.

    python benchmarks/bench_faiss.py --n 60000 --queries 1000
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import harness
import numpy as np
import numpy.typing as npt
from fashion_mnist import DatasetMissingError, FashionMnist, load_fashion_mnist
from harness import (
    Latency,
    fmt_ms,
    fmt_ratio,
    interleaved,
    paired_ratio,
    print_table,
    ratio,
    verdict,
)

import edgevec
from edgevec import F, Filter

TARGET_SINGLE = 1.10
TARGET_BATCH = 1.03
EDGEVEC, RAW, CONTROL = "edgevec", "faiss", "faiss copy"
ARRAYS = "edgevec query_arrays"
UNFILTERED = "edgevec unfiltered"
EXACT = "edgevec exact scan"  # the bitmap scan of every slot filtered HNSW used before partitions

IntMatrix = npt.NDArray[np.int64]

# faiss 1.15's bundled stubs lack SearchParametersHNSW and the ``sel=`` keyword: reach them untyped.
_faiss: Any = faiss


# -- results --------------------------------------------------------------------------------


@dataclass
class FilteredResult:
    name: str
    selectivity: float
    latency: dict[str, Latency]
    paired: float
    recall: dict[str, float]
    vs_unfiltered: float
    """Median per-call ratio of edgevec's filtered query to its unfiltered one (same queries)."""
    exact_vs_unfiltered: float
    """The same for an exact scan under the bitmap (``params={"exact": True}``)."""


@dataclass
class IndexResult:
    kind: str
    params: dict[str, Any]
    upsert_s: dict[str, float]
    upsert_vps: dict[str, float]
    single: dict[str, Latency]
    batch: dict[str, Latency]
    paired: dict[str, float]
    """Median per-call ratio to raw faiss: edgevec's by mode, and the A/A control's."""
    batch_size: int
    recall: dict[str, float]
    recall_queries: int
    same_top_k: float
    filtered: list[FilteredResult] = field(default_factory=list)
    partition_rows: int = 0
    """Rows copied into filter partitions and blocks after the filtered series (memory)."""
    readers: dict[str, Any] = field(default_factory=dict)
    """Queries/s by contender and reader threads, and the median paired edgevec/raw ratio."""


# -- helpers --------------------------------------------------------------------------------


def exact_knn(queries: npt.NDArray[np.float32], base: npt.NDArray[np.float32], k: int) -> IntMatrix:
    """Exact k nearest (squared L2) neighbours of each query: the ground truth."""
    _, ids = faiss.knn(queries, base, k, metric=faiss.METRIC_L2)
    return np.asarray(ids, dtype=np.int64)


def recall_at_k(
    queries: npt.NDArray[np.float32],
    base: npt.NDArray[np.float32],
    found: IntMatrix,
    truth: IntMatrix,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> float:
    """Mean share of each query's k results no farther than its true k-th neighbour.

    The ann-benchmarks definition: distances are recomputed exactly (float64) and a result at
    the same distance as the k-th true neighbour counts, so duplicate images (ties) neither
    reward nor punish an index. ``-1`` padding and rows outside ``allowed`` never count.
    """
    k = truth.shape[1]
    q = queries.astype(np.float64)[:, None, :]
    kth = ((q - base[truth[:, -1:]].astype(np.float64)) ** 2).sum(-1)
    valid = found >= 0
    safe = np.where(valid, found, 0)
    dist = ((q - base[safe].astype(np.float64)) ** 2).sum(-1)
    ok = valid & (dist <= kth * (1 + 1e-9) + 1e-6)
    if allowed is not None:
        ok &= allowed[safe]
    return float(ok.sum() / (len(truth) * k))


def hits_to_ids(results: Sequence[object], k: int) -> IntMatrix:
    """edgevec's ``Hits`` (ids are the base row numbers as str) → an ``(n, k)`` array, -1 padded."""
    out = np.full((len(results), k), -1, dtype=np.int64)
    for row, hits in enumerate(results):
        assert isinstance(hits, edgevec.Hits)
        ids = [int(i) for i in hits.ids]
        out[row, : len(ids)] = ids
    return out


def _batch(result: object) -> list[object]:
    """One ``query_batch`` result: a list of ``Hits``."""
    assert isinstance(result, list)
    return result


def faiss_to_ids(results: Sequence[object]) -> IntMatrix:
    """Raw ``index.search`` results (``(distances, labels)`` per call) → one label matrix."""
    labels = []
    for r in results:
        assert isinstance(r, tuple)
        labels.append(np.asarray(r[1], dtype=np.int64))
    return np.vstack(labels)


def new_raw_index(kind: str, args: argparse.Namespace, dim: int) -> Any:
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, args.hnsw_m, faiss.METRIC_L2)
        index.hnsw.efConstruction = args.ef_construction
        index.hnsw.efSearch = args.ef_search
        return index
    return faiss.IndexFlat(dim, faiss.METRIC_L2)


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- one index kind -------------------------------------------------------------------------


def bench_index(
    kind: str,
    data: FashionMnist,
    truth: IntMatrix,
    shard: npt.NDArray[np.int64],
    args: argparse.Namespace,
) -> IndexResult:
    k, n, dim = args.k, len(data.base), data.dim
    params = {"index": kind, "metric": "l2", "dim": dim, "n": n}
    if kind == "hnsw":
        params |= {"M": args.hnsw_m, "efConstruction": args.ef_construction}
        params |= {"efSearch": args.ef_search}
    raw = new_raw_index(kind, args, dim)
    store = edgevec.connect(
        "faiss",
        index=kind,
        hnsw_m=args.hnsw_m,
        ef_construction=args.ef_construction,
        ef_search=args.ef_search,
        partition_flat_rows=args.partition_flat_rows,
    )
    fields = {"label": "int", "shard": "int", "bucket": "int"}
    coll = store.create_collection(f"fm_{kind}", dim=dim, metric="l2", fields=fields)
    xb, xq = data.base, data.queries

    # Upsert: the same batches, alternating which side goes first.
    progress(f"{kind}: upserting {n} vectors in batches of {args.upsert_batch}")
    ids = [str(i) for i in range(n)]
    bucket = np.random.default_rng(args.seed + 2).integers(0, 200, n).astype(np.int64)
    payloads = [
        {"label": int(lab), "shard": int(s), "bucket": int(b)}
        for lab, s, b in zip(data.base_labels, shard, bucket, strict=True)
    ]
    starts = list(range(0, n, args.upsert_batch))
    b = args.upsert_batch
    up, _ = interleaved(
        {
            EDGEVEC: lambda i: coll.upsert_arrays(
                ids[starts[i] : starts[i] + b],
                xb[starts[i] : starts[i] + b],
                payloads[starts[i] : starts[i] + b],
            ),
            RAW: lambda i: raw.add(xb[starts[i] : starts[i] + b]),
        },
        len(starts),
        warmup=0,
    )
    assert coll.count() == raw.ntotal == n
    upsert_s = {name: float(ns.sum()) / 1e9 for name, ns in up.items()}
    # A/A control: a byte-identical copy of the raw index, timed alongside. Its ratio to the raw
    # index is the noise floor of this run; edgevec's ratio means something only above it.
    # Every query series searches a byte copy of edgevec's own index (same graph, own memory).
    own: Any = coll
    raw = faiss.deserialize_index(faiss.serialize_index(own._index))
    control = faiss.deserialize_index(faiss.serialize_index(raw))

    # Single queries, every query timed `single_rounds` times.
    nq = len(xq)
    progress(f"{kind}: up to {nq * args.single_rounds} single queries each")
    single, out = interleaved(
        {
            EDGEVEC: lambda i: coll.query(xq[i % nq], k=k),
            RAW: lambda i: raw.search(xq[i % nq : i % nq + 1], k),
            CONTROL: lambda i: control.search(xq[i % nq : i % nq + 1], k),
        },
        nq * args.single_rounds,
        warmup=args.warmup,
        keep=True,
        budget_s=args.series_seconds,
    )
    m = min(nq, len(out[EDGEVEC]))
    ev_ids, raw_ids = hits_to_ids(out[EDGEVEC][:m], k), faiss_to_ids(out[RAW][:m])

    # Batches of queries, every batch timed `batch_rounds` times.
    bs = min(args.batch_size, len(xq))
    first_round = list(range(0, len(xq) - bs + 1, bs))
    bstarts = first_round * args.batch_rounds
    progress(f"{kind}: up to {len(bstarts)} batches of {bs} queries each")
    batch, bout = interleaved(
        {
            EDGEVEC: lambda i: coll.query_batch(xq[bstarts[i] : bstarts[i] + bs], k=k),
            ARRAYS: lambda i: coll.query_arrays(xq[bstarts[i] : bstarts[i] + bs], k=k),
            RAW: lambda i: raw.search(xq[bstarts[i] : bstarts[i] + bs], k),
            CONTROL: lambda i: control.search(xq[bstarts[i] : bstarts[i] + bs], k),
        },
        len(bstarts),
        warmup=min(2, len(bstarts)),
        keep=True,
        budget_s=args.series_seconds,
        min_calls=min(5, len(bstarts)),
    )
    nb = min(len(batch[EDGEVEC]), len(first_round))
    ev_batch = hits_to_ids([hits for call in bout[EDGEVEC][:nb] for hits in _batch(call)], k)
    raw_batch = faiss_to_ids(bout[RAW][:nb])
    mb = len(ev_batch)
    same = min(m, mb)
    if not np.array_equal(ev_batch[:same], ev_ids[:same]):
        progress(f"{kind}: note: edgevec's batch and single-query results differ")

    result = IndexResult(
        kind=kind,
        params=params,
        upsert_s=upsert_s,
        upsert_vps={name: n / s for name, s in upsert_s.items()},
        single={name: Latency.of(ns) for name, ns in single.items()},
        batch={name: Latency.of(ns) for name, ns in batch.items()},
        paired={
            "single": paired_ratio(single[EDGEVEC], single[RAW]),
            "batch": paired_ratio(batch[EDGEVEC], batch[RAW]),
            "arrays": paired_ratio(batch[ARRAYS], batch[RAW]),
            "single A/A": paired_ratio(single[CONTROL], single[RAW]),
            "batch A/A": paired_ratio(batch[CONTROL], batch[RAW]),
        },
        batch_size=bs,
        recall={
            EDGEVEC: recall_at_k(xq[:m], xb, ev_ids, truth[:m]),
            RAW: recall_at_k(xq[:m], xb, raw_ids, truth[:m]),
            f"{EDGEVEC} batch": recall_at_k(xq[:mb], xb, ev_batch, truth[:mb]),
            f"{RAW} batch": recall_at_k(xq[:mb], xb, raw_batch, truth[:mb]),
        },
        recall_queries=m,
        same_top_k=float(np.mean(np.all(ev_ids == raw_ids, axis=1))),
    )

    # Filtered single queries: edgevec's F filter vs FAISS with a prebuilt bitmap selector.
    label = int(np.bincount(data.base_labels).argmax())
    cases: list[tuple[str, Filter, npt.NDArray[np.bool_]]] = [
        (f"label == {label}", F("label") == label, data.base_labels == label),
        (
            f"label == {label} & shard < 2",
            (F("label") == label) & (F("shard") < 2),
            (data.base_labels == label) & (shard < 2),
        ),
        (
            f"label == {label} & shard == 0",
            (F("label") == label) & (F("shard") == 0),
            (data.base_labels == label) & (shard == 0),
        ),
        ("bucket in 0..19", F("bucket").isin(range(20)), bucket < 20),
        ("bucket in [0, 1]", F("bucket").isin([0, 1]), bucket < 2),
        ("bucket == 0", F("bucket") == 0, bucket == 0),
        ("bucket < 20 (a range)", F("bucket") < 20, bucket < 20),
    ]
    qf = xq[: args.filter_queries]
    for name, flt, mask in cases:
        progress(f"{kind}: up to {len(qf)} filtered queries each, {name}")
        subset = np.flatnonzero(mask)
        ftruth = subset[exact_knn(qf, np.ascontiguousarray(xb[subset]), min(k, len(subset)))]
        bitmap = np.packbits(mask, bitorder="little")
        sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        sp = (
            _faiss.SearchParametersHNSW(sel=sel, efSearch=args.ef_search)
            if kind == "hnsw"
            else _faiss.SearchParameters(sel=sel)
        )
        flat_, fout = interleaved(
            {
                EDGEVEC: lambda i, flt=flt: coll.query(qf[i], k=k, filter=flt),  # type: ignore[misc]
                RAW: lambda i, sp=sp: raw.search(qf[i : i + 1], k, params=sp),  # type: ignore[misc]
                UNFILTERED: lambda i: coll.query(qf[i], k=k),
                EXACT: lambda i, flt=flt: coll.query(  # type: ignore[misc]
                    qf[i], k=k, filter=flt, params={"exact": True}
                ),
            },
            len(qf),
            warmup=args.warmup,
            keep=True,
            budget_s=args.series_seconds,
        )
        mf = len(flat_[EDGEVEC])
        result.filtered.append(
            FilteredResult(
                name=name,
                selectivity=float(mask.mean()),
                latency={nm: Latency.of(ns) for nm, ns in flat_.items()},
                paired=paired_ratio(flat_[EDGEVEC], flat_[RAW]),
                vs_unfiltered=paired_ratio(flat_[EDGEVEC], flat_[UNFILTERED]),
                exact_vs_unfiltered=paired_ratio(flat_[EXACT], flat_[UNFILTERED]),
                recall={
                    EDGEVEC: recall_at_k(
                        qf[:mf], xb, hits_to_ids(fout[EDGEVEC], k), ftruth[:mf], mask
                    ),
                    RAW: recall_at_k(qf[:mf], xb, faiss_to_ids(fout[RAW]), ftruth[:mf], mask),
                },
            )
        )
        del sel, bitmap

    result.partition_rows = int(coll.stats().health.get("partition_rows", 0))
    result.readers = bench_readers(coll, raw, xq, k, args)
    store.close()
    return result


def queries_per_second(
    search: Any, queries: npt.NDArray[np.float32], k: int, threads: int, seconds: float
) -> float:
    """Single queries/s of ``threads`` threads calling ``search(query, k)`` for ``seconds``."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def work(t: int) -> None:
        start.wait()
        i, end = t, time.perf_counter() + seconds
        while time.perf_counter() < end:
            search(queries[i % len(queries) : i % len(queries) + 1], k)
            i += threads
        counts[t] = (i - t) // threads

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    start.wait()
    for th in pool:
        th.join()
    return sum(counts) / seconds


def bench_readers(
    coll: edgevec.BaseCollection,
    raw: Any,
    xq: npt.NDArray[np.float32],
    k: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Queries/s of 1, 2, 4 concurrent reader threads: edgevec vs raw FAISS, interleaved.

    Every round runs each contender at each thread count for ``--reader-seconds``, alternating
    which goes first; FAISS's OpenMP is pinned to 1 thread here so the threads are the only
    parallelism (a single query does not use OpenMP anyway). Ratios are raw/edgevec queries/s
    per round (so > 1 means edgevec is slower), reported as medians.
    """
    contenders = {
        EDGEVEC: lambda q, kk: coll.query(q[0], k=kk),
        RAW: lambda q, kk: raw.search(q, kk),
    }
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    qps: dict[str, dict[int, list[float]]] = {name: {} for name in contenders}
    try:
        for rnd in range(args.reader_rounds):
            for threads in args.reader_threads:
                progress(f"readers: round {rnd + 1}, {threads} thread(s)")
                order = list(contenders) if (rnd + threads) % 2 else list(contenders)[::-1]
                for name in order:
                    got = queries_per_second(contenders[name], xq, k, threads, args.reader_seconds)
                    qps[name].setdefault(threads, []).append(got)
    finally:
        faiss.omp_set_num_threads(before)
    return {
        "qps": {name: {t: float(np.median(v)) for t, v in by.items()} for name, by in qps.items()},
        "paired": {
            t: float(np.median(np.divide(qps[RAW][t], qps[EDGEVEC][t])))
            for t in args.reader_threads
        },
        "rounds": args.reader_rounds,
        "seconds": args.reader_seconds,
    }


def bench_single_upserts(data: FashionMnist, calls: int) -> dict[str, Latency]:
    """One-record upserts into a flat collection already holding the base set, interleaved:
    in memory against raw ``add``, and persisted with and without fsyncs (``durable``)."""
    progress(f"single-record upserts, {calls} calls each")
    xb, dim = data.base, data.dim
    ids = [str(i) for i in range(len(xb))]
    payloads = [{"label": int(lab), "shard": 0} for lab in data.base_labels]
    raw = faiss.IndexFlat(dim, faiss.METRIC_L2)
    raw.add(xb)
    with tempfile.TemporaryDirectory() as tmp:
        colls = {}
        for name, options in (
            ("edgevec in memory", {}),
            ("edgevec persisted, durable", {"path": f"{tmp}/d"}),
            ("edgevec persisted, durable=False", {"path": f"{tmp}/n", "durable": False}),
        ):
            colls[name] = edgevec.connect("faiss", **options).create_collection("u", dim, "l2")
            colls[name].upsert_arrays(ids, xb, payloads)
        contenders: dict[str, Any] = {
            name: lambda i, c=c: c.upsert_arrays([f"new{i}"], xb[i : i + 1], [{"label": 1}])
            for name, c in colls.items()
        }
        contenders[RAW] = lambda i: raw.add(xb[i : i + 1])
        timings, _ = interleaved(contenders, calls, warmup=5)
    return {name: Latency.of(ns) for name, ns in timings.items()}


# -- import time ----------------------------------------------------------------------------

IMPORTS = {
    "import numpy": "import numpy",
    "import faiss": "import faiss",
    "import edgevec": "import edgevec",
    "import edgevec + connect('faiss')": "import edgevec; edgevec.connect('faiss')",
}
_HEAVY = ("faiss", "onnxruntime", "qdrant_client", "pymilvus", "pinecone", "weaviate", "torch")


def bench_imports(runs: int) -> dict[str, Any]:
    progress(f"cold imports, {runs} fresh interpreters each")
    times = {label: harness.import_times(stmt, runs) for label, stmt in IMPORTS.items()}
    heavy = harness.child_output(
        f"import sys, edgevec; print(','.join(sorted(set({_HEAVY!r}) & set(sys.modules))))"
    )
    return {
        "ms": times,
        "median_ms": {label: harness.median(t) for label, t in times.items()},
        "heavy_modules_loaded_by_import_edgevec": [m for m in heavy.split(",") if m],
        "edgevec_breakdown_ms": harness.import_breakdown("edgevec", runs=min(runs, 5)),
    }


# -- report ---------------------------------------------------------------------------------


def report(results: list[IndexResult], imports: dict[str, Any] | None) -> list[str]:
    tables = []
    rows: list[list[object]] = []
    for r in results:
        for mode, lat, ours, key, target in (
            ("single", r.single, EDGEVEC, "single", TARGET_SINGLE),
            (f"batch of {r.batch_size}", r.batch, EDGEVEC, "batch", TARGET_BATCH),
            (f"query_arrays, batch of {r.batch_size}", r.batch, ARRAYS, "arrays", TARGET_BATCH),
        ):
            aa = "single A/A" if key == "single" else "batch A/A"
            ev, fa = lat[ours], lat[RAW]
            rows.append(
                [
                    r.kind,
                    mode,
                    fmt_ms(ev.p50_ms),
                    fmt_ms(fa.p50_ms),
                    fmt_ratio(ratio(ev.p50_ms, fa.p50_ms)),
                    fmt_ratio(r.paired[key], target, abs(r.paired[aa] - 1)),
                    fmt_ratio(r.paired[aa]),
                    fmt_ms(ev.p99_ms),
                    fmt_ms(fa.p99_ms),
                    fmt_ratio(ratio(ev.p99_ms, fa.p99_ms)),
                    f"{target:.2f}x",
                    ev.n,
                ]
            )
    tables.append(
        print_table(
            "Query latency per call, k=10 (edgevec / raw FAISS; paired: median per-call ratio)",
            [
                "index",
                "mode",
                "edgevec p50",
                "faiss p50",
                "p50 ratio",
                "paired ratio",
                "A/A control",
                "edgevec p99",
                "faiss p99",
                "p99 ratio",
                "target",
                "calls",
            ],
            rows,
        )
    )
    rows = [
        [
            r.kind,
            f"{r.recall[EDGEVEC]:.4f}",
            f"{r.recall[RAW]:.4f}",
            "yes" if r.recall[EDGEVEC] == r.recall[RAW] else "NO",
            f"{r.same_top_k:.1%}",
            r.recall_queries,
            f"{r.upsert_vps[EDGEVEC]:,.0f}",
            f"{r.upsert_vps[RAW]:,.0f}",
            fmt_ratio(ratio(r.upsert_s[EDGEVEC], r.upsert_s[RAW])),
        ]
        for r in results
    ]
    tables.append(
        print_table(
            "Recall@10 vs exact, and upsert throughput (vectors/s; time ratio = edgevec / faiss)",
            [
                "index",
                "edgevec recall",
                "faiss recall",
                "identical",
                "same top-10",
                "queries",
                "edgevec upsert/s",
                "faiss upsert/s",
                "time ratio",
            ],
            rows,
        )
    )
    rows = [
        [
            r.kind,
            f.name,
            f"{f.selectivity:.2%}",
            fmt_ms(f.latency[EDGEVEC].p50_ms),
            fmt_ms(f.latency[EDGEVEC].p99_ms),
            fmt_ms(f.latency[RAW].p50_ms),
            fmt_ms(f.latency[RAW].p99_ms),
            fmt_ratio(ratio(f.latency[EDGEVEC].p50_ms, f.latency[RAW].p50_ms)),
            fmt_ratio(f.paired),
            fmt_ms(f.latency[UNFILTERED].p50_ms),
            fmt_ratio(f.vs_unfiltered, 2.0),
            fmt_ratio(f.exact_vs_unfiltered),
            f"{f.recall[EDGEVEC]:.4f}",
            f"{f.recall[RAW]:.4f}",
        ]
        for r in results
        for f in r.filtered
    ]
    if rows:
        tables.append(
            print_table(
                "Filtered single queries, k=10 (faiss: IDSelectorBitmap prebuilt from the mask)",
                [
                    "index",
                    "filter",
                    "rows pass",
                    "edgevec p50",
                    "edgevec p99",
                    "faiss p50",
                    "faiss p99",
                    "p50 ratio",
                    "paired ratio",
                    "unfiltered p50",
                    "vs unfiltered (paired)",
                    "exact scan vs unfiltered",
                    "edgevec recall",
                    "faiss recall",
                ],
                rows,
            )
        )
        for r in results:
            dim = int(r.params["dim"])
            print(
                f"{r.kind}: filter partitions and blocks hold {r.partition_rows:,} rows, "
                f"{r.partition_rows * 4 * dim / 2**20:.1f} MiB of vector copies (index: "
                f"{int(r.params['n']) * 4 * dim / 2**20:.1f} MiB)\n"
            )
    rows = [
        [
            r.kind,
            t,
            f"{r.readers['qps'][EDGEVEC][t]:,.0f}",
            f"{r.readers['qps'][RAW][t]:,.0f}",
            fmt_ratio(r.readers["paired"][t]),
            fmt_ratio(
                r.readers["qps"][EDGEVEC][t]
                / r.readers["qps"][EDGEVEC][min(r.readers["qps"][EDGEVEC])]
            ),
        ]
        for r in results
        if r.readers
        for t in r.readers["qps"][EDGEVEC]
    ]
    if rows:
        tables.append(
            print_table(
                "Concurrent readers: single queries/s, k=10, FAISS OpenMP 1 thread (medians of "
                "interleaved rounds; ratio = faiss q/s / edgevec q/s per round, median)",
                ["index", "threads", "edgevec q/s", "faiss q/s", "paired ratio", "edgevec scaling"],
                rows,
            )
        )
    if imports is not None:
        rows = [
            [label, f"{harness.median(t):.0f} ms", f"{min(t):.0f} ms", f"{max(t):.0f} ms", len(t)]
            for label, t in imports["ms"].items()
        ]
        tables.append(
            print_table(
                "Cold import (fresh interpreter, warm disk cache; startup excluded)",
                ["statement", "median", "min", "max", "runs"],
                rows,
            )
        )
        rows = [[pkg, f"{ms:.1f} ms"] for pkg, ms in imports["edgevec_breakdown_ms"]]
        tables.append(
            print_table(
                "Where `import edgevec` spends its time (-X importtime, self time)",
                ["package", "time"],
                rows,
            )
        )
        print(
            "vendor modules loaded by `import edgevec`:",
            imports["heavy_modules_loaded_by_import_edgevec"] or "none",
        )
    return tables


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--n", type=int, default=60_000, help="base vectors (subsampled from 60,000)")
    p.add_argument(
        "--queries", type=int, default=1000, help="queries (from the 10,000 test images)"
    )
    p.add_argument("--filter-queries", type=int, default=200, help="queries per filter case")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=100, help="queries per batch call")
    p.add_argument("--single-rounds", type=int, default=3, help="times every query is timed")
    p.add_argument("--batch-rounds", type=int, default=5, help="times every batch is timed")
    p.add_argument("--upsert-batch", type=int, default=1000, help="vectors per upsert call")
    p.add_argument("--index", nargs="+", choices=["flat", "hnsw"], default=["flat", "hnsw"])
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef-search", type=int, default=64)
    p.add_argument(
        "--partition-flat-rows",
        type=int,
        default=4096,
        help="HNSW: filter partitions up to this size are flat blocks, larger ones graphs",
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed calls before each series")
    p.add_argument(
        "--series-seconds",
        type=float,
        default=15.0,
        help="stop a timed series after this long (slow exact searches time fewer calls)",
    )
    p.add_argument("--threads", type=int, default=None, help="FAISS OpenMP threads (default: all)")
    p.add_argument("--upsert-calls", type=int, default=300, help="one-record upserts timed")
    p.add_argument("--reader-threads", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--reader-rounds", type=int, default=5, help="interleaved rounds of readers")
    p.add_argument("--reader-seconds", type=float, default=1.0, help="seconds per reader series")
    p.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import")
    p.add_argument("--no-imports", action="store_true", help="skip the import-time measurement")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None, help="Fashion-MNIST directory")
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    command = "python benchmarks/bench_faiss.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    try:
        data = load_fashion_mnist(args.n, args.queries, seed=args.seed, directory=args.data_dir)
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hw = harness.hardware()
    print(f"command: {command}")
    print(f"edgevec: {Path(edgevec.__file__).parent}")
    for key, value in hw.items():
        print(f"{key}: {value}")
    print()

    shard = np.random.default_rng(args.seed + 1).integers(0, 20, len(data.base)).astype(np.int64)
    progress(f"exact ground truth for {len(data.queries)} queries over {len(data.base)} vectors")
    truth = exact_knn(data.queries, data.base, args.k)
    results: list[IndexResult] = []
    t0 = time.perf_counter()
    for kind in args.index:
        results.append(bench_index(kind, data, truth, shard, args))
        gc.collect()
    upserts = bench_single_upserts(data, args.upsert_calls)
    imports = None if args.no_imports else bench_imports(args.import_runs)
    elapsed = time.perf_counter() - t0
    load_end = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    progress(f"done in {elapsed:.0f} s; load average now {load_end}")
    print()
    tables = report(results, imports)
    rows = [[name, fmt_ms(lat.p50_ms), fmt_ms(lat.p99_ms), lat.n] for name, lat in upserts.items()]
    tables.append(
        print_table(
            f"One-record upserts into a flat collection of {len(data.base)} rows (per call)",
            ["contender", "p50", "p99", "calls"],
            rows,
        )
    )
    verdicts = []
    for r in results:
        parts = []
        for key, target in (
            ("single", TARGET_SINGLE),
            ("batch", TARGET_BATCH),
            ("arrays", TARGET_BATCH),
        ):
            got = r.paired[key]
            noise = abs(r.paired["single A/A" if key == "single" else "batch A/A"] - 1)
            parts.append(
                f"{key} {got:.3f}x ({verdict(got, target, noise)} {target:.2f}x; "
                f"A/A noise {noise:.1%})"
            )
        same = "identical" if r.recall[EDGEVEC] == r.recall[RAW] else "DIFFERS"
        verdicts.append(f"{r.kind}: {', '.join(parts)}, recall {same}")
    print("targets (paired ratios):", *verdicts, sep="\n  ")
    print(f"load average at start {hw.get('load_avg_1_5_15')}, at end {load_end}")
    if not args.no_json:
        path = harness.write_results(
            "faiss",
            {
                "command": command,
                "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "hardware": hw,
                "elapsed_s": round(elapsed, 1),
                "load_avg_at_end": load_end,
                "data": {
                    "set": "fashion-mnist",
                    "n": len(data.base),
                    "queries": len(data.queries),
                    "dim": data.dim,
                    "source": str(data.source),
                },
                "targets": {"single": TARGET_SINGLE, "batch": TARGET_BATCH},
                "results": results,
                "imports": imports,
                "single_upserts": upserts,
                "tables": tables,
            },
        )
        print(f"results written to {path.relative_to(harness.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
