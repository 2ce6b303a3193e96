"""Plain value types shared by every backend: records, hits, metrics and collection specs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, get_args

import numpy as np
import numpy.typing as npt

from edgevec.errors import InvalidInputError, InvalidVectorError
from edgevec.fields import FieldType

__all__ = [
    "MAX_ID_BYTES",
    "METRICS",
    "ArrayHits",
    "CollectionSpec",
    "Hit",
    "Hits",
    "Metric",
    "Record",
    "check_id",
    "check_metric",
]

Metric = Literal["cosine", "dot", "l2"]
"""Similarity metric; scores are higher-is-better: cosine similarity, inner product, -‖a-b‖."""

METRICS: tuple[Metric, ...] = get_args(Metric)
MAX_ID_BYTES = 512

FloatVector = npt.NDArray[np.float32]


def check_metric(metric: str) -> Metric:
    """Return ``metric`` as a :data:`Metric`; :class:`InvalidInputError` names the choices."""
    if metric not in METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def check_id(value: object) -> str:
    """Validate a record id: a non-empty ``str`` of at most 512 UTF-8 bytes."""
    if not isinstance(value, str):
        raise InvalidInputError(f"ids must be str, got {type(value).__name__}: {value!r}")
    if not value:
        raise InvalidInputError("ids must be non-empty")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates: no engine can store them
        raise InvalidInputError(f"id is not valid Unicode text: {value[:32]!r}") from exc
    if size > MAX_ID_BYTES:
        raise InvalidInputError(f"id longer than {MAX_ID_BYTES} UTF-8 bytes: {value[:32]!r}...")
    return value


@dataclass(frozen=True, eq=False, slots=True)
class Record:
    """One stored item: a caller-chosen id, its vector and a JSON-like payload."""

    id: str
    vector: FloatVector | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id(self.id)
        if self.vector is not None:
            vec = self.vector
            if type(vec) is not np.ndarray or vec.dtype != np.float32 or not vec.flags.c_contiguous:
                object.__setattr__(self, "vector", _float32_vector(self.id, vec))
        if not isinstance(self.payload, Mapping):
            raise InvalidInputError(
                f"payload of {self.id!r} must be a mapping, got {type(self.payload).__name__}"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        if self.id != other.id or dict(self.payload) != dict(other.payload):
            return False
        if self.vector is None or other.vector is None:
            return self.vector is None and other.vector is None
        return bool(np.array_equal(self.vector, other.vector))

    __hash__ = None  # type: ignore[assignment]  # mutable payloads make records unhashable


def _float32_vector(rid: str, vector: object) -> FloatVector:
    """``vector`` as contiguous float32, or :class:`InvalidVectorError` for what is not a list of
    real numbers (strings, ragged lists, complex numbers, objects)."""
    try:
        arr = np.asarray(vector)
    except (TypeError, ValueError) as exc:  # ragged nesting
        raise InvalidVectorError(f"vector of {rid!r} is not a numeric array: {exc}") from exc
    if arr.dtype.kind not in "fiu":
        raise InvalidVectorError(f"vector of {rid!r} must be real numbers, got dtype {arr.dtype}")
    with np.errstate(over="ignore"):  # beyond float32's range becomes Inf, refused on write
        return np.ascontiguousarray(arr, dtype=np.float32)


@dataclass(eq=False, slots=True)
class Hit:
    """One search result. ``score`` is higher-is-better for every metric.

    Not frozen: a frozen dataclass costs ~4x more to build, and queries build many hits.
    """

    id: str
    score: float
    payload: Mapping[str, Any] = field(default_factory=dict)
    vector: FloatVector | None = None
    source: str | None = None
    """Where the hit came from (a region or endpoint) when a router merged several stores."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        same_vec = (self.vector is None and other.vector is None) or (
            self.vector is not None
            and other.vector is not None
            and bool(np.array_equal(self.vector, other.vector))
        )
        return (
            self.id == other.id
            and self.score == other.score
            and dict(self.payload) == dict(other.payload)
            and self.source == other.source
            and same_vec
        )

    __hash__ = None  # type: ignore[assignment]


class Hits(list[Hit]):
    """What ``query`` returns: hits best-first, plus whether the answer is complete.

    ``partial`` is ``True`` and ``missing`` names the regions that did not answer when a federated
    query ran past its deadline; for a single store they are ``False`` and ``[]``. ``fused`` is
    ``True`` when a router merged regions whose scores do not compare by reciprocal rank fusion:
    each score is then the fused rank score, not a similarity (a ``score_threshold`` was
    applied to each region's own scores before fusing, and is not applied to these).
    """

    __slots__ = ("fused", "missing", "partial")

    def __init__(
        self,
        hits: Iterable[Hit] = (),
        *,
        partial: bool = False,
        missing: Iterable[str] = (),
        fused: bool = False,
    ) -> None:
        super().__init__(hits)
        self.partial = partial
        self.missing = list(missing)
        self.fused = fused

    def with_hits(self, hits: Iterable[Hit]) -> Hits:
        """Other hits (a filtered or trimmed copy) that keep this answer's ``partial``,
        ``missing`` and ``fused``: a threshold does not make a partial answer complete."""
        return Hits(hits, partial=self.partial, missing=self.missing, fused=self.fused)

    @property
    def ids(self) -> list[str]:
        """The hit ids, best first."""
        return [h.id for h in self]

    @property
    def scores(self) -> FloatVector:
        """The hit scores as a float32 array, best first."""
        return np.fromiter((h.score for h in self), dtype=np.float32, count=len(self))

    def __repr__(self) -> str:
        extra = f", partial=True, missing={self.missing!r}" if self.partial else ""
        extra += ", fused=True" if self.fused else ""
        return f"Hits({list.__repr__(self)}{extra})"


class ArrayHits(NamedTuple):
    """What ``query_arrays`` returns: the results of ``n`` queries as two ``(n, k)`` arrays.

    For callers who hand results on as arrays (a service, a re-ranker, an evaluation): no
    :class:`Hit` objects are built, so it is the cheapest way to read many results. Row ``i``
    holds query ``i``'s hits best first; past its last hit (fewer than ``k`` records matched)
    ``ids`` holds ``None`` and ``scores`` holds NaN.
    """

    ids: npt.NDArray[np.object_]
    """``(n, k)`` object array of record ids (``str``, or ``None`` past the last hit)."""
    scores: npt.NDArray[np.float32]
    """``(n, k)`` float32 scores, higher is better (NaN past the last hit)."""

    @classmethod
    def from_hits(cls, hits: Sequence[Hits], k: int) -> ArrayHits:
        """The columnar form of ``hits`` (one :class:`Hits` per query, each at most ``k``)."""
        ids = np.full((len(hits), k), None, dtype=object)
        scores = np.full((len(hits), k), np.nan, dtype=np.float32)
        for row, row_hits in enumerate(hits):
            ids[row, : len(row_hits)] = [h.id for h in row_hits]
            scores[row, : len(row_hits)] = [h.score for h in row_hits]
        return cls(ids, scores)


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """What defines a collection: its name, dimension, metric, backend-specific index options and
    the payload fields it declares (see :mod:`edgevec.fields`)."""

    name: str
    dim: int
    metric: Metric = "cosine"
    options: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    """Fingerprint of the embedder the collection was created with, if any."""
    fields: Mapping[str, FieldType] = field(default_factory=dict)
    """Declared payload fields and their types, kept natively typed by the backend."""
