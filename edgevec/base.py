"""The sync base classes every backend subclasses; the async twins are generated from this file.

Backends implement the ``_``-hooks over inputs already validated by :mod:`edgevec.prepare`.
``scripts/unasync.py`` turns this module into :mod:`edgevec.abase` (``async def`` and ``await``
for the I/O methods), and ``nox -s lint`` fails if the two drift apart: one source, two shells.
"""

from __future__ import annotations

import dataclasses
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, overload

import numpy as np
from typing_extensions import Self, TypeVar

from edgevec.capabilities import Capabilities
from edgevec.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidInputError,
    RecordNotFoundError,
)
from edgevec.fields import check_fields, check_same_fields
from edgevec.filters import Filter, FilterLike
from edgevec.lifecycle import HandleState, StoreState
from edgevec.prepare import (
    PreparedQuery,
    PreparedUpsert,
    check_collection_name,
    check_delete_args,
    check_embedder,
    check_existing,
    check_fingerprint,
    check_ids,
    check_page_size,
    check_spec,
    prepare_arrays,
    prepare_filter,
    prepare_query,
    prepare_query_batch,
    prepare_upsert,
)
from edgevec.search_params import SearchParamsLike
from edgevec.stats import CollectionStats, StoreStats
from edgevec.types import ArrayHits, CollectionSpec, Hits, Metric, Record, check_id

if TYPE_CHECKING:
    from pydantic import BaseModel

    from edgevec.abase import AsyncBaseStore  # unasync: drop
    from edgevec.embedded import EmbeddedCollection
    from edgevec.embedders.protocol import Embedder

__all__ = ["BaseCollection", "BaseStore", "PreparedQuery", "PreparedUpsert"]


class BaseCollection(ABC):
    """Sync collection: public methods validate, then call the backend's ``_``-methods."""

    backend: ClassVar[str] = "base"

    def __init__(self, spec: CollectionSpec, capabilities: Capabilities) -> None:
        self.spec = spec
        self.capabilities = capabilities
        self._handle_state = HandleState(StoreState(self.backend), spec.name)
        """Checked by every public method; the store that hands this handle out replaces it
        with one tied to its own state, and a wrapper shares the state of what it wraps."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def metric(self) -> Metric:
        return self.spec.metric

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} dim={self.dim} metric={self.metric!r} "
            f"backend={self.backend!r}>"
        )

    # -- public API -------------------------------------------------------------------------

    def upsert(self, records: Iterable[Record]) -> None:
        """Insert or overwrite records; returns once the engine acknowledged the write."""
        self._handle_state.check()
        self._upsert(
            prepare_upsert(
                records,
                self.dim,
                self.metric,
                int_bits=self.capabilities.exact_int_bits,
                fields=self.spec.fields,
            )
        )

    def upsert_arrays(
        self,
        ids: Sequence[str],
        vectors: Any,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None:
        """Columnar :meth:`upsert`: ``ids``, an ``(n, dim)`` array and optional payloads."""
        self._handle_state.check()
        self._upsert(
            prepare_arrays(
                ids,
                vectors,
                payloads,
                self.dim,
                self.metric,
                int_bits=self.capabilities.exact_int_bits,
                fields=self.spec.fields,
            )
        )

    def query(
        self,
        vector: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
    ) -> Hits:
        """The ``k`` nearest records to ``vector`` (best first) that satisfy ``filter``.

        ``params`` (an :class:`~edgevec.SearchParams` or a mapping such as ``{"ef": 128}``) tunes
        the search where the backend declares it can. ``score_threshold`` keeps, of those ``k``
        best hits, only the ones scoring at least that much; the result may be empty.
        """
        self._handle_state.check()
        q = self._prepare_search(
            prepare_query, vector, k, filter,
            include_vectors, include_payload, params, score_threshold,
        )  # fmt: skip
        (hits,) = self._query(q)
        return hits if q.score_threshold is None else _at_least(hits, q.score_threshold)

    def query_batch(
        self,
        vectors: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
    ) -> list[Hits]:
        """One :class:`Hits` per row of the ``(n, dim)`` array ``vectors`` (see :meth:`query`)."""
        self._handle_state.check()
        q = self._prepare_search(
            prepare_query_batch, vectors, k, filter,
            include_vectors, include_payload, params, score_threshold,
        )  # fmt: skip
        if not len(q.vectors):
            return []
        return [_at_least(hits, q.score_threshold) for hits in self._query(q)]

    def query_by_id(
        self,
        id: str,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_self: bool = False,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
    ) -> Hits:
        """The ``k`` records nearest to the stored record ``id``: "more like this".

        The record itself is left out unless ``include_self``; every other argument means what
        it means in :meth:`query`. Raises :class:`~edgevec.errors.RecordNotFoundError` if no
        record has that id. The caller never handles the vector: it is read and queried here
        (as ``k + 1`` hits, so at ``k == capabilities.max_k`` one fewer may come back).
        """
        self._handle_state.check()
        rid = check_id(id)
        q = self._prepare_search(
            prepare_query_batch, np.empty((0, self.dim), np.float32), k, filter,
            include_vectors, include_payload, params, score_threshold,
        )  # fmt: skip
        found = self._get([rid], True)
        if not found or found[0].vector is None:
            raise RecordNotFoundError(f"no record with id {rid!r} in collection {self.name!r}")
        # One more than asked, so dropping the record itself still leaves k.
        wider = q.k if include_self else min(q.k + 1, self.capabilities.max_k)
        rows = self._query(dataclasses.replace(q, vectors=found[0].vector[None, :], k=wider))
        hits = rows[0]
        if not include_self:
            hits = hits.with_hits([h for h in hits if h.id != rid][: q.k])
        return _at_least(hits, q.score_threshold)

    def query_arrays(
        self,
        vectors: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
    ) -> ArrayHits:
        """The results of :meth:`query_batch` as an ``(n, k)`` id array and score matrix.

        No per-hit objects and no payloads: the lean path for callers who want arrays. A hit
        below ``score_threshold`` is blanked like a missing one (``None`` id, NaN score).
        """
        self._handle_state.check()
        q = self._prepare_search(
            prepare_query_batch, vectors, k, filter, False, False, params, score_threshold
        )
        found = self._query_arrays(q)
        if q.score_threshold is None:
            return found
        below = ~(found.scores >= q.score_threshold)  # NaN (no hit) stays blank
        ids, scores = found.ids.copy(), found.scores.copy()
        ids[below], scores[below] = None, np.nan
        return ArrayHits(ids, scores)

    def _prepare_search(
        self,
        prepare: Callable[..., PreparedQuery],
        vectors: Any,
        k: int,
        filter: FilterLike | None,
        include_vectors: bool,
        include_payload: bool,
        params: SearchParamsLike | None,
        score_threshold: float | None,
    ) -> PreparedQuery:
        """``prepare`` (one vector or a batch) with this collection's dim, metric and manifest."""
        return prepare(
            vectors, k, filter, dim=self.dim, metric=self.metric,
            capabilities=self.capabilities, backend=self.backend,
            include_vectors=include_vectors, include_payload=include_payload, params=params,
            score_threshold=score_threshold,
        )  # fmt: skip

    def get(self, ids: Iterable[str], *, include_vectors: bool = True) -> list[Record]:
        """Records for ``ids`` in the order asked; missing ids are simply absent."""
        self._handle_state.check()
        return self._get(check_ids(ids), include_vectors)

    def delete(self, ids: Iterable[str] | None = None, *, filter: FilterLike | None = None) -> None:
        """Delete by ids (missing ids are ignored) or by filter."""
        self._handle_state.check()
        check_delete_args(ids, filter)
        if ids is not None:
            id_list = check_ids(ids)
            if id_list:
                self._delete_ids(id_list)
        else:
            flt = prepare_filter(filter, self.capabilities, self.backend)
            assert flt is not None  # guaranteed by check_delete_args
            self._delete_filter(flt)

    def count(self, filter: FilterLike | None = None) -> int:
        """Number of records, or of records satisfying ``filter``."""
        self._handle_state.check()
        return self._count(prepare_filter(filter, self.capabilities, self.backend))

    def stats(self) -> CollectionStats:
        """Size, shape, index kind and the engine's own health report of this collection."""
        self._handle_state.check()
        return self._stats()

    def scan(
        self, *, page_size: int = 256, include_vectors: bool = True, include_payload: bool = True
    ) -> Iterator[list[Record]]:
        """Every record of the collection, in pages of at most ``page_size`` (for export,
        migration, re-indexing).

        Pages follow the backend's own id order, resuming after the last id seen, so a scan
        needs no snapshot and holds no lock between pages: every record that exists for the
        whole scan comes back exactly once, while one written or deleted during it may or may
        not. ``page_size`` is checked when this is called, before any I/O.
        """
        self._handle_state.check()
        limit = check_page_size(page_size)
        return self._pages(limit, include_vectors, include_payload)

    def _pages(
        self, limit: int, include_vectors: bool, include_payload: bool
    ) -> Iterator[list[Record]]:
        cursor: str | None = None
        while True:
            self._handle_state.check()
            page, cursor = self._scan_page(cursor, limit, include_vectors, include_payload)
            if page:  # a page can come back empty (its records deleted meanwhile): go on
                yield page
            if cursor is None:
                return

    def explain(self, filter: FilterLike) -> str:
        """What this backend receives for ``filter`` (its native query form, rendered)."""
        self._handle_state.check()
        flt = prepare_filter(filter, self.capabilities, self.backend)
        assert flt is not None
        return self._explain(flt)

    # -- backend hooks ----------------------------------------------------------------------

    @abstractmethod
    def _upsert(self, batch: PreparedUpsert) -> None:
        """Write the whole validated batch: the one write hook, so a wrapper that delegates it
        keeps every rule of the backend. Split it with ``batch.chunks(...)`` where the engine
        limits a request, and finish (flush, aggregate errors) before returning."""

    @abstractmethod
    def _query(self, q: PreparedQuery) -> list[Hits]: ...

    def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        """Columnar results; by default built from :meth:`_query`, which a backend that holds
        its results as arrays overrides to skip the :class:`Hit` objects."""
        return ArrayHits.from_hits(self._query(q) if len(q.vectors) else [], q.k)

    @abstractmethod
    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]: ...

    @abstractmethod
    def _delete_ids(self, ids: list[str]) -> None: ...

    @abstractmethod
    def _delete_filter(self, flt: Filter) -> None: ...

    @abstractmethod
    def _count(self, flt: Filter | None) -> int: ...

    @abstractmethod
    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        """Up to ``limit`` records following ``cursor`` (``None``: from the start) in a stable
        order, and the opaque cursor of the next page (``None`` once none is left).

        A cursor names a position in that order, not an offset, so writes and deletes between
        pages never shift what a later page holds."""

    def _explain(self, flt: Filter) -> str:
        return flt.explain()

    def _stats(self) -> CollectionStats:
        """What the base knows (count and spec); backends add their index kind and health."""
        count = self._count(None)
        return CollectionStats(self.name, self.backend, count, self.dim, self.metric)


def _at_least(hits: Hits, threshold: float | None) -> Hits:
    """The hits scoring at least ``threshold``: exact on the top ``k`` whatever the engine.

    An answer fused by rank is returned as it is: its scores are ranks, so the router applied
    the threshold to each region's own scores before fusing (``rrf_merge(score_threshold=)``).
    """
    if threshold is None or hits.fused:
        return hits
    return hits.with_hits([h for h in hits if h.score >= threshold])


CollectionT = TypeVar("CollectionT", bound=BaseCollection, covariant=True, default=BaseCollection)
"""The kind of collection a store hands out: a subclass that adds arguments to its collections'
methods (the router's ``region=``) says so once, as ``BaseStore[RouterCollection]``."""


class BaseStore(ABC, Generic[CollectionT]):
    """Sync store: a connection to one engine holding named collections.

    The store hands out one collection object per name (opened on first use, under a lock, so
    concurrent ``collection``/``create_collection`` calls share it), and ``close()`` is final:
    afterwards the store and every handle it gave out raise :class:`StoreClosedError`.
    """

    backend: ClassVar[str] = "base"
    capabilities: ClassVar[Capabilities] = Capabilities()
    Options: ClassVar[type[BaseModel]]
    """Pydantic model of the options :func:`edgevec.connect` accepts for this backend."""

    def __init__(self, options: BaseModel) -> None:
        self.options = options
        self._store_state = StoreState(self.backend)
        self._handle_by_name: dict[str, CollectionT] = {}
        self._handle_lock = threading.RLock()

    # unasync: begin sync-only
    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncBaseStore:
        """The async store for these options; by default this store served from worker threads.

        Backends with a native async client override this.
        """
        from edgevec.threaded import ThreadedAsyncStore

        return ThreadedAsyncStore(cls(options))

    # unasync: end sync-only

    def __repr__(self) -> str:
        # Pydantic renders SecretStr as '**********', so secrets never reach a repr.
        return f"<{type(self).__name__} {self.options!r}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @overload
    def create_collection(
        self,
        name: str,
        dim: int,
        metric: str = ...,
        *,
        exist_ok: bool = ...,
        embedder: None = ...,
        fields: Mapping[str, str] | None = ...,
        **options: Any,
    ) -> CollectionT: ...

    @overload
    def create_collection(
        self,
        name: str,
        dim: int | None = ...,
        metric: str | None = ...,
        *,
        exist_ok: bool = ...,
        embedder: Embedder,
        fields: Mapping[str, str] | None = ...,
        **options: Any,
    ) -> EmbeddedCollection: ...

    def create_collection(
        self,
        name: str,
        dim: int | None = None,
        metric: str | None = None,
        *,
        exist_ok: bool = False,
        embedder: Embedder | None = None,
        fields: Mapping[str, str] | None = None,
        **options: Any,
    ) -> BaseCollection:
        """Create a collection (or, with ``exist_ok``, open one of the same dim, metric and
        fields).

        ``fields`` declares payload fields the collection filters on, e.g. ``{"label": "int",
        "tags": "keyword[]"}``: the backend keeps them as native typed columns or indexes, and
        writes holding another type there are refused (rules in :mod:`edgevec.fields`).
        With ``embedder``, dim and metric come from it, the collection records its fingerprint,
        and the result is an ``EmbeddedCollection``: a full collection plus ``add``/``search``.
        Check and create are one step per store, so concurrent ``exist_ok`` calls all get the
        same collection object (bound views are new wrappers around it).
        """
        return self._create_collection(name, dim, metric, exist_ok, embedder, fields, options)

    def _create_collection(
        self,
        name: str,
        dim: int | None,
        metric: str | None,
        exist_ok: bool,
        embedder: Embedder | None,
        fields: Mapping[str, str] | None,
        options: Mapping[str, Any],
    ) -> BaseCollection:
        """:meth:`create_collection`'s work, apart from its typed signature, so that a store
        delegating it elsewhere (a :class:`WrappedStore`) overrides only this."""
        from edgevec.embedded import EmbeddedCollection

        fingerprint = None
        if embedder is not None:
            dim, metric = check_embedder(embedder, dim, metric)
            fingerprint = embedder.fingerprint
        elif dim is None:
            check_collection_name(name)
            raise InvalidInputError(
                "create_collection needs dim= (or an embedder= to take it from)"
            )
        d, m = check_spec(name, dim, metric or "cosine")
        declared = check_fields(fields)
        if declared and not self.capabilities.declared_fields:
            raise InvalidInputError(
                f"backend {self.backend!r} does not keep declared fields yet; create the "
                "collection without fields= (filters on undeclared fields work unchanged)"
            )
        with self._handle_lock:
            self._store_state.check()
            if self._has_collection(name):
                if not exist_ok:
                    raise CollectionExistsError(f"collection {name!r} already exists")
                coll = self._handle_for(name)
                if embedder is None:
                    check_existing(coll.spec, d, m, declared)
                else:
                    check_fingerprint(coll.spec, embedder)
                    check_same_fields(name, coll.spec.fields, declared)
            else:
                self._forget(name)  # a handle whose collection was dropped elsewhere is stale
                spec = CollectionSpec(name, d, m, dict(options), fingerprint, declared)
                coll = self._adopt(self._create(spec))
        return coll if embedder is None else EmbeddedCollection(coll, embedder)

    @overload
    def collection(self, name: str, *, embedder: None = ...) -> CollectionT: ...

    @overload
    def collection(self, name: str, *, embedder: Embedder) -> EmbeddedCollection: ...

    def collection(self, name: str, *, embedder: Embedder | None = None) -> BaseCollection:
        """Open an existing collection; :class:`CollectionNotFoundError` if there is none.

        Every call for one name returns the same object while the collection exists (a handle
        whose collection was dropped, here or elsewhere, is retired). With ``embedder``, the
        collection's recorded fingerprint must be the embedder's
        (:class:`~edgevec.errors.EmbedderMismatchError` names both otherwise).
        """
        return self._get_collection(name, embedder)

    def _get_collection(self, name: str, embedder: Embedder | None) -> BaseCollection:
        """:meth:`collection`'s work (see :meth:`_create_collection`)."""
        from edgevec.embedded import EmbeddedCollection

        name = check_collection_name(name)
        with self._handle_lock:
            self._store_state.check()
            if name in self._handle_by_name and not self._has_collection(name):
                self._forget(name)
            coll = self._handle_for(name)
        if embedder is None:
            return coll
        check_fingerprint(coll.spec, embedder)
        return EmbeddedCollection(coll, embedder)

    def has_collection(self, name: str) -> bool:
        """Whether the engine holds a collection of that name (asked every time)."""
        name = check_collection_name(name)
        self._store_state.check()
        return self._has_collection(name)

    def list_collections(self) -> list[str]:
        """Names of the collections the engine holds, sorted."""
        self._store_state.check()
        return self._list_collections()

    def drop_collection(self, name: str, *, missing_ok: bool = False) -> None:
        """Delete a collection and its data; its handle then raises ``CollectionNotFoundError``
        and a later create gives a new one."""
        name = check_collection_name(name)
        with self._handle_lock:
            self._store_state.check()
            present = self._has_collection(name)
            try:
                if present:
                    self._drop(name)
            finally:
                self._forget(name)
        if not present and not missing_ok:
            raise CollectionNotFoundError(f"no collection named {name!r}")

    def stats(self) -> StoreStats:
        """:meth:`BaseCollection.stats` of every collection, by name."""
        names = self.list_collections()
        return StoreStats(self.backend, {name: self._collection_stats(name) for name in names})

    def _collection_stats(self, name: str) -> CollectionStats:
        handle = self.collection(name)
        return handle.stats()

    def close(self) -> None:
        """Release the engine; idempotent. Afterwards every call on the store or on any
        collection handle it gave out raises :class:`~edgevec.errors.StoreClosedError`."""
        with self._handle_lock:
            if self._store_state.closed:
                return
            self._store_state.closed = True
            self._handle_by_name.clear()
            self._close()

    # -- the one handle per name (callers hold the handle lock) -----------------------------

    def _handle_for(self, name: str) -> CollectionT:
        coll = self._handle_by_name.get(name)
        return coll if coll is not None else self._adopt(self._open(name))

    def _adopt(self, coll: CollectionT) -> CollectionT:  # type: ignore[misc]  # see below
        # Covariant in a parameter: safe, as it is only given what _create/_open returned.
        coll._handle_state = HandleState(self._store_state, coll.name)
        self._handle_by_name[coll.name] = coll
        return coll

    def _forget(self, name: str) -> None:
        coll = self._handle_by_name.pop(name, None)
        if coll is not None:
            coll._handle_state.dropped = True

    # -- backend hooks ----------------------------------------------------------------------

    def _has_collection(self, name: str) -> bool:
        return name in self._list_collections()

    @abstractmethod
    def _list_collections(self) -> list[str]: ...

    @abstractmethod
    def _close(self) -> None:
        """Release the engine's resources; called once, by :meth:`close`."""

    @abstractmethod
    def _create(self, spec: CollectionSpec) -> CollectionT: ...

    @abstractmethod
    def _open(self, name: str) -> CollectionT: ...

    @abstractmethod
    def _drop(self, name: str) -> None: ...
