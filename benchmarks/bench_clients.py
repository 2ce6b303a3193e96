"""edgevec's Qdrant and Milvus backends against the raw clients, in one run, on the same data.

Engines (both in process, the ones that run here): Qdrant's **local mode** (``QdrantClient(
":memory:")``, qdrant-client's reference engine in pure Python + numpy: every search is a
brute-force scan and every filter is evaluated point by point in Python) and **Milvus Lite**
(FLAT index; a local gRPC server in the same process). Figures for a Qdrant or Milvus *server*
would differ; what this measures is the cost edgevec adds on top of each client.

For each engine the raw client and edgevec get the same Fashion-MNIST vectors and the same
payloads (``label``, ``name``), cosine metric, and are timed **interleaved** call by call (the
order rotated every call, see ``harness.interleaved``), together with an A/A control (the raw call
timed twice) whose ratio shows the noise of the run:

* **upsert**: ``--upsert-batch`` records per call until ``--n`` are written. edgevec:
  ``upsert_arrays`` (validation, id mapping, payload checks, then the client; on Milvus Lite a
  ``flush`` per call, its durability default). Raw Qdrant: one ``upsert(models.Batch, wait=True)``;
  raw Milvus: ``upsert`` + ``flush`` into a plain (id, vector, payload JSON) collection. Raw ids
  (UUIDs for Qdrant) are computed outside the timed region.
* **query**, k=10, one vector per call, payloads returned: edgevec ``query`` against
  ``query_points`` (Qdrant, its own copy of the points) or ``search`` on **edgevec's own
  collection** with the request edgevec sends (Milvus: same segments, same expression), so the
  ratio is edgevec's client-side overhead.
* **filtered query**: ``F("name") == "Sneaker"`` (10 % of rows). Qdrant: ``MatchValue`` both
  ways. Milvus: edgevec's expression (``coll.explain``) sent raw, plus a third contender, the plain
  ``payload["name"] == "Sneaker"`` on the raw collection, which shows what edgevec's typed
  filter column costs the engine (not part of the overhead target).

Target (issue 3): edgevec <= 1.05x the raw client per query (paired ratio: median over calls of
edgevec time / raw time on the same query). Tables print as Markdown; JSON goes to
``benchmarks/results/clients-*.json``.

    python benchmarks/bench_clients.py                      # ~2-4 min on 2 cores
    python benchmarks/bench_clients.py --n 20000 --queries 300 --backends milvus
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import numpy as np
import numpy.typing as npt
from fashion_mnist import DatasetMissingError, load_fashion_mnist
from harness import Latency, fmt_ms, fmt_ratio, interleaved, paired_ratio, print_table, verdict

import edgevec
from edgevec import F

TARGET = 1.05
EDGEVEC, RAW, CONTROL = "edgevec", "raw", "raw again"
NATURAL = "raw, plain JSON filter"
SAME_ROWS = "raw, edgevec's columns"
NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
FILTER_NAME = "Sneaker"
SAMPLE = harness.ROOT / "tests" / "data" / "fashion_mnist_2k.npz"

Vectors = npt.NDArray[np.float32]
Call = Callable[[int], object]


@dataclass
class Data:
    base: Vectors
    labels: list[int]
    queries: Vectors
    source: str

    @property
    def ids(self) -> list[str]:
        return [f"img-{i}" for i in range(len(self.base))]

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [{"label": c, "name": NAMES[c]} for c in self.labels]


def load_data(args: argparse.Namespace) -> Data:
    """Fashion-MNIST from the Debian package if installed, else the sample shipped for tests."""
    try:
        fm = load_fashion_mnist(args.n, args.queries, seed=args.seed, directory=args.data_dir)
        return Data(fm.base, fm.base_labels.tolist(), fm.queries, str(fm.source))
    except DatasetMissingError as exc:
        print(f"note: {str(exc).splitlines()[0]}; using {SAMPLE.name}", file=sys.stderr)
    with np.load(SAMPLE, allow_pickle=False) as npz:
        base = npz["images"][: args.n].astype(np.float32)
        labels = npz["labels"][: args.n].astype(int).tolist()
        queries = npz["query_images"][: args.queries].astype(np.float32)
    return Data(base, labels, queries, str(SAMPLE.relative_to(harness.ROOT)))


# -- results --------------------------------------------------------------------------------


@dataclass
class Series:
    """One interleaved measurement: latency per contender, paired ratios against ``raw``."""

    what: str
    latency: dict[str, Latency]
    paired: dict[str, float]  # contender -> median per-call ratio to RAW
    versus: dict[str, float]  # other contender -> median per-call ratio edgevec / it
    per: int = 1  # records per call (upserts)
    agree: float | None = None  # share of queries where edgevec's top-k ids equal raw's

    def throughput(self, name: str) -> float:
        """Records per second from the mean call time."""
        return self.per / (self.latency[name].mean_ms / 1000)


@dataclass
class EngineResult:
    engine: str
    notes: str
    series: list[Series] = field(default_factory=list)


def measure(
    what: str,
    contenders: Mapping[str, Call],
    n: int,
    args: argparse.Namespace,
    *,
    warmup: int | None = None,
    per: int = 1,
    agree: Callable[[Sequence[object], Sequence[object]], float] | None = None,
) -> Series:
    progress(f"{what}: {n} calls x {len(contenders)} contenders")
    ns, outs = interleaved(
        contenders,
        n,
        warmup=args.warmup if warmup is None else warmup,
        keep=agree is not None,
        budget_s=args.series_seconds,
    )
    lat = {name: Latency.of(s) for name, s in ns.items()}
    paired = {name: paired_ratio(s, ns[RAW]) for name, s in ns.items() if name != RAW}
    others = set(ns) - {EDGEVEC, RAW, CONTROL}
    versus = {name: paired_ratio(ns[EDGEVEC], ns[name]) for name in sorted(others)}
    share = agree(outs[EDGEVEC], outs[RAW]) if agree is not None else None
    return Series(what, lat, paired, versus, per, share)


def same_ids(a: Sequence[object], b: Sequence[object]) -> float:
    """Share of calls whose id lists are equal (both already mapped to edgevec's ids)."""
    return float(np.mean([x == y for x, y in zip(a, b, strict=True)])) if a else float("nan")


def batches(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


# -- Qdrant ---------------------------------------------------------------------------------


def bench_qdrant(data: Data, args: argparse.Namespace) -> EngineResult:
    from qdrant_client import QdrantClient, models

    dim, ids, payloads = data.base.shape[1], data.ids, data.payloads
    raw = QdrantClient(location=":memory:")
    raw.create_collection(
        "raw", vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
    )
    store = edgevec.connect("qdrant", location=":memory:")
    coll = store.create_collection("ev", dim, "cosine")
    point_ids: list[int | str | uuid.UUID] = [str(uuid.uuid5(uuid.NAMESPACE_URL, i)) for i in ids]
    back = {str(p): i for p, i in zip(point_ids, ids)}
    parts = batches(len(ids), args.upsert_batch)

    def ev_upsert(i: int) -> None:
        s = parts[i]
        coll.upsert_arrays(ids[s], data.base[s], payloads[s])

    def raw_upsert(i: int) -> None:
        s = parts[i]
        vectors = data.base[s].tolist()  # models.Batch takes lists, not arrays
        batch = models.Batch(ids=point_ids[s], vectors=vectors, payloads=payloads[s])
        raw.upsert("raw", points=batch, wait=True)

    result = EngineResult(
        "qdrant local (:memory:)",
        "qdrant-client local mode: pure Python + numpy; brute-force search, filters per point",
    )
    # No control for upserts (a second raw upsert of the same batch would overwrite, not insert).
    up = {EDGEVEC: ev_upsert, RAW: raw_upsert}
    result.series.append(measure("upsert", up, len(parts), args, warmup=0, per=args.upsert_batch))
    assert coll.count() == raw.count("raw").count == len(ids)

    q = data.queries
    flt = models.Filter(
        must=[models.FieldCondition(key="name", match=models.MatchValue(value=FILTER_NAME))]
    )
    for what, ev_filter, raw_filter, n in (
        ("query k=10", None, None, len(q)),
        (f'query k=10, name == "{FILTER_NAME}"', F("name") == FILTER_NAME, flt, args.filtered),
    ):

        def ev_query(i: int, f: Any = ev_filter) -> list[str]:
            return coll.query(q[i], k=args.k, filter=f).ids

        def raw_query(i: int, f: Any = raw_filter) -> list[str]:
            res = raw.query_points("raw", query=q[i], query_filter=f, limit=args.k)
            return [back[str(p.id)] for p in res.points]  # payloads come back too (default)

        contenders = {EDGEVEC: ev_query, RAW: raw_query, CONTROL: raw_query}
        result.series.append(measure(what, contenders, n, args, agree=same_ids))
    store.close()
    raw.close()
    return result


# -- Milvus ---------------------------------------------------------------------------------


def bench_milvus(data: Data, args: argparse.Namespace) -> EngineResult:
    from pymilvus import (  # type: ignore[import-untyped]  # pymilvus ships no py.typed
        DataType,
        MilvusClient,
    )

    from edgevec.backends.milvus import payload_terms

    dim, ids, payloads = data.base.shape[1], data.ids, data.payloads
    with tempfile.TemporaryDirectory(prefix="edgevec-bench-") as tmp:
        uri = str(Path(tmp) / "bench.db")
        store = edgevec.connect("milvus", uri=uri, index="FLAT")  # starts Milvus Lite
        coll = store.create_collection("ev", dim, "cosine")
        raw = MilvusClient(uri=uri)  # the same in-process server
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("payload", DataType.JSON)
        index = raw.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="COSINE")
        raw.create_collection("raw", schema=schema, index_params=index, consistency_level="Strong")
        # edgevec's layout written by the raw client: splits the upsert ratio into the cost of
        # the extra filter column (engine + pymilvus packing) and edgevec's own Python.
        schema.add_field("payload_terms", DataType.JSON)
        raw.create_collection("same", schema=schema, index_params=index, consistency_level="Strong")
        parts = batches(len(ids), args.upsert_batch)

        def ev_upsert(i: int) -> None:
            s = parts[i]
            coll.upsert_arrays(ids[s], data.base[s], payloads[s])

        def raw_upsert(i: int) -> None:
            s = parts[i]
            rows = [
                {"id": rid, "vector": vec, "payload": p}
                for rid, vec, p in zip(ids[s], data.base[s], payloads[s])
            ]
            raw.upsert("raw", rows)
            raw.flush("raw")  # what edgevec does on Lite: durable, and fast to search

        def same_upsert(i: int) -> None:
            s = parts[i]
            rows = [
                {"id": rid, "vector": vec, "payload": p, "payload_terms": payload_terms(p)}
                for rid, vec, p in zip(ids[s], data.base[s], payloads[s])
            ]
            raw.upsert("same", rows)
            raw.flush("same")

        result = EngineResult(
            "milvus lite (FLAT)",
            "Milvus Lite in process over loopback gRPC; raw queries run on edgevec's collection",
        )
        up = {EDGEVEC: ev_upsert, RAW: raw_upsert, SAME_ROWS: same_upsert}
        result.series.append(
            measure("upsert", up, len(parts), args, warmup=0, per=args.upsert_batch)
        )
        assert coll.count() == len(ids)

        q = data.queries
        flt = F("name") == FILTER_NAME
        expr = coll.explain(flt)
        search = {"metric_type": "COSINE", "params": {}}

        def raw_search(name: str, i: int, expr: str) -> list[str]:
            res = raw.search(
                name, data=[q[i]], filter=expr, limit=args.k, output_fields=["id", "payload"],
                search_params=search, anns_field="vector", consistency_level="Strong",
            )  # fmt: skip
            return [str(h["id"]) for h in res[0]]

        def natural_query(i: int) -> list[str]:
            return raw_search("raw", i, f'payload["name"] == "{FILTER_NAME}"')

        for what, ev_filter, raw_expr, n in (
            ("query k=10", None, "", len(q)),
            (f'query k=10, name == "{FILTER_NAME}"', flt, expr, args.filtered),
        ):

            def ev_query(i: int, f: Any = ev_filter) -> list[str]:
                return coll.query(q[i], k=args.k, filter=f).ids

            def raw_query(i: int, e: str = raw_expr) -> list[str]:
                return raw_search("ev", i, e)

            contenders: dict[str, Call] = {EDGEVEC: ev_query, RAW: raw_query, CONTROL: raw_query}
            if raw_expr:
                contenders[NATURAL] = natural_query
            result.series.append(measure(what, contenders, n, args, agree=same_ids))
        result.notes += f"; edgevec's filter expression: {expr}"
        raw.close()
        store.close()
    return result


# -- report ---------------------------------------------------------------------------------


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def report(results: Sequence[EngineResult]) -> list[str]:
    tables = []
    rows: list[list[object]] = []
    for r in results:
        for s in r.series:
            if s.what != "upsert":
                continue
            ev, rw = s.throughput(EDGEVEC), s.throughput(RAW)
            same = (
                f"{s.throughput(SAME_ROWS):,.0f}/s ({fmt_ratio(s.versus[SAME_ROWS])})"
                if SAME_ROWS in s.latency
                else "-"
            )
            rows.append(
                [
                    r.engine,
                    s.per,
                    s.latency[EDGEVEC].n,
                    f"{ev:,.0f}/s",
                    f"{rw:,.0f}/s",
                    fmt_ratio(rw / ev),
                    fmt_ratio(s.paired[EDGEVEC]),
                    same,
                ]
            )
    tables.append(
        print_table(
            "Batch upsert (time ratios: edgevec / raw; >1 means edgevec is slower)",
            [
                "engine",
                "batch",
                "calls",
                "edgevec",
                "raw",
                "mean ratio",
                "paired ratio",
                f"{SAME_ROWS} (edgevec / it)",
            ],
            rows,
        )
    )
    rows = []
    for r in results:
        for s in r.series:
            if s.what == "upsert":
                continue
            noise = abs(s.paired[CONTROL] - 1)
            extra = (
                f"{fmt_ms(s.latency[NATURAL].p50_ms)} ({fmt_ratio(s.versus[NATURAL])})"
                if NATURAL in s.latency
                else "-"
            )
            rows.append(
                [
                    r.engine,
                    s.what,
                    s.latency[EDGEVEC].n,
                    fmt_ms(s.latency[EDGEVEC].p50_ms),
                    fmt_ms(s.latency[RAW].p50_ms),
                    fmt_ratio(s.latency[EDGEVEC].p50_ms / s.latency[RAW].p50_ms),
                    fmt_ms(s.latency[EDGEVEC].p99_ms),
                    fmt_ms(s.latency[RAW].p99_ms),
                    fmt_ratio(s.latency[EDGEVEC].p99_ms / s.latency[RAW].p99_ms),
                    fmt_ratio(s.paired[EDGEVEC], TARGET, noise),
                    fmt_ratio(s.paired[CONTROL]),
                    f"{s.agree:.0%}" if s.agree is not None else "-",
                    extra,
                ]
            )
    tables.append(
        print_table(
            f"Single queries (paired ratio = median of per-call edgevec/raw; target <= {TARGET}x)",
            [
                "engine",
                "query",
                "calls",
                "edgevec p50",
                "raw p50",
                "p50 ratio",
                "edgevec p99",
                "raw p99",
                "p99 ratio",
                "paired ratio",
                "A/A (raw/raw)",
                "same ids",
                f"{NATURAL} p50 (edgevec / it)",
            ],
            rows,
        )
    )
    for r in results:
        print(f"{r.engine}: {r.notes}")
    return tables


# -- main -----------------------------------------------------------------------------------

BENCHES: dict[str, tuple[str, Callable[[Data, argparse.Namespace], EngineResult]]] = {
    "qdrant": ("qdrant_client", bench_qdrant),
    "milvus": ("milvus_lite", bench_milvus),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--backends", nargs="+", choices=list(BENCHES), default=list(BENCHES))
    p.add_argument("--n", type=int, default=5000, help="base vectors (of 60,000)")
    p.add_argument("--queries", type=int, default=200, help="unfiltered queries (of 10,000)")
    p.add_argument("--filtered", type=int, default=60, help="filtered queries (slow on both)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--upsert-batch", type=int, default=500, help="records per upsert call")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls before query series")
    p.add_argument(
        "--series-seconds", type=float, default=40.0, help="stop a timed series after this long"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None, help="Fashion-MNIST directory")
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    return p.parse_args(argv)


def versions() -> dict[str, str]:
    out = {}
    for dist in ("qdrant-client", "pymilvus", "milvus-lite", "grpcio", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/bench_clients.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    todo = []
    for name in args.backends:
        module, fn = BENCHES[name]
        try:
            importlib.import_module(module)
        except ImportError:
            print(f"skipping {name}: pip install 'edgevec[{name}]'", file=sys.stderr)
            continue
        todo.append(fn)
    if not todo:
        print("error: no backend to benchmark", file=sys.stderr)
        return 2
    data = load_data(args)
    hw = harness.hardware() | {"packages": versions()}
    print(f"command: {command}")
    print(f"data: {len(data.base)} x {data.base.shape[1]} base, {len(data.queries)} queries")
    print(f"      from {data.source}")
    for key in ("cpu", "usable_cpus", "mem_gib", "load_avg_1_5_15", "python", "packages"):
        print(f"{key}: {hw.get(key)}")
    print()
    t0 = time.perf_counter()
    results = [fn(data, args) for fn in todo]
    elapsed = time.perf_counter() - t0
    load_end = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    progress(f"done in {elapsed:.0f} s; load average now {load_end}")
    print()
    tables = report(results)
    for r in results:
        for s in r.series:
            if s.what != "upsert":
                noise = abs(s.paired[CONTROL] - 1)
                v = verdict(s.paired[EDGEVEC], TARGET, noise)
                print(f"target {r.engine}, {s.what}: {s.paired[EDGEVEC]:.3f}x, {v} {TARGET}x")
    print(f"load average at start {hw.get('load_avg_1_5_15')}, at end {load_end}")
    if not args.no_json:
        path = harness.write_results(
            "clients",
            {
                "command": command,
                "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "hardware": hw,
                "elapsed_s": round(elapsed, 1),
                "load_avg_at_end": load_end,
                "data": {"n": len(data.base), "queries": len(data.queries), "source": data.source},
                "target": TARGET,
                "results": results,
                "tables": tables,
            },
        )
        print(f"results written to {path.relative_to(harness.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
