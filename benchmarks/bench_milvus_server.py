"""Unfiltered query latency on a Milvus server: edgevec vs raw pymilvus, at Strong and Session.

edgevec's Milvus backend used to send every request at consistency level ``Strong``, which makes
the server wait for its next time tick (~0.3 s by default) before it answers; it now defaults to
``Session`` (read-your-writes for this process). This measures both defaults against a raw
pymilvus user sending the same search at the same level, on edgevec's own collection (same
segments, same request), interleaved call by call in one run (``harness.interleaved``):

* ``edgevec Strong`` (the old default, ``consistency_level="Strong"``) vs ``raw Strong``;
* ``edgevec Session`` (the new default) vs ``raw Session``.

k=10, payloads returned, FLAT (exact), cosine, Fashion-MNIST (``--n`` base vectors). Needs a
server: ``EDGEVEC_MILVUS_URI``, or let the launcher start one::

    pip install milvus==2.3.5
    python scripts/milvus_server.py -- python benchmarks/bench_milvus_server.py --queries 60
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_clients import load_data
from harness import interleaved, paired_ratio, print_table, write_results

import edgevec
from edgevec.backends.milvus import MilvusStore
from edgevec.backends.milvus.schema import VECTOR

LEVELS = ("Strong", "Session")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000, help="base vectors (of 60,000)")
    p.add_argument("--queries", type=int, default=60, help="timed queries per contender")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None, help="Fashion-MNIST directory")
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    args = p.parse_args()
    uri = os.environ.get("EDGEVEC_MILVUS_URI")
    if not uri:
        sys.exit("set EDGEVEC_MILVUS_URI, or run through scripts/milvus_server.py")
    data = load_data(args)  # the Debian Fashion-MNIST, else the 2,000-image sample of tests/data
    stores = {
        level: edgevec.connect("milvus", uri=uri, consistency_level=level) for level in LEVELS
    }
    name = "bench_consistency"
    setup = stores["Session"]
    assert isinstance(setup, MilvusStore)
    setup.drop_collection(name, missing_ok=True)
    coll = setup.create_collection(name, data.base.shape[1], "cosine")
    ids = [f"f{i}" for i in range(len(data.base))]
    payloads = [{"label": v} for v in data.labels]
    for start in range(0, len(ids), 1000):
        part = slice(start, start + 1000)
        coll.upsert_arrays(ids[part], data.base[part], payloads[part])
    assert coll.count() == len(ids)
    raw = setup.client
    q = data.queries

    def ev(level: str) -> Callable[[int], list[str]]:
        handle = stores[level].collection(name)
        return lambda i: handle.query(q[i], k=args.k).ids

    def plain(level: str) -> Callable[[int], list[str]]:
        def search(i: int) -> list[str]:
            res = raw.search(
                name, data=[q[i].tolist()], limit=args.k, output_fields=["id", "payload"],
                search_params={"metric_type": "COSINE", "params": {}}, anns_field=VECTOR,
                consistency_level=level,
            )  # fmt: skip
            return [str(h["id"]) for h in res[0]]

        return search

    contenders: dict[str, Callable[[int], object]] = {}
    for level in LEVELS:
        contenders[f"edgevec {level}"] = ev(level)
        contenders[f"raw {level}"] = plain(level)
    samples, outs = interleaved(contenders, len(q), warmup=3, keep=True)
    assert outs["edgevec Session"] == outs["raw Strong"], "same results at every level"

    def pct(ns: Any, at: float) -> float:
        return float(np.percentile(ns / 1e6, at))

    rows = [
        [who, f"{pct(ns, 50):.2f}", f"{pct(ns, 95):.2f}", len(ns)] for who, ns in samples.items()
    ]
    print_table(
        f"Unfiltered query k={args.k} on a Milvus server ({args.n} vectors)",
        ["contender", "p50 ms", "p95 ms", "calls"],
        rows,
    )
    ratios = {
        f"edgevec/raw {level}": paired_ratio(samples[f"edgevec {level}"], samples[f"raw {level}"])
        for level in LEVELS
    }
    ratios["edgevec Strong/Session (old/new default)"] = paired_ratio(
        samples["edgevec Strong"], samples["edgevec Session"]
    )
    print_table("Paired ratios (median per call)", ["ratio", "value"], [
        [k, f"{v:.3f}x"] for k, v in ratios.items()
    ])  # fmt: skip
    if not args.no_json:
        summary = {
            who: {"p50_ms": pct(ns, 50), "p95_ms": pct(ns, 95)} for who, ns in samples.items()
        }
        print(write_results("milvus-server", {"latency": summary, "ratios": ratios, "n": args.n}))
    setup.drop_collection(name)
    for store in stores.values():
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
