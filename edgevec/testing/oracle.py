"""The exact numpy oracle: the judge of every backend's search results.

Written independently of :class:`edgevec.filters.PayloadIndex` (a plain per-record evaluator
here, a columnar one there), so a bug in the fast path cannot hide behind the oracle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from edgevec.filters import And, Cmp, Filter, Not, Or, lookup
from edgevec.types import Hits, Metric

__all__ = ["assert_hits_match", "exact_scores", "matches", "oracle_topk"]

SCORE_TOL = 1e-4


def _elements(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _same(a: Any, b: Any) -> bool:
    """Strict equality: bools, numbers and strings are distinct kinds."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return isinstance(a, int | float) and isinstance(b, int | float) and a == b


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def matches(flt: Filter | None, payload: Mapping[str, Any]) -> bool:
    """Does ``payload`` satisfy ``flt``? The reference semantics of the portable filter."""
    if flt is None:
        return True
    if isinstance(flt, And):
        return all(matches(a, payload) for a in flt.args)
    if isinstance(flt, Or):
        return any(matches(a, payload) for a in flt.args)
    if isinstance(flt, Not):
        return not matches(flt.arg, payload)
    assert isinstance(flt, Cmp)
    elems = _elements(lookup(payload, flt.field))
    op, v = flt.op, flt.value
    if op == "exists":
        return bool(elems)
    if op in ("eq", "ne"):
        hit = any(_same(e, v) for e in elems)
        return hit if op == "eq" else not hit
    if op in ("in", "nin"):
        hit = any(_same(e, x) for e in elems for x in v)
        return hit if op == "in" else not hit
    nums = [e for e in elems if _is_number(e)]
    if op == "lt":
        return any(e < v for e in nums)
    if op == "lte":
        return any(e <= v for e in nums)
    if op == "gt":
        return any(e > v for e in nums)
    return any(e >= v for e in nums)


def exact_scores(
    vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32], metric: Metric
) -> npt.NDArray[np.float64]:
    """edgevec's score of every row against ``query``, in float64."""
    x = vectors.astype(np.float64)
    q = query.astype(np.float64).reshape(-1)
    out: npt.NDArray[np.float64]
    if metric == "dot":
        out = x @ q
    elif metric == "cosine":
        out = (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
    else:
        out = -np.linalg.norm(x - q, axis=1)
    return out


def oracle_topk(
    ids: Sequence[str],
    vectors: npt.NDArray[np.float32],
    payloads: Sequence[Mapping[str, Any]],
    query: npt.NDArray[np.float32],
    k: int,
    metric: Metric,
    flt: Filter | None = None,
) -> list[tuple[str, float]]:
    """The exact top-``k`` ``(id, score)`` pairs among records satisfying ``flt``."""
    allowed = np.fromiter((matches(flt, p) for p in payloads), dtype=bool, count=len(ids))
    scores = exact_scores(vectors, query, metric)
    idx = np.flatnonzero(allowed)
    order = idx[np.argsort(-scores[idx], kind="stable")][:k]
    return [(ids[i], float(scores[i])) for i in order]


def assert_hits_match(
    hits: Hits,
    ids: Sequence[str],
    vectors: npt.NDArray[np.float32],
    payloads: Sequence[Mapping[str, Any]],
    query: npt.NDArray[np.float32],
    k: int,
    metric: Metric,
    flt: Filter | None = None,
    tol: float = SCORE_TOL,
) -> None:
    """Assert ``hits`` is a correct exact top-``k``: same length as the oracle's, every hit passes
    the filter and carries its true score, and the scores equal the oracle's top-``k`` scores.

    Together these mean the ids equal the oracle's up to exact ties, which no backend can be
    asked to break the same way.
    """
    expected = oracle_topk(ids, vectors, payloads, query, k, metric, flt)
    got = [(h.id, h.score) for h in hits]
    assert len(got) == len(expected), f"{len(got)} hits, oracle has {len(expected)}: {got}"
    assert len({h.id for h in hits}) == len(hits), f"duplicate ids in {got}"
    true = exact_scores(vectors, query, metric)
    row = {rid: i for i, rid in enumerate(ids)}
    for rid, score in got:
        assert rid in row, f"unknown id {rid!r} in results"
        i = row[rid]
        assert matches(flt, payloads[i]), f"{rid!r} does not satisfy {flt!r}"
        assert abs(score - true[i]) <= tol, f"{rid!r}: score {score}, exact {true[i]}"
    got_scores = np.array([s for _, s in got])
    exp_scores = np.array([s for _, s in expected])
    assert np.all(np.diff(got_scores) <= tol), f"hits not best-first: {got_scores}"
    assert np.allclose(got_scores, exp_scores, atol=tol, rtol=0), (
        f"scores {got_scores} != oracle {exp_scores}"
    )
