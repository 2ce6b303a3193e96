"""``scan`` and ``migrate`` against the raw engine work they stand for, in one run.

Synthetic data (Gaussian float32 vectors, labelled as such; payloads ``{"i": int, "tag": str}``)
in an in-memory FAISS collection. Timed interleaved, whole operation by whole operation:

* **read every record**: ``coll.scan()`` (vectors and payloads, in pages) against raw FAISS
  ``reconstruct_n`` of the whole index plus a copy of every payload dict;
* **copy a collection**: ``migrate`` FAISS -> FAISS (scan, a ``get`` of each page from the
  target to skip what is already there, upsert, then the verification) against raw FAISS adding
  the reconstructed vectors to a new index in the same batches;
* **resume**: ``migrate`` again onto the finished copy (every page read back and skipped).

Ratios are edgevec's time over the raw work's (paired per run); measured on the machine
``harness.hardware()`` reports, results also written to ``benchmarks/results/*.json``.

    python benchmarks/bench_migrate.py --n 20000 --dim 64 --runs 5
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import faiss
import harness
import numpy as np
from harness import fmt_ms, interleaved, paired_ratio, print_table

import edgevec
from edgevec.migrate import migrate

_faiss: Any = faiss  # faiss' bundled stubs lack reconstruct_n's return type


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=20_000, help="records")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--runs", type=int, default=5, help="timed runs of each operation")
    p.add_argument("--batch-size", type=int, default=256, help="scan page and migrate batch")
    args = p.parse_args()

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    ids = [f"item-{i:07d}" for i in range(args.n)]
    payloads = [{"i": i, "tag": f"t{i % 17}"} for i in range(args.n)]

    source = edgevec.connect("faiss")
    coll = source.create_collection("items", dim=args.dim, metric="l2")
    coll.upsert_arrays(ids, vectors, payloads)
    raw = _faiss.IndexFlatL2(args.dim)
    raw.add(vectors)
    size = args.batch_size

    def scan(_: int) -> object:
        return sum(len(page) for page in coll.scan(page_size=size))

    def raw_read(_: int) -> object:
        return raw.reconstruct_n(0, raw.ntotal), [dict(p) for p in payloads]

    targets: list[Any] = []

    def copy(_: int) -> object:
        target = edgevec.connect("faiss")
        targets.append(target)
        return migrate(source, target, "items", batch_size=size)

    def raw_copy(_: int) -> object:
        index = _faiss.IndexFlatL2(args.dim)
        for start in range(0, raw.ntotal, size):
            index.add(raw.reconstruct_n(start, min(size, raw.ntotal - start)))
        return index

    def resume(i: int) -> object:
        return migrate(source, targets[i], "items", batch_size=size)

    series: list[tuple[str, dict[str, Callable[[int], object]]]] = [
        ("read every record", {"edgevec scan": scan, "raw FAISS": raw_read}),
        ("copy a collection", {"edgevec migrate": copy, "raw FAISS": raw_copy}),
        ("resume a finished copy", {"edgevec migrate again": resume, "raw FAISS": raw_copy}),
    ]
    rows = []
    for title, contenders in series:
        samples, _ = interleaved(contenders, args.runs, warmup=0)
        mine, theirs = (samples[name] for name in contenders)
        rows.append(
            (
                title,
                fmt_ms(float(np.median(mine)) / 1e6),
                f"{args.n / (float(np.median(mine)) / 1e9):,.0f}",
                fmt_ms(float(np.median(theirs)) / 1e6),
                f"{paired_ratio(mine, theirs):.1f}x",
            )
        )
    table = print_table(
        f"{args.n} synthetic records, dim {args.dim}, pages of {size} (median of {args.runs})",
        ("operation", "edgevec", "records/s", "raw FAISS", "edgevec / raw"),
        rows,
    )
    harness.save_run("migrate", {"table": table})


if __name__ == "__main__":
    main()
