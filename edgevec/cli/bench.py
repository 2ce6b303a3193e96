"""``edgevec bench``: what the configured store does on this machine, next to raw FAISS.

It writes synthetic vectors (seeded standard-normal, float32 -- labelled as such in the output)
into a scratch collection, times every upsert batch and every query, and drops the collection
afterwards, even on failure. When the store is FAISS, a raw FAISS index of the same kind and
settings takes the same batches and queries in the same run, call by call interleaved, so machine
drift lands on both alike and the ratio is edgevec's own overhead. It measures; it asserts
nothing. A persisted FAISS store also pays for durability (each acknowledged write is on disk),
which raw FAISS in memory does not.
"""

from __future__ import annotations

import os
import platform
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import typer

from edgevec.base import BaseStore
from edgevec.cli.options import ConfigOpt, JsonOpt
from edgevec.cli.output import err, print_json, show_table
from edgevec.connect import connect

__all__ = ["bench"]

Matrix = npt.NDArray[np.float32]
_LABELS = {
    "upsert_per_s": "upsert (records/s)",
    "query_p50_ms": "query p50 (ms)",
    "query_p95_ms": "query p95 (ms)",
    "query_p99_ms": "query p99 (ms)",
}


def _raw_faiss(store: BaseStore, dim: int) -> tuple[Any, dict[str, object]]:
    """An empty raw FAISS index built as the store builds a new cosine collection's, and what
    decides both sides' speed (the index kind, FAISS's process-wide thread count)."""
    import faiss

    opts: Any = store.options
    setup: dict[str, object] = {
        "faiss_index": opts.index,
        "faiss_threads": faiss.omp_get_max_threads(),
    }
    if opts.index == "hnsw":
        index = faiss.IndexHNSWFlat(dim, opts.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = opts.ef_construction
        index.hnsw.efSearch = opts.ef_search
        return index, {**setup, "hnsw_m": opts.hnsw_m, "ef_search": opts.ef_search}
    return faiss.IndexFlatIP(dim), setup


def _unit(x: Matrix) -> Matrix:
    """Rows scaled to length 1: what a cosine collection stores (raw FAISS's share of the work)."""
    unit: Matrix = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit


def _timed(calls: dict[str, Callable[[int], object]], n: int) -> dict[str, npt.NDArray[np.float64]]:
    """Seconds per call ``fn(i)``, ``i < n``, contenders alternating which goes first."""
    names = list(calls)
    samples = {name: np.empty(n) for name in names}
    for i in range(n):
        for name in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            calls[name](i)
            samples[name][i] = time.perf_counter() - t0
    return samples


def bench(
    config: ConfigOpt,
    count: Annotated[int, typer.Option(min=1, help="Synthetic vectors to write.")] = 10_000,
    dim: Annotated[int, typer.Option(min=2, help="Their dimension.")] = 128,
    queries: Annotated[int, typer.Option(min=1, help="Queries to time.")] = 500,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Hits per query.")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, help="Vectors per upsert.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic vectors.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Measure upsert throughput and query latency of the configured store.

    Synthetic vectors go into a scratch collection that is dropped afterwards; on a FAISS store,
    raw FAISS runs the same calls alongside and the ratio is printed.
    """
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((count, dim), dtype=np.float32)
    probes = rng.standard_normal((queries, dim), dtype=np.float32)
    ids = [f"v{i}" for i in range(count)]
    starts = range(0, count, batch_size)
    name = f"edgevec_bench_{secrets.token_hex(4)}"
    with connect(config=config) as store:
        coll = store.create_collection(name, dim=dim, metric="cosine")
        try:
            writes: dict[str, Callable[[int], object]] = {
                "edgevec": lambda b: coll.upsert_arrays(
                    ids[starts[b] : starts[b] + batch_size],
                    data[starts[b] : starts[b] + batch_size],
                )
            }
            reads: dict[str, Callable[[int], object]] = {
                "edgevec": lambda i: coll.query(probes[i], k)
            }
            engine: dict[str, object] = {}
            if store.backend == "faiss":
                raw, engine = _raw_faiss(store, dim)
                writes["raw FAISS"] = lambda b: raw.add(
                    _unit(data[starts[b] : starts[b] + batch_size])
                )
                reads["raw FAISS"] = lambda i: raw.search(_unit(probes[i : i + 1]), k)
            write_s = _timed(writes, len(starts))
            read_s = _timed(reads, queries)
        finally:
            store.drop_collection(name, missing_ok=True)
        backend = store.backend
    results = {
        who: {
            "upsert_per_s": count / float(write_s[who].sum()),
            **{f"query_p{p}_ms": float(np.percentile(read_s[who], p) * 1000) for p in (50, 95, 99)},
        }
        for who in writes
    }
    setup = {
        "backend": backend,
        "vectors": f"synthetic: {count} x {dim} float32, standard normal, seed {seed}, cosine",
        "k": k,
        "batch_size": batch_size,
        "queries": queries,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        **engine,
    }
    if as_json:
        print_json({"setup": setup, "results": results})
        return
    for key, value in setup.items():
        err().print(f"{key}: {value}", soft_wrap=True, markup=False)
    names = list(results)
    rows = []
    for metric, label in _LABELS.items():
        values = [results[who][metric] for who in names]
        row = [label, *(f"{v:,.3f}" if "ms" in metric else f"{v:,.0f}" for v in values)]
        if len(values) == 2:
            row.append(f"{values[0] / values[1]:#.3g}x")
        rows.append(row)
    headers = ["measure", *(f"{who} ({backend})" if who == "edgevec" else who for who in names)]
    if len(names) == 2:
        headers.append("edgevec / raw")
    show_table(f"edgevec bench: {backend}", headers, rows)
