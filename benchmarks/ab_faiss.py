"""Before/after in one process: another git ref's edgevec against the working tree's, on FAISS.

Two checkouts cannot both import as ``edgevec``, so the ref's package is extracted with
``git archive`` into a temporary directory and imported as ``edgevec_ref`` (its own imports
rewritten). Both sides then build the same collection (Fashion-MNIST, two-field payloads), and
every contender -- the ref, the working tree and raw FAISS -- searches **byte copies of one
graph**: HNSW builds differ run to run, and an index built by adds searches a few per cent slower
than a copy of itself, so separate builds would compare graphs and memory layouts, not code. Even
byte copies differ by a few per cent (where their memory landed), so the contenders rotate over
three copies call by call, never two on one copy at once (a shared one runs from warm caches).

Calls are interleaved with the order rotated (``harness.interleaved``) and timed in this
thread's CPU time with FAISS OpenMP at one thread (``--wall`` for wall-clock time and the default
threads), so on a shared machine the time other processes take drops out of both sides alike.

    python benchmarks/ab_faiss.py --ref main --index hnsw --n 20000 --rounds 1500
"""

from __future__ import annotations

import argparse
import functools
import importlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import harness
import numpy as np
from fashion_mnist import DatasetMissingError, load_fashion_mnist
from harness import ROOT, fmt_ms, interleaved, paired_ratio, print_table

import edgevec

REF, HEAD, RAW = "ref", "head", "faiss"
_NAME = re.compile(r"\bedgevec(?=[.\s\"']|$)", re.MULTILINE)


def import_ref(ref: str, into: Path) -> Any:
    """``ref``'s ``edgevec`` package, imported as ``edgevec_ref`` from ``into``."""
    git = shutil.which("git") or "git"
    cmd = [git, "-C", str(ROOT), "archive", ref, "edgevec"]
    blob = subprocess.run(cmd, check=True, capture_output=True).stdout  # noqa: S603  # a git ref
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    (into / "edgevec").rename(into / "edgevec_ref")
    for path in (into / "edgevec_ref").rglob("*.py"):
        path.write_text(_NAME.sub("edgevec_ref", path.read_text()))
    sys.path.insert(0, str(into))
    return importlib.import_module("edgevec_ref")


def build(module: Any, args: argparse.Namespace, data: Any, payloads: list[dict[str, int]]) -> Any:
    store = module.connect(
        "faiss", index=args.index, hnsw_m=32, ef_construction=200, ef_search=args.ef_search
    )
    coll = store.create_collection("ab", dim=data.dim, metric="l2")
    for s in range(0, len(data.base), 1000):
        rows = range(s, min(s + 1000, len(data.base)))
        coll.upsert_arrays([str(i) for i in rows], data.base[s : s + 1000], payloads[s : s + 1000])
    return coll


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--ref", default="main", help="git ref to compare the working tree with")
    p.add_argument("--index", choices=["flat", "hnsw"], default="hnsw")
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--rounds", type=int, default=1500, help="interleaved single-query rounds")
    p.add_argument("--batch-rounds", type=int, default=25, help="rounds of batches of 100")
    p.add_argument("--ef-search", type=int, default=64)
    p.add_argument("--wall", action="store_true", help="wall-clock time, default OpenMP threads")
    p.add_argument("--data-dir", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        data = load_fashion_mnist(args.n, args.queries, seed=0, directory=args.data_dir)
    except DatasetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        ref = import_ref(args.ref, Path(tmp))
        shard = np.random.default_rng(0).integers(0, 20, len(data.base))
        payloads = [{"label": int(c), "shard": int(s)} for c, s in zip(data.base_labels, shard)]
        sides = {REF: build(ref, args, data, payloads), HEAD: build(edgevec, args, data, payloads)}
        graph = faiss.serialize_index(sides[HEAD]._index)
        copies = [faiss.deserialize_index(graph) for _ in range(3)]
        run(args, data, sides, copies, {REF: ref.F, HEAD: edgevec.F}, shard)
    return 0


class _Raw:
    """Raw FAISS's index of the moment (contenders swap graph copies between calls)."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def search(self, *args: Any, **kw: Any) -> Any:
        return self.index.search(*args, **kw)


def rotated(
    fns: dict[str, Callable[[int], object]], sides: dict[str, Any], raw: _Raw, copies: list[Any]
) -> dict[str, Callable[[int], object]]:
    """``fns`` with contender ``j`` searching copy ``(i + j) % 3`` on call ``i``: byte copies of
    one graph still differ in speed by several per cent (where their memory landed), so each
    contender uses each copy equally often and no two use the same one at once."""

    def one(j: int, name: str, fn: Callable[[int], object]) -> Callable[[int], object]:
        def call(i: int) -> object:
            index = copies[(i + j) % len(copies)]
            if name == RAW:
                raw.index = index
            else:
                sides[name]._index = index
            return fn(i)

        return call

    return {name: one(j, name, fn) for j, (name, fn) in enumerate(fns.items())}


def run(
    args: argparse.Namespace,
    data: Any,
    sides: dict[str, Any],
    copies: list[Any],
    fields: dict[str, Any],
    shard: Any,
) -> None:
    raw = _Raw(copies[0])
    xq, nq = data.queries, len(data.queries)
    label = int(np.bincount(data.base_labels).argmax())
    mask = (data.base_labels == label) & (shard < 2)
    bits = np.packbits(mask, bitorder="little")
    sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
    any_faiss: Any = faiss  # its stubs lack the search-parameter classes

    def params(selector: Any) -> Any:
        if args.index == "hnsw":
            return any_faiss.SearchParametersHNSW(sel=selector, efSearch=args.ef_search)
        return any_faiss.SearchParameters(sel=selector)

    sp = params(sel)

    def raw_new_filter(i: int) -> object:
        """What a raw user does per query: the mask from numpy columns, packed, a selector."""
        rows = (data.base_labels == i % 10) & (shard < 2)
        packed = np.packbits(rows, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(rows), faiss.swig_ptr(packed))
        found = raw.search(xq[i % nq : i % nq + 1], 10, params=params(selector))
        del packed  # the selector reads these bits until the search returned
        return found

    one = {side: (f("label") == label) & (f("shard") < 2) for side, f in fields.items()}
    each = {
        side: [(f("label") == i % 10) & (f("shard") < 2) for i in range(nq)]
        for side, f in fields.items()
    }

    def batch(i: int) -> Any:
        s = (i * 100) % (nq - 99)
        return xq[s : s + 100]

    def per_side(call: Callable[[Any, int], object]) -> dict[str, Callable[[int], object]]:
        return {side: functools.partial(call, coll) for side, coll in sides.items()}

    def single(i: int) -> object:
        return raw.search(xq[i % nq : i % nq + 1], 10)

    series: list[tuple[str, dict[str, Callable[[int], object]], int]] = [
        ("single query", {**per_side(lambda c, i: c.query(xq[i % nq], 10)), RAW: single}, 0),
        (
            "single, no payload",
            {**per_side(lambda c, i: c.query(xq[i % nq], 10, include_payload=False)), RAW: single},
            0,
        ),
        (
            "query_batch of 100",
            {
                **per_side(lambda c, i: c.query_batch(batch(i), 10)),
                RAW: lambda i: raw.search(batch(i), 10),
            },
            1,
        ),
        (
            "query_arrays of 100",
            {
                **per_side(lambda c, i: c.query_arrays(batch(i), 10)),
                RAW: lambda i: raw.search(batch(i), 10),
            },
            1,
        ),
        (
            "filtered ~1 %, one filter object",
            {
                side: (lambda i, c=coll, f=one[side]: c.query(xq[i % nq], 10, filter=f))
                for side, coll in sides.items()
            }
            | {RAW: lambda i: raw.search(xq[i % nq : i % nq + 1], 10, params=sp)},
            0,
        ),
        (
            "filtered, a new filter per query",
            {
                side: (lambda i, c=coll, fs=each[side]: c.query(xq[i % nq], 10, filter=fs[i % nq]))
                for side, coll in sides.items()
            }
            | {RAW: raw_new_filter},
            0,
        ),
    ]
    threads = faiss.omp_get_max_threads()
    if not args.wall:
        faiss.omp_set_num_threads(1)
    clock = time.perf_counter_ns if args.wall else time.thread_time_ns
    rows = []
    for name, fns, is_batch in series:
        fns = rotated(fns, sides, raw, copies)
        ns, _ = interleaved(fns, args.batch_rounds if is_batch else args.rounds, clock=clock)
        p50 = {k: float(np.median(v)) / 1e6 for k, v in ns.items()}
        rows.append(
            [
                name,
                fmt_ms(p50[REF]),
                fmt_ms(p50[HEAD]),
                fmt_ms(p50[RAW]),
                f"{(p50[HEAD] - p50[REF]) * 1e3:+.1f} µs",
                f"{paired_ratio(ns[HEAD], ns[REF]):.3f}x",
                f"{paired_ratio(ns[REF], ns[RAW]):.3f}x",
                f"{paired_ratio(ns[HEAD], ns[RAW]):.3f}x",
                len(ns[HEAD]),
            ]
        )
    faiss.omp_set_num_threads(threads)
    hw = harness.hardware()
    print(f"cpu: {hw['cpu']}, {hw['usable_cpus']} usable CPUs, load {hw['load_avg_1_5_15']}")
    print_table(
        f"{args.index}, n={len(data.base)}, k=10, {'wall' if args.wall else 'thread CPU'} time, "
        f"ref={args.ref} vs working tree (p50; paired = median per-call ratio)",
        [
            "series",
            "ref",
            "head",
            "raw faiss",
            "head - ref",
            "head/ref",
            "ref/raw",
            "head/raw",
            "calls",
        ],
        rows,
    )


if __name__ == "__main__":
    sys.exit(main())
