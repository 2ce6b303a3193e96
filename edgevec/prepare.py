"""Validation shared by every backend and by both the sync and async shells.

Everything a caller can get wrong is checked here, before any I/O, and turned into columnar
inputs (ids, a float32 matrix, payload dicts) that backends consume; a rejected batch never
reaches an engine. Pure functions only: no I/O, no vendor import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgevec.capabilities import Capabilities
from edgevec.errors import (
    CollectionExistsError,
    DimensionMismatchError,
    EmbedderMismatchError,
    InvalidInputError,
)
from edgevec.fields import NO_FIELDS, FieldType, check_field_values, check_same_fields
from edgevec.filters import Filter, FilterLike, as_filter
from edgevec.payloads import canonical_payload, int_range
from edgevec.search_params import DEFAULT, SearchParams, SearchParamsLike, as_search_params
from edgevec.types import CollectionSpec, Metric, Record, check_id, check_metric
from edgevec.vectors import Matrix, as_matrix, as_query

if TYPE_CHECKING:
    from edgevec.embedders.protocol import Embedder

__all__ = [
    "PreparedQuery",
    "PreparedUpsert",
    "check_add_args",
    "check_collection_name",
    "check_delete_args",
    "check_embedder",
    "check_existing",
    "check_fingerprint",
    "check_ids",
    "check_k",
    "check_page_size",
    "check_score_threshold",
    "check_spec",
    "prepare_arrays",
    "prepare_filter",
    "prepare_query",
    "prepare_query_batch",
    "prepare_upsert",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_collection_name(name: object) -> str:
    """Collection names are portable identifiers: ``[A-Za-z_][A-Za-z0-9_]*``, at most 63 chars."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"invalid collection name {name!r}: use letters, digits and '_', starting with a "
            "letter or '_', at most 63 characters (the rule every backend accepts)"
        )
    return name


def check_spec(name: str, dim: object, metric: str) -> tuple[int, Metric]:
    """Validate the dimension and metric of a new collection."""
    check_collection_name(name)
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not 1 <= dim <= 65_536:
        raise InvalidInputError(f"dim must be an int in 1..65536, got {dim!r}")
    return int(dim), check_metric(metric)


def check_ids(ids: Iterable[str] | str) -> list[str]:
    """Validate an id list (a lone ``str`` is a common slip and is rejected, not iterated)."""
    if isinstance(ids, str):
        raise InvalidInputError("ids must be a list of str, not a single str")
    return [check_id(i) for i in ids]


def check_k(k: object, capabilities: Capabilities) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive int, got {k!r}")
    if k > capabilities.max_k:
        raise InvalidInputError(f"k={k} exceeds this backend's maximum of {capabilities.max_k}")
    return int(k)


MAX_PAGE_SIZE = 10_000
"""Largest ``scan`` page: every engine answers it in one request (Milvus caps a query at 16384)."""


def check_page_size(size: object, name: str = "page_size") -> int:
    """Validate a ``scan`` page size (given as argument ``name``): a positive int of at most
    :data:`MAX_PAGE_SIZE`."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise InvalidInputError(f"{name} must be a positive int, got {size!r}")
    if size > MAX_PAGE_SIZE:
        raise InvalidInputError(f"{name}={size} exceeds the maximum of {MAX_PAGE_SIZE}")
    return int(size)


@dataclass(frozen=True, slots=True)
class PreparedUpsert:
    """A validated write: unique ids (last occurrence wins), their vectors and payloads."""

    ids: list[str]
    vectors: Matrix
    payloads: list[dict[str, Any]]

    def chunks(self, size: int) -> Iterable[PreparedUpsert]:
        """Split into pieces of at most ``size`` records (a backend's request limit)."""
        for start in range(0, len(self.ids), size):
            stop = start + size
            yield PreparedUpsert(
                self.ids[start:stop], self.vectors[start:stop], self.payloads[start:stop]
            )


def prepare_upsert(
    records: Iterable[Record],
    dim: int,
    metric: Metric,
    *,
    int_bits: int = 64,
    fields: Mapping[str, FieldType] = NO_FIELDS,
) -> PreparedUpsert:
    """Validate records into columns; raises before anything is written.

    ``int_bits`` is the backend's ``Capabilities.exact_int_bits``: payload ints beyond it are
    refused rather than stored inexactly. ``fields`` are the collection's declared fields, whose
    values must have the declared types.
    """
    if isinstance(records, Record):
        raise InvalidInputError("upsert takes a list of Record, not a single Record")
    try:
        recs = list(records)
    except TypeError as exc:  # None, a number, ...
        raise InvalidInputError(
            f"upsert takes a list of Record, got {type(records).__name__}"
        ) from exc
    for i, r in enumerate(recs):
        if not isinstance(r, Record):
            raise InvalidInputError(f"records[{i}] is {type(r).__name__}, not edgevec.Record")
        if r.vector is None:
            raise InvalidInputError(f"record {r.id!r} has no vector")
        if r.vector.shape != (dim,):
            raise DimensionMismatchError(
                f"record {r.id!r} has vector shape {r.vector.shape}, expected ({dim},)"
            )
    vectors = (
        np.stack([r.vector for r in recs if r.vector is not None])
        if recs
        else np.empty((0, dim), np.float32)
    )
    return prepare_arrays(
        [r.id for r in recs],
        vectors,
        [r.payload for r in recs],
        dim,
        metric,
        int_bits=int_bits,
        fields=fields,
    )


def prepare_arrays(
    ids: Sequence[str],
    vectors: Any,
    payloads: Sequence[Mapping[str, Any] | None] | None,
    dim: int,
    metric: Metric,
    *,
    int_bits: int = 64,
    fields: Mapping[str, FieldType] = NO_FIELDS,
) -> PreparedUpsert:
    """Validate columnar input (``ids``, an ``(n, dim)`` array, optional payloads).

    Payloads are copied into the JSON value model of :mod:`edgevec.payloads`, so the caller's
    objects are never stored and a later change to them changes nothing; declared ``fields``
    are then type-checked (:func:`edgevec.fields.check_field_values`).
    """
    id_list = check_ids(ids)
    mat = as_matrix(vectors, dim, metric)
    if mat.shape[0] != len(id_list):
        raise InvalidInputError(f"{len(id_list)} ids but {mat.shape[0]} vectors")
    if payloads is None:
        pay: list[dict[str, Any]] = [{} for _ in id_list]
    else:
        if isinstance(payloads, Mapping):
            raise InvalidInputError("payloads must be a list of dicts, one per id, not one dict")
        ints = int_range(int_bits)
        pay = [canonical_payload(p, i, ints) for i, p in enumerate(payloads)]
        if len(pay) != len(id_list):
            raise InvalidInputError(f"{len(id_list)} ids but {len(pay)} payloads")
        check_field_values(pay, fields)
    last = {rid: i for i, rid in enumerate(id_list)}
    if len(last) != len(id_list):  # duplicates in one batch: the last one wins, as in a loop
        keep = np.fromiter(sorted(last.values()), dtype=np.int64, count=len(last))
        id_list = [id_list[i] for i in keep]
        pay = [pay[i] for i in keep]
        mat = np.ascontiguousarray(mat[keep])
    return PreparedUpsert(id_list, mat, pay)


def check_score_threshold(threshold: object) -> float | None:
    """A finite number (edgevec's higher-is-better score), or ``None`` for no threshold."""
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise InvalidInputError(f"score_threshold must be a number, got {threshold!r}")
    value = float(threshold)
    if not np.isfinite(value):
        raise InvalidInputError(f"score_threshold must be finite, got {threshold!r}")
    return value


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    """A validated query: a ``(n, dim)`` float32 matrix, ``k``, filter and output options.

    ``params`` were checked against the backend's capabilities. ``score_threshold`` is applied
    by the base class to the sorted top ``k``; a backend may also push it down where that gives
    the identical answer.
    """

    vectors: Matrix
    k: int
    filter: Filter | None
    include_vectors: bool
    include_payload: bool
    params: SearchParams = DEFAULT
    score_threshold: float | None = None


def prepare_query(
    vector: Any,
    k: int,
    filter: FilterLike | None,
    *,
    dim: int,
    metric: Metric,
    capabilities: Capabilities,
    backend: str,
    include_vectors: bool = False,
    include_payload: bool = True,
    params: SearchParamsLike | None = None,
    score_threshold: float | None = None,
    batch: bool = False,
) -> PreparedQuery:
    """Validate a (batch) query; filter and params are checked against the capabilities."""
    mat = (
        as_matrix(vector, dim, metric, what="query vectors")
        if batch
        else as_query(vector, dim, metric)
    )
    flt = None if filter is None else prepare_filter(filter, capabilities, backend)
    if type(k) is not int or not 1 <= k <= capabilities.max_k:  # the slow path explains why
        k = check_k(k, capabilities)
    search = DEFAULT
    if params is not None:  # the common call sets none: no work on the hot path
        search = as_search_params(params)
        capabilities.check_params(search, backend)
    threshold = None if score_threshold is None else check_score_threshold(score_threshold)
    return PreparedQuery(mat, k, flt, include_vectors, include_payload, search, threshold)


def prepare_query_batch(
    vectors: Any, k: int, filter: FilterLike | None, **kw: Any
) -> PreparedQuery:
    """Same as :func:`prepare_query` for an ``(n, dim)`` batch."""
    return prepare_query(vectors, k, filter, batch=True, **kw)


def prepare_filter(
    filter: FilterLike | None, capabilities: Capabilities, backend: str
) -> Filter | None:
    flt = as_filter(filter)
    capabilities.check_filter(flt, backend)
    return flt


def check_delete_args(ids: Iterable[str] | None, filter: FilterLike | None) -> None:
    if (ids is None) == (filter is None):
        raise InvalidInputError("delete takes exactly one of ids= or filter=")


def check_existing(
    spec: CollectionSpec, dim: int, metric: Metric, fields: Mapping[str, FieldType] = NO_FIELDS
) -> None:
    """``exist_ok=True`` must not hide a collection of another shape or other declared fields."""
    if spec.dim != dim or spec.metric != metric:
        raise CollectionExistsError(
            f"collection {spec.name!r} exists with dim={spec.dim}, metric={spec.metric!r}; "
            f"asked for dim={dim}, metric={metric!r}"
        )
    check_same_fields(spec.name, spec.fields, fields)


def check_embedder(embedder: Embedder, dim: object, metric: str | None) -> tuple[int, Metric]:
    """The dim and metric of a collection made for ``embedder``; explicit ones must agree."""
    from edgevec.embedders.protocol import Embedder

    if not isinstance(embedder, Embedder):
        raise InvalidInputError(
            f"embedder must provide dim, metric, fingerprint, embed and aembed; "
            f"got {type(embedder).__name__}"
        )
    if dim is not None and dim != embedder.dim:
        raise InvalidInputError(f"dim={dim!r} conflicts with the embedder's dim={embedder.dim}")
    if metric is not None and metric != embedder.metric:
        raise InvalidInputError(
            f"metric={metric!r} conflicts with the embedder's metric={embedder.metric!r}"
        )
    return embedder.dim, check_metric(embedder.metric)


def check_fingerprint(spec: CollectionSpec, embedder: Embedder) -> None:
    """Refuse to bind ``embedder`` to a collection another embedder filled.

    A collection created without an embedder records no fingerprint; binding one is allowed when
    its dim and metric fit, since the caller may have stored that model's vectors by hand.
    """
    check_embedder(embedder, None, None)
    if spec.fingerprint is not None and spec.fingerprint != embedder.fingerprint:
        raise EmbedderMismatchError(
            f"collection {spec.name!r} was created with the embedder {spec.fingerprint!r}, "
            f"but is opened with {embedder.fingerprint!r}: their vectors are not comparable. "
            "Open it with the embedder it was created with, or re-embed into a new collection."
        )
    if spec.dim != embedder.dim or spec.metric != embedder.metric:
        raise EmbedderMismatchError(
            f"collection {spec.name!r} has dim={spec.dim}, metric={spec.metric!r}; the embedder "
            f"{embedder.fingerprint!r} makes dim={embedder.dim}, metric={embedder.metric!r}"
        )


def check_add_args(
    ids: Sequence[str],
    items: Sequence[Any],
    payloads: Sequence[Mapping[str, Any] | None] | None,
) -> tuple[list[str], list[Any]]:
    """Validate what ``EmbeddedCollection.add`` can before any embedding work."""
    id_list = check_ids(ids)
    if isinstance(items, str | bytes | bytearray | memoryview):
        raise InvalidInputError(f"items must be a list, not a single {type(items).__name__}")
    item_list = list(items)
    if len(item_list) != len(id_list):
        raise InvalidInputError(f"{len(id_list)} ids but {len(item_list)} items")
    if payloads is not None and len(payloads) != len(id_list):
        raise InvalidInputError(f"{len(id_list)} ids but {len(payloads)} payloads")
    return id_list, item_list
