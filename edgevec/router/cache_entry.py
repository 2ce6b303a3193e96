"""Cached answers in a form nothing can change, thawed into fresh objects for every caller.

A cache must never hand out an object it keeps, since callers may change what they get.
Deep-copying the kept :class:`~edgevec.types.Hit` objects and payload dicts on every hit cost
more than the rest of a hit together, so an entry keeps the answer compactly instead: ids,
scores and sources as tuples of immutable values, vectors as read-only arrays, and a row's
payloads either as private dicts of immutable values (the common flat payload; each hit gets a
``dict.copy``) or, when one holds a list or dict, as one orjson document. Thawing a row is then
a few calls that loop in C: no Python loop over hits or payload contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import orjson

from edgevec.types import ArrayHits, Hit, Hits

__all__ = ["CacheEntry", "CachedResult", "FrozenArrays", "FrozenRow", "FrozenRows", "freeze"]

CachedResult: TypeAlias = "list[Hits] | ArrayHits"
"""What the query hooks answer, and what the cache is asked to keep and gives back."""

FloatVector = npt.NDArray[np.float32]
_ATOMS = frozenset({str, int, float, bool, type(None)})
"""Payload value types a shallow ``dict`` copy copies fully: immutable (subclasses may not be)."""
_Item = TypeVar("_Item", bound=np.generic)


@dataclass(frozen=True, slots=True)
class FrozenRow:
    """One query row's hits, field by field (a tuple holds that field of every hit, in order)."""

    ids: tuple[str, ...]
    scores: tuple[float, ...]
    payloads: tuple[dict[str, Any], ...] | bytes
    """The hits' payloads in hit order: private flat dicts (never handed out, only copied), or
    ``orjson.dumps`` of them when one nests a list or dict."""
    vectors: tuple[FloatVector | None, ...] | None
    """Read-only copies of the hits' vectors; ``None`` when no hit carries one."""
    sources: tuple[str | None, ...] | None
    """Each hit's ``source``; ``None`` when no hit has one."""
    fused: bool

    def thaw(self) -> Hits:
        """The row as new :class:`Hits`, sharing nothing the caller could change."""
        vectors = repeat(None) if self.vectors is None else map(_copy, self.vectors)
        sources = repeat(None) if self.sources is None else self.sources
        payloads = self.payloads
        copies = orjson.loads(payloads) if isinstance(payloads, bytes) else map(dict.copy, payloads)
        hits = map(Hit, self.ids, self.scores, copies, vectors, sources)
        return Hits(hits, fused=self.fused)


@dataclass(frozen=True, slots=True)
class FrozenRows:
    """A ``list[Hits]`` answer (one row per query vector)."""

    rows: tuple[FrozenRow, ...]

    def thaw(self) -> list[Hits]:
        """The answer as new rows of new hits."""
        return list(map(FrozenRow.thaw, self.rows))


@dataclass(frozen=True, slots=True)
class FrozenArrays:
    """An :class:`~edgevec.types.ArrayHits` answer, its arrays read-only."""

    ids: npt.NDArray[np.object_]
    scores: npt.NDArray[np.float32]

    def thaw(self) -> ArrayHits:
        """Writable copies of the arrays (the ids in them are immutable ``str``)."""
        return ArrayHits(self.ids.copy(), self.scores.copy())


CacheEntry: TypeAlias = "FrozenRows | FrozenArrays"
"""What a :class:`~edgevec.router.cache.ResultCache` keeps: an answer no holder can change."""


def freeze(result: CachedResult) -> CacheEntry | None:
    """``result`` as a cache entry sharing nothing with it, or ``None`` when it must not be
    kept: a partial answer (the region that missed may answer next time), or one with a
    nested payload orjson refuses (outside edgevec's payload model: a non-str key, an int
    beyond 64 bits, an object JSON has no form for), which the cache could not give back."""
    if isinstance(result, ArrayHits):
        return FrozenArrays(_readonly(result.ids), _readonly(result.scores))
    if any(row.partial for row in result):
        return None
    try:
        return FrozenRows(tuple(map(_freeze_row, result)))
    except orjson.JSONEncodeError:
        return None


def _freeze_row(row: Hits) -> FrozenRow:
    vectors = None
    if any(h.vector is not None for h in row):
        vectors = tuple(None if h.vector is None else _readonly(h.vector) for h in row)
    sources = tuple(h.source for h in row)
    payloads = tuple(dict(h.payload) for h in row)
    flat = all(type(v) in _ATOMS for p in payloads for v in p.values())
    return FrozenRow(
        ids=tuple(h.id for h in row),
        scores=tuple(h.score for h in row),
        payloads=payloads if flat else orjson.dumps(payloads),
        vectors=vectors,
        sources=None if sources.count(None) == len(sources) else sources,
        fused=row.fused,
    )


def _readonly(array: npt.NDArray[_Item]) -> npt.NDArray[_Item]:
    out: npt.NDArray[_Item] = array.copy()
    out.flags.writeable = False
    return out


def _copy(vector: FloatVector | None) -> FloatVector | None:
    return None if vector is None else vector.copy()
