"""Merging the top-k lists of several regions into one answer, without I/O.

:func:`merge_topk` merges by score, which is right when every region scores the same way (the
same metric, exact scores: edgevec converts each engine's raw score to one scale). When they do
not (:func:`needs_rank_fusion`), :func:`rrf_merge` fuses by rank instead. Both dedupe by id,
break ties the same way whatever order the regions answered in, and record in ``Hit.source``
which region each hit came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Protocol

import numpy as np

from edgevec.capabilities import Capabilities
from edgevec.errors import InvalidInputError
from edgevec.search_params import SearchParams
from edgevec.types import Hit, Hits, Metric

__all__ = ["RRF_RANK_CONSTANT", "Scoring", "merge_topk", "needs_rank_fusion", "rrf_merge"]

RRF_RANK_CONSTANT = 60
"""The ``k`` of reciprocal rank fusion (Cormack et al., 2009): damps the weight of top ranks."""

_score = attrgetter("score")


def merge_topk(
    lists: Mapping[str, Sequence[Hit]],
    k: int,
    *,
    missing: Iterable[str] = (),
    score_threshold: float | None = None,
) -> Hits:
    """The ``k`` best hits of several regions' answers, by score.

    ``lists`` maps each region that answered to its hits. A record found in several regions
    appears once, as its best-scored copy. Ties rank by id, then by region name, so the result
    does not depend on which region answered first nor on how an engine ordered its own ties.
    Every hit is a copy whose ``source`` is its region; the inputs are not changed. ``missing``
    names regions that did not answer: the result is then ``partial`` (so is it when an input
    was itself a partial answer, whose missing regions appear as ``"region/inner"``). With
    ``score_threshold`` only hits scoring at least that much are kept.

    An input that was itself fused by rank (``Hits.fused``, from a router of routers) holds no
    similarities to compare, so then the whole answer is fused by :func:`rrf_merge`.

    One stable sort orders every hit by score (quick on the regions' best-first runs, but
    correct for any order); hits are then read best first only until ``k`` distinct ids (and
    any ties with the last) are found, so duplicates across regions cost little.
    """
    _check_k(k)
    if any(isinstance(hits, Hits) and hits.fused for hits in lists.values()):
        return rrf_merge(lists, k, missing=missing, score_threshold=score_threshold)
    if k == 0:
        return _answer([], lists, missing, fused=False)
    flat: list[Hit] = []
    sources: list[str] = []
    for source, hits in lists.items():
        flat.extend(hits)
        sources.extend([source] * len(hits))
    scores = list(map(_score, flat))
    best: dict[str, int] = {}  # id -> position in flat of its best copy so far
    # The read stops below the threshold, and below the k-th distinct score once it is found.
    bound = -math.inf if score_threshold is None else score_threshold
    for j in sorted(range(len(flat)), key=scores.__getitem__, reverse=True):
        score = scores[j]
        if score < bound:
            break
        rid = flat[j].id
        held = best.get(rid)
        if held is None:
            best[rid] = j
            if len(best) == k:
                bound = score
        elif scores[held] == score and sources[j] < sources[held]:
            best[rid] = j  # an equal copy from a region earlier in name order
    order = sorted((-scores[j], flat[j].id, sources[j], j) for j in best.values())[:k]
    out = [
        Hit(rid, flat[j].score, flat[j].payload, flat[j].vector, source)
        for _, rid, source, j in order
    ]
    return _answer(out, lists, missing, fused=False)


def rrf_merge(
    lists: Mapping[str, Sequence[Hit]],
    k: int,
    *,
    rank_constant: float = RRF_RANK_CONSTANT,
    missing: Iterable[str] = (),
    score_threshold: float | None = None,
) -> Hits:
    """The ``k`` best hits of several regions' answers by reciprocal rank fusion.

    For regions whose scores do not compare (different metrics, approximate scores), only each
    region's order is trusted: a record scores ``sum(1 / (rank_constant + rank))`` over the
    regions that returned it (``rank`` counts from 1 in each region's list, best first). The
    hit keeps the payload and vector of, and names as ``source``, the region that ranked it
    best (ties: the first region name). Ties in the fused score rank by id. Regions are summed
    in name order, so the float sums, and hence the result, are the same whatever order the
    regions answered in. The result has ``fused=True``; ``missing`` is as in :func:`merge_topk`.

    A fused score is no similarity, so ``score_threshold`` applies before fusing: each region's
    hits scoring below it are dropped (answers already fused are taken as they are: their own
    regions were filtered). Regions of one router share a metric, so one threshold fits them
    all; it is why a fused answer is not filtered again afterwards.
    """
    _check_k(k)
    if not rank_constant >= 0:
        raise InvalidInputError(f"rank_constant must be >= 0, got {rank_constant}")
    fused: dict[str, float] = {}
    best: dict[str, tuple[int, str, Hit]] = {}  # rank, region and copy of the best-ranked
    for source in sorted(lists):
        for rank, hit in enumerate(_first_copies(_kept(lists[source], score_threshold)), start=1):
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


def _kept(hits: Sequence[Hit], threshold: float | None) -> Sequence[Hit]:
    """The hits scoring at least ``threshold``, unless they are fused ranks (or no threshold)."""
    if threshold is None or (isinstance(hits, Hits) and hits.fused):
        return hits
    return [h for h in hits if h.score >= threshold]


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
    exact one. A router that knows more marks that member ``Scoring(metric, exact=False)``
    itself (an answer that was already fused is detected by :func:`merge_topk`). One region
    alone never needs fusion.
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
