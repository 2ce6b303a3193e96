"""Federated merge: ``merge_topk`` and ``rrf_merge`` against the merge a user would write.

Input: the answers of ``--regions`` regions (default 8) to the same query, each its exact top
``--k`` (default 100) as ``Hits`` with a small payload, computed with numpy before timing from
random vectors (64-d, cosine) split across the regions two ways:

* **sharded**: every record lives in one region (disjoint shards, the usual federated case);
* **replicated**: every region holds every record, so each id comes back from all regions and
  the merge must dedupe ``regions x k`` hits to find ``k`` distinct ones.

Contenders, timed interleaved call by call on the same inputs (``benchmarks/harness.py``):

* ``merge_topk`` against **naive**: concatenate every region's hits, sort by (score desc, id,
  region), keep the first copy of each id until ``k`` (the same result, provenance included);
* ``rrf_merge`` against **naive rrf**: sum ``1/(60 + rank)`` per id over all lists in a dict,
  sort every id by (fused desc, id), keep ``k`` (also the same result).

Target (issue 10): ``merge_topk`` of 8 x top-100 at p50 <= 250 µs. Ratios are paired medians.

    python benchmarks/bench_merge.py                 # ~15 s: 8 x top-100, 300 queries
    python benchmarks/bench_merge.py --regions 16 --k 10
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence

import harness
import numpy as np
import numpy.typing as npt
from harness import fmt_ratio, interleaved, paired_ratio, print_table

from edgevec.router.merge import RRF_RANK_CONSTANT, merge_topk, rrf_merge
from edgevec.types import Hit, Hits

TARGET_US = 250.0
Answers = dict[str, Hits]


def naive_merge(lists: Mapping[str, Sequence[Hit]], k: int) -> list[Hit]:
    """Concatenate, sort everything, dedupe: what a caller writes without a k-way merge."""
    every = [(hit, source) for source, hits in lists.items() for hit in hits]
    every.sort(key=lambda e: (-e[0].score, e[0].id, e[1]))
    out: list[Hit] = []
    seen: set[str] = set()
    for hit, source in every:
        if hit.id not in seen:
            seen.add(hit.id)
            out.append(Hit(hit.id, hit.score, hit.payload, hit.vector, source))
            if len(out) == k:
                break
    return out


def naive_rrf(lists: Mapping[str, Sequence[Hit]], k: int) -> list[Hit]:
    """Reciprocal rank fusion with a dict and a full sort."""
    fused: dict[str, float] = {}
    best: dict[str, tuple[int, str, Hit]] = {}
    for source in sorted(lists):
        for rank, hit in enumerate(lists[source], start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_RANK_CONSTANT + rank)
            if hit.id not in best or rank < best[hit.id][0]:
                best[hit.id] = (rank, source, hit)
    order = sorted(fused, key=lambda rid: (-fused[rid], rid))[:k]
    return [
        Hit(rid, fused[rid], best[rid][2].payload, best[rid][2].vector, best[rid][1])
        for rid in order
    ]


def answers(layout: str, regions: int, k: int, queries: int, n: int, seed: int) -> list[Answers]:
    """Every query's per-region exact top-``k``, as the regions of ``layout`` would answer."""
    rng = np.random.default_rng(seed)
    base = _unit(rng.normal(size=(n, 64)).astype(np.float32))
    qs = _unit(rng.normal(size=(queries, 64)).astype(np.float32))
    ids = [f"sku-{i}" for i in range(n)]
    names = [f"region-{r}" for r in range(regions)]
    if layout == "sharded":
        rows = np.array_split(rng.permutation(n), regions)
    else:
        rows = [np.arange(n)] * regions
    out = []
    for q in qs:
        per: Answers = {}
        for name, idx in zip(names, rows):
            scores = base[idx] @ q
            top = np.argpartition(-scores, k)[:k] if len(idx) > k else np.arange(len(idx))
            top = top[np.argsort(-scores[top], kind="stable")]
            per[name] = Hits([Hit(ids[idx[t]], float(scores[t]), {"i": int(idx[t])}) for t in top])
        out.append(per)
    return out


def _unit(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def series(
    layout: str, inputs: list[Answers], k: int, repeat: int, warmup: int
) -> list[list[object]]:
    """Time the four contenders on ``inputs``, after checking each pair agrees."""
    for per in inputs[:20]:
        assert [(h.id, h.source) for h in merge_topk(per, k)] == [
            (h.id, h.source) for h in naive_merge(per, k)
        ]
        assert rrf_merge(per, k).ids == [h.id for h in naive_rrf(per, k)]
    n = len(inputs)
    contenders: dict[str, Callable[[int], object]] = {
        "merge_topk": lambda i: merge_topk(inputs[i % n], k),
        "naive": lambda i: naive_merge(inputs[i % n], k),
        "rrf_merge": lambda i: rrf_merge(inputs[i % n], k),
        "naive rrf": lambda i: naive_rrf(inputs[i % n], k),
    }
    ns, _ = interleaved(contenders, n * repeat, warmup=warmup)
    rows: list[list[object]] = []
    for name, baseline in (("merge_topk", "naive"), ("rrf_merge", "naive rrf")):
        for who in (name, baseline):
            p50, p99 = np.percentile(ns[who], [50, 99]) / 1e3
            target = ""
            if who == "merge_topk":
                target = f"{'meets' if p50 <= TARGET_US else 'misses'} p50 ≤ {TARGET_US:.0f} µs"
            ratio = fmt_ratio(paired_ratio(ns[name], ns[baseline])) if who == name else ""
            rows.append([layout, who, f"{p50:.1f}", f"{p99:.1f}", ratio, target])
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--regions", type=int, default=8)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--n", type=int, default=5_000, help="records in the data set")
    p.add_argument("--queries", type=int, default=300, help="distinct inputs per layout")
    p.add_argument("--repeat", type=int, default=3, help="times each input is timed")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    args = p.parse_args(argv)
    print(f"command: {harness.command_line()}")
    print(f"{args.regions} regions x top-{args.k}, {args.n} records")
    rows: list[list[object]] = []
    for layout in ("sharded", "replicated"):
        inputs = answers(layout, args.regions, args.k, args.queries, args.n, args.seed)
        rows += series(layout, inputs, args.k, args.repeat, args.warmup)
    headers = ["layout", "contender", "p50 µs", "p99 µs", "vs naive (paired)", "target"]
    title = f"merge of {args.regions} x top-{args.k}"
    table = print_table(title, headers, rows)
    if not args.no_json:
        harness.save_run("merge", {"table": table})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
