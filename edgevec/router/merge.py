"""Merging the top-k lists of several regions into one answer, without I/O.

:func:`merge_topk` merges by score, which is right when every region scores the same way (the
same metric, exact scores: edgevec converts each engine's raw score to one scale). When they do
not (:func:`needs_rank_fusion`), :func:`rrf_merge` fuses by rank instead. Both dedupe by id,
break ties the same way whatever order the regions answered in, and record in ``Hit.source``
which region each hit came from.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edgevec.capabilities import Capabilities
from edgevec.errors import InvalidInputError
from edgevec.search_params import SearchParams
from edgevec.types import Hit, Hits, Metric

__all__ = ["RRF_RANK_CONSTANT", "Scoring", "merge_topk", "needs_rank_fusion", "rrf_merge"]

RRF_RANK_CONSTANT = 60
"""The ``k`` of reciprocal rank fusion (Cormack et al., 2009): damps the weight of top ranks."""

_Head = tuple[float, str, str, int, int]
"""A hit in the k-way merge: (-score, id, region, list index, position), smallest first."""


def merge_topk(lists: Mapping[str, Sequence[Hit]], k: int, *, missing: Iterable[str] = ()) -> Hits:
    """The ``k`` best hits of several regions' answers, by score.

    ``lists`` maps each region that answered to its hits, best first (as every query returns
    them). A record found in several regions appears once, as its best-scored copy. Ties rank by
    id, then by region name, so the result does not depend on which region answered first.
    Every hit is a copy whose ``source`` is its region; the inputs are not changed. ``missing``
    names regions that did not answer: the result is then ``partial`` (so is it when an input
    was itself a partial answer, whose missing regions appear as ``"region/inner"``).

    A k-way merge of the sorted lists: it reads about ``k`` hits plus duplicates, not all of
    them, then orders that short list by the full tie-break.
    """
    _check_k(k)
    seqs = [(source, hits) for source, hits in lists.items() if hits]
    heap = [(-hits[0].score, hits[0].id, source, i, 0) for i, (source, hits) in enumerate(seqs)]
    heapq.heapify(heap)
    taken: list[_Head] = []
    distinct: set[str] = set()
    bound = math.inf  # -score of the k-th distinct hit; the merge stops past its ties
    while heap and heap[0][0] <= bound:
        head = heap[0]
        taken.append(head)
        if head[1] not in distinct:
            distinct.add(head[1])
            if len(distinct) == k:
                bound = head[0]
        _, _, source, i, pos = head
        hits = seqs[i][1]
        if pos + 1 < len(hits):
            nxt = hits[pos + 1]
            heapq.heapreplace(heap, (-nxt.score, nxt.id, source, i, pos + 1))
        else:
            heapq.heappop(heap)
    taken.sort()  # score desc, id, region: the tie-break; a record's best copy comes first
    out: list[Hit] = []
    kept: set[str] = set()
    for _, rid, source, i, pos in taken:
        if rid not in kept and len(out) < k:
            kept.add(rid)
            hit = seqs[i][1][pos]
            out.append(Hit(rid, hit.score, hit.payload, hit.vector, source))
    return _answer(out, lists, missing, fused=False)


def rrf_merge(
    lists: Mapping[str, Sequence[Hit]],
    k: int,
    *,
    rank_constant: float = RRF_RANK_CONSTANT,
    missing: Iterable[str] = (),
) -> Hits:
    """The ``k`` best hits of several regions' answers by reciprocal rank fusion.

    For regions whose scores do not compare (different metrics, approximate scores), only each
    region's order is trusted: a record scores ``sum(1 / (rank_constant + rank))`` over the
    regions that returned it (``rank`` counts from 1 in each region's list, best first). The
    hit keeps the payload and vector of, and names as ``source``, the region that ranked it
    best (ties: the first region name). Ties in the fused score rank by id. Regions are summed
    in name order, so the float sums, and hence the result, are the same whatever order the
    regions answered in. The result has ``fused=True``; ``missing`` is as in :func:`merge_topk`.
    """
    _check_k(k)
    if not rank_constant >= 0:
        raise InvalidInputError(f"rank_constant must be >= 0, got {rank_constant}")
    fused: dict[str, float] = {}
    best: dict[str, tuple[int, str, Hit]] = {}  # rank, region and copy of the best-ranked
    for source in sorted(lists):
        for rank, hit in enumerate(_first_copies(lists[source]), start=1):
            rid = hit.id
            held = best.get(rid)
            if held is None:
                fused[rid] = 1.0 / (rank_constant + rank)
                best[rid] = (rank, source, hit)
            else:
                fused[rid] += 1.0 / (rank_constant + rank)
                if rank < held[0]:
                    best[rid] = (rank, source, hit)
    out: list[Hit] = []
    for neg, rid in _top(fused, k):
        _, source, hit = best[rid]
        out.append(Hit(rid, -neg, hit.payload, hit.vector, source))
    return _answer(out, lists, missing, fused=True)


def _first_copies(hits: Sequence[Hit]) -> Sequence[Hit]:
    """``hits`` without repeats of an id (a region listing a record twice votes once)."""
    if len({h.id for h in hits}) == len(hits):
        return hits
    seen: set[str] = set()
    firsts = []
    for hit in hits:
        if hit.id not in seen:
            seen.add(hit.id)
            firsts.append(hit)
    return firsts


def _top(scores: dict[str, float], k: int) -> list[tuple[float, str]]:
    """The ``k`` best ``(-score, id)`` pairs, ties by id: numpy finds the k-th best score, so
    only the few at or above it are built and sorted."""
    if k == 0:
        return []
    if len(scores) > k:
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        cut = float(np.partition(values, len(values) - k)[len(values) - k])
        picked = [(-s, rid) for rid, s in scores.items() if s >= cut]
    else:
        picked = [(-s, rid) for rid, s in scores.items()]
    picked.sort()
    return picked[:k]


@dataclass(frozen=True, slots=True)
class Scoring:
    """How one region scores hits: what decides whether scores of several regions compare."""

    metric: Metric
    exact: bool = True
    """Scores (and ranks) equal the exact ones; ``False`` for an approximate index, whose
    scores may be estimates (quantised vectors) and whose top-k may miss records."""

    @classmethod
    def of(cls, collection: _Scored, params: SearchParams | None = None) -> Scoring:
        """The scoring of ``collection`` for one query: its metric, and exact when the collection
        is (its capabilities say so) or the query asks for an exact scan (``params.exact``)."""
        exact = collection.capabilities.exact or (params is not None and params.exact)
        return cls(collection.metric, exact)


class _Scored(Protocol):
    """What :meth:`Scoring.of` reads: every sync and async collection has both."""

    @property
    def metric(self) -> Metric: ...

    @property
    def capabilities(self) -> Capabilities: ...


def needs_rank_fusion(members: Iterable[Scoring]) -> bool:
    """Should the answers of these regions be fused by rank rather than merged by score?

    Yes when their metrics differ (a cosine and an l2 score share no scale) or any one of
    several is approximate (``exact=False``): an estimated score cannot be ranked against an
    exact one. A router that knows more (say, an inner router that already fused) marks that
    member ``Scoring(metric, exact=False)`` itself. One region alone never needs fusion.
    """
    members = list(members)
    if len(members) < 2:
        return False
    return len({m.metric for m in members}) > 1 or not all(m.exact for m in members)


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InvalidInputError(f"k must be an int >= 0, got {k!r}")


def _answer(
    hits: list[Hit], lists: Mapping[str, Sequence[Hit]], missing: Iterable[str], *, fused: bool
) -> Hits:
    """``hits`` as a :class:`Hits`, partial if a region (or a region's own region) missed."""
    names = list(missing)
    for source in sorted(lists):
        answer = lists[source]
        if isinstance(answer, Hits) and answer.partial:
            names.extend([f"{source}/{m}" for m in answer.missing] or [source])
    return Hits(hits, partial=bool(names), missing=names, fused=fused)
