"""Filtered queries on declared payload fields against the idiomatic raw client, interleaved.

Data: Fashion-MNIST images (784-d, l2) with payloads ``{"label": int class, "price": float}``
(price uniform in [0, 100)). edgevec's collection declares ``fields={"label": "int",
"price": "float"}``; each raw contender is what a user of that engine would write:

* **FAISS**: the same flat index searched with an ``IDSelectorBitmap`` the user builds from numpy
  ``label``/``price`` columns per query (``(label == c) & (price < p)``, packed bits).
* **Qdrant local mode**: payload indexes on ``label`` (integer) and ``price`` (float) and a
  ``Filter`` of ``FieldCondition`` (``MatchValue`` + ``Range``).
* **Milvus Lite**: scalar ``INT64``/``DOUBLE`` fields with ``INVERTED`` indexes (the scalar
  index Milvus Lite offers) and the expression ``label == c and price < p``.

Selectivities: 10 % (``label == c``), 1 % (``label == c and price < 10``) and 0.5 %
(``... and price < 5``). Every series also runs edgevec on an otherwise identical collection
without declared fields (``edgevec json``) to show what declaring buys, and reports recall@k of
each contender against the exact numpy answer. A backend that cannot keep declared fields yet runs
edgevec without them and says so. Target: edgevec (declared) <= 1.2x raw (paired median ratio).

    python benchmarks/bench_filters.py --n 2000 --queries 60           # smoke, tests/data sample
    python benchmarks/bench_filters.py --n 20000 --queries 200         # dataset-fashion-mnist
    python scripts/milvus_server.py -- python benchmarks/bench_filters.py --backends milvus-server

On a Milvus server (PyPI ``milvus`` 2.3.5) declared fields are refused, so edgevec runs on its
JSON terms column there, and the raw user's scalar fields get ``STL_SORT`` (2.3.5 has no INVERTED).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import harness
import numpy as np
import numpy.typing as npt
from bench_clients import Data, load_data
from harness import fmt_ms, fmt_ratio, interleaved, paired_ratio, print_table

import edgevec
from edgevec import F
from edgevec.filters import Filter
from edgevec.testing.oracle import oracle_topk

TARGET = 1.2
FIELDS = {"label": "int", "price": "float"}
SELECTIVITY = {"10%": None, "1%": 10.0, "0.5%": 5.0}  # price bound next to label == c
EV, JSON, RAW = "edgevec", "edgevec json", "raw"
Call = Callable[[int], list[str]]
Vectors = npt.NDArray[np.float32]


class Case:
    """One selectivity: per query, its class and the edgevec filter (raw forms built by each
    engine from ``label`` and ``price``), plus the exact top-k to score recall."""

    def __init__(self, name: str, data: Data, prices: list[float], args: argparse.Namespace):
        self.name, self.price = name, SELECTIVITY[name]
        rng = np.random.default_rng(args.seed + 1)
        self.labels = [int(c) for c in rng.integers(0, 10, len(data.queries))]
        self.filters: list[Filter] = [self.ev_filter(c) for c in self.labels]
        pays = [{"label": c, "price": p} for c, p in zip(data.labels, prices)]
        self.truth = [
            [i for i, _ in oracle_topk(data.ids, data.base, pays, q, args.k, "l2", f)]
            for q, f in zip(data.queries, self.filters)
        ]

    def ev_filter(self, c: int) -> Filter:
        return (
            F("label") == c if self.price is None else (F("label") == c) & (F("price") < self.price)
        )


def recall(got: Sequence[Any], truth: list[list[str]]) -> float:
    hits = [len(set(g) & set(t)) / max(len(t), 1) for g, t in zip(got, truth)]
    return float(np.mean(hits)) if hits else float("nan")


def run_case(
    engine: str, case: Case, contenders: dict[str, Call], args: argparse.Namespace
) -> list[object]:
    n = len(case.labels)
    ns, outs = interleaved(
        contenders, n, warmup=args.warmup, keep=True, budget_s=args.series_seconds
    )
    row: list[object] = [engine, case.name]
    for name in contenders:
        p50, p95 = np.percentile(ns[name], [50, 95]) / 1e6
        row += [fmt_ms(float(p50)), fmt_ms(float(p95))]
    row += [
        fmt_ratio(paired_ratio(ns[EV], ns[RAW]), TARGET),
        fmt_ratio(paired_ratio(ns[JSON], ns[RAW])),
        "/".join(f"{recall(outs[name], case.truth[: len(outs[name])]):.3f}" for name in contenders),
    ]
    return row


def edgevec_pair(
    store: Any, data: Data, payloads: list[dict[str, Any]], suffix: str = ""
) -> tuple[Any, Any, str]:
    """The declared and the plain collection (same rows); a note if fields are not kept."""
    dim, note = data.base.shape[1], ""
    if store.capabilities.declared_fields:
        declared = store.create_collection(f"declared{suffix}", dim, "l2", fields=FIELDS)
    else:
        declared = store.create_collection(f"declared{suffix}", dim, "l2")
        note = f"{store.backend} does not keep declared fields yet: 'edgevec' ran without them"
    plain = store.create_collection(f"plain{suffix}", dim, "l2")
    for coll in (declared, plain):
        for s in range(0, len(data.ids), 1000):
            coll.upsert_arrays(
                data.ids[s : s + 1000], data.base[s : s + 1000], payloads[s : s + 1000]
            )
    return declared, plain, note


def ev_calls(
    declared: Any, plain: Any, data: Data, case: Case, k: int, payload: bool
) -> dict[str, Call]:
    """edgevec's two contenders; ``payload`` as the raw client returns them (Qdrant does by
    default, a FAISS or Milvus search gives ids and distances)."""
    q, flts = data.queries, case.filters
    return {
        EV: lambda i: declared.query(q[i], k=k, filter=flts[i], include_payload=payload).ids,
        JSON: lambda i: plain.query(q[i], k=k, filter=flts[i], include_payload=payload).ids,
    }


# -- engines --------------------------------------------------------------------------------


def bench_faiss(
    data: Data, prices: list[float], cases: list[Case], args: argparse.Namespace
) -> tuple[list[list[object]], str]:
    import faiss as _faiss

    faiss: Any = _faiss  # no type information
    payloads = [{"label": c, "price": p} for c, p in zip(data.labels, prices)]
    store = edgevec.connect("faiss")
    declared, plain, note = edgevec_pair(store, data, payloads)
    index = faiss.IndexFlatL2(data.base.shape[1])
    index.add(data.base)
    label = np.asarray(data.labels, dtype=np.int64)
    price = np.asarray(prices, dtype=np.float64)
    ids = data.ids
    rows = []
    for case in cases:

        def raw(i: int, case: Case = case) -> list[str]:
            mask = label == case.labels[i]
            if case.price is not None:
                mask &= price < case.price
            sel = faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
            _, found = index.search(
                data.queries[i : i + 1], args.k, params=faiss.SearchParameters(sel=sel)
            )
            return [ids[j] for j in found[0] if j >= 0]

        rows.append(
            run_case(
                "faiss flat",
                case,
                {**ev_calls(declared, plain, data, case, args.k, False), RAW: raw},
                args,
            )
        )
    store.close()
    return rows, note


def bench_qdrant(
    data: Data, prices: list[float], cases: list[Case], args: argparse.Namespace
) -> tuple[list[list[object]], str]:
    from qdrant_client import QdrantClient, models

    payloads = [{"label": c, "price": p} for c, p in zip(data.labels, prices)]
    store = edgevec.connect("qdrant", location=":memory:")
    declared, plain, note = edgevec_pair(store, data, payloads)
    raw = QdrantClient(location=":memory:")
    dim = data.base.shape[1]
    raw.create_collection(
        "raw", vectors_config=models.VectorParams(size=dim, distance=models.Distance.EUCLID)
    )
    raw.create_payload_index("raw", "label", models.PayloadSchemaType.INTEGER)
    raw.create_payload_index("raw", "price", models.PayloadSchemaType.FLOAT)
    pids: list[int | str | uuid.UUID] = [str(uuid.uuid5(uuid.NAMESPACE_URL, i)) for i in data.ids]
    back = dict(zip(pids, data.ids))
    for s in range(0, len(pids), 1000):
        raw.upsert(
            "raw",
            models.Batch(
                ids=pids[s : s + 1000],
                vectors=data.base[s : s + 1000].tolist(),
                payloads=payloads[s : s + 1000],
            ),
        )
    rows = []
    for case in cases:

        def raw_query(i: int, case: Case = case) -> list[str]:
            must: list[Any] = [
                models.FieldCondition(key="label", match=models.MatchValue(value=case.labels[i]))
            ]
            if case.price is not None:
                must.append(models.FieldCondition(key="price", range=models.Range(lt=case.price)))
            res = raw.query_points(
                "raw", query=data.queries[i], query_filter=models.Filter(must=must), limit=args.k
            )
            return [back[str(p.id)] for p in res.points]

        rows.append(
            run_case(
                "qdrant local",
                case,
                {**ev_calls(declared, plain, data, case, args.k, True), RAW: raw_query},
                args,
            )
        )
    store.close()
    raw.close()
    return rows, note


def bench_milvus(
    data: Data, prices: list[float], cases: list[Case], args: argparse.Namespace
) -> tuple[list[list[object]], str]:
    """Milvus Lite in a temporary file; the raw user's scalar fields get INVERTED indexes."""
    with tempfile.TemporaryDirectory(prefix="edgevec-bench-") as tmp:
        uri = str(Path(tmp) / "bench.db")
        return milvus_series("milvus lite", uri, "INVERTED", data, prices, cases, args)


def bench_milvus_server(
    data: Data, prices: list[float], cases: list[Case], args: argparse.Namespace
) -> tuple[list[list[object]], str]:
    """A Milvus server at ``EDGEVEC_MILVUS_URI`` (``scripts/milvus_server.py`` starts one);
    2.3.5 has no INVERTED index, so the raw user's scalar fields get STL_SORT."""
    uri = os.environ.get("EDGEVEC_MILVUS_URI")
    if not uri:
        raise SystemExit("set EDGEVEC_MILVUS_URI, or run through scripts/milvus_server.py")
    return milvus_series("milvus server", uri, "STL_SORT", data, prices, cases, args)


def milvus_series(
    engine: str,
    uri: str,
    scalar_index: str,
    data: Data,
    prices: list[float],
    cases: list[Case],
    args: argparse.Namespace,
) -> tuple[list[list[object]], str]:
    from pymilvus import DataType, MilvusClient  # type: ignore[import-untyped]

    payloads = [{"label": c, "price": p} for c, p in zip(data.labels, prices)]
    dim = data.base.shape[1]
    suffix = f"_{uuid.uuid4().hex[:8]}"  # a server may hold an earlier run's collections
    store = edgevec.connect("milvus", uri=uri, index="FLAT")
    declared, plain, note = edgevec_pair(store, data, payloads, suffix)
    raw, raw_name = MilvusClient(uri=uri), f"raw{suffix}"
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("label", DataType.INT64)
    schema.add_field("price", DataType.DOUBLE)
    index = raw.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
    index.add_index(field_name="label", index_type=scalar_index)
    index.add_index(field_name="price", index_type=scalar_index)
    raw.create_collection(raw_name, schema=schema, index_params=index)
    try:
        for s in range(0, len(data.ids), 1000):
            part = slice(s, s + 1000)
            batch = zip(data.ids[part], data.base[part], payloads[part])
            raw.upsert(raw_name, [{"id": i, "vector": v, **p} for i, v, p in batch])
        raw.flush(raw_name)
        rows = []
        for case in cases:

            def raw_query(i: int, case: Case = case) -> list[str]:
                expr = f"label == {case.labels[i]}"
                if case.price is not None:
                    expr += f" and price < {case.price}"
                res = raw.search(
                    raw_name,
                    data=[data.queries[i]],
                    filter=expr,
                    limit=args.k,
                    anns_field="vector",
                    search_params={"metric_type": "L2"},
                )
                return [str(h["id"]) for h in res[0]]

            contenders = {**ev_calls(declared, plain, data, case, args.k, False), RAW: raw_query}
            rows.append(run_case(engine, case, contenders, args))
    finally:
        raw.drop_collection(raw_name)
        raw.close()
        for coll in (declared, plain):
            store.drop_collection(coll.name)
        store.close()
    return rows, note


BENCHES = {
    "faiss": ("faiss", bench_faiss),
    "qdrant": ("qdrant_client", bench_qdrant),
    "milvus": ("milvus_lite", bench_milvus),
    "milvus-server": ("pymilvus", bench_milvus_server),
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    local = ["faiss", "qdrant", "milvus"]  # milvus-server needs a server: name it to run it
    p.add_argument("--backends", nargs="+", choices=list(BENCHES), default=local)
    p.add_argument("--n", type=int, default=20000, help="base vectors")
    p.add_argument("--queries", type=int, default=200, help="queries per selectivity")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument(
        "--series-seconds", type=float, default=30.0, help="stop a series after this long"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None, help="Fashion-MNIST directory")
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    args = p.parse_args(argv)
    command = "python benchmarks/bench_filters.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    data = load_data(args)
    prices = (np.random.default_rng(args.seed).random(len(data.ids)) * 100).round(2).tolist()
    cases = [Case(name, data, prices, args) for name in SELECTIVITY]
    print(f"command: {command}\ndata: {len(data.ids)} x {data.base.shape[1]} from {data.source}")
    headers = ["engine", "selectivity"]
    for name in (EV, JSON, RAW):
        headers += [f"{name} p50", f"{name} p95"]
    headers += [f"{EV}/raw", f"{JSON}/raw", "recall ev/json/raw"]
    rows: list[list[object]] = []
    notes: list[str] = []
    for name in args.backends:
        module, bench = BENCHES[name]
        try:
            importlib.import_module(module)
        except ImportError:
            print(f"skipping {name}: pip install 'edgevec[{name}]'", file=sys.stderr)
            continue
        got, note = bench(data, prices, cases, args)
        rows += got
        notes += [note] if note else []
    table = print_table(f"filtered query k={args.k}, target {EV}/raw <= {TARGET}x", headers, rows)
    for note in notes:
        print(f"note: {note}")
    if not args.no_json:
        path = harness.write_results(
            "filters",
            {"command": command, "hardware": harness.hardware(), "table": table, "notes": notes},
        )
        print(f"results written to {path.relative_to(harness.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
