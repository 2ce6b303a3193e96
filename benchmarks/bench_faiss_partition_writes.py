"""What filtered-HNSW partitions cost a write: upserts into FAISS HNSW with and without them built.

Two edgevec HNSW collections hold the same Fashion-MNIST vectors with a declared ``label`` field.
On one, a query per label has built every label's partition (flat blocks or, with a small
``--partition-flat-rows``, graphs of their own); the other has none (``partitions=False``).
Batches of new records (``--batch`` vectors with their labels, drawn from the rest of the
training set) are then upserted into both, interleaved call by call, and the median paired time
ratio reported. Partitions maintained on write add each new row to its value's partition: a
memcpy for a flat block, a second graph insert for a graph partition.

    python benchmarks/bench_faiss_partition_writes.py --n 20000 --partition-flat-rows 1000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import faiss
import harness
from fashion_mnist import DatasetMissingError, load_fashion_mnist
from harness import Latency, fmt_ms, fmt_ratio, interleaved, paired_ratio, print_table

import edgevec
from edgevec import F


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=20_000, help="vectors stored before the timed writes")
    p.add_argument("--batch", type=int, default=500, help="records per timed upsert")
    p.add_argument("--batches", type=int, default=10, help="timed upserts per contender")
    p.add_argument("--partition-flat-rows", type=int, default=4096)
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--threads", type=int, default=None, help="FAISS OpenMP threads (default: all)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    extra = args.batch * args.batches
    try:
        data = load_fashion_mnist(args.n + extra, 10, seed=args.seed)
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    print(f"command: {harness.command_line()}")
    for key, value in harness.hardware().items():
        print(f"{key}: {value}")
    labels = [{"label": int(v)} for v in data.base_labels]
    ids = [str(i) for i in range(len(labels))]
    colls = {}
    for name, on in (("partitions built", True), ("no partitions", False)):
        store = edgevec.connect(
            "faiss",
            index="hnsw",
            hnsw_m=args.hnsw_m,
            ef_construction=args.ef_construction,
            partitions=on,
            partition_flat_rows=args.partition_flat_rows,
        )
        coll = store.create_collection("c", data.dim, "l2", fields={"label": "int"})
        coll.upsert_arrays(ids[: args.n], data.base[: args.n], labels[: args.n])
        for value in range(10):  # builds every label's partition (a no-op without them)
            coll.query(data.queries[0], k=10, filter=F("label") == value)
        colls[name] = coll
    rows = int(colls["partitions built"].stats().health["partition_rows"])

    def upsert(name: str, i: int) -> None:
        lo = args.n + i * args.batch
        colls[name].upsert_arrays(
            ids[lo : lo + args.batch], data.base[lo : lo + args.batch], labels[lo : lo + args.batch]
        )

    series, _ = interleaved(
        {name: (lambda i, name=name: upsert(name, i)) for name in colls},  # type: ignore[misc]
        args.batches,
        warmup=0,
        min_calls=args.batches,
    )
    lat = {name: Latency.of(ns) for name, ns in series.items()}
    ratio = paired_ratio(series["partitions built"], series["no partitions"])
    print_table(
        f"Upserts of {args.batch} records into {args.n:,} (HNSW; partitions held {rows:,} rows "
        f"before the writes, flat up to {args.partition_flat_rows} rows)",
        ["contender", "p50", "p99", "calls", "paired ratio to no partitions"],
        [
            [
                name,
                fmt_ms(v.p50_ms),
                fmt_ms(v.p99_ms),
                v.n,
                fmt_ratio(ratio) if "built" in name else "",
            ]
            for name, v in lat.items()
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
