"""The base for collections that wrap another one: every hook goes to the wrapped collection.

A wrapper adds behaviour around a collection (an embedder, and later a cache or a router) and
must not lose any of the backend's rules. It inherits the public methods of
:class:`~edgevec.base.BaseCollection` (validation, the closed check) and forwards the hooks,
the write hook included, so the wrapped backend still chunks, flushes and reports partial
writes. It shares the wrapped handle's state: a closed store or a dropped collection refuses
the wrapper too. :class:`WrappedStore` hands out such wrappers for every collection of a store
(the result cache and the telemetry wrap whole stores this way).
``scripts/unasync.py`` generates :mod:`edgevec.awrapped` from this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edgevec.base import BaseCollection, BaseStore, PreparedQuery, PreparedUpsert
from edgevec.filters import Filter
from edgevec.stats import CollectionStats
from edgevec.types import ArrayHits, CollectionSpec, Hits, Record

if TYPE_CHECKING:
    from edgevec.embedders.protocol import Embedder

__all__ = ["WrappedCollection", "WrappedStore"]


class WrappedCollection(BaseCollection):
    """A collection that forwards every hook to ``inner``; by itself, an identity wrapper."""

    def __init__(self, inner: BaseCollection) -> None:
        super().__init__(inner.spec, inner.capabilities)
        self.inner = inner
        self.backend = inner.backend  # type: ignore[misc]  # per instance: the wrapped backend
        self._handle_state = inner._handle_state

    def _upsert(self, batch: PreparedUpsert) -> None:
        self.inner._upsert(batch)

    def _query(self, q: PreparedQuery) -> list[Hits]:
        return self.inner._query(q)

    def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        return self.inner._query_arrays(q)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return self.inner._get(ids, include_vectors)

    def _delete_ids(self, ids: list[str]) -> None:
        self.inner._delete_ids(ids)

    def _delete_filter(self, flt: Filter) -> None:
        self.inner._delete_filter(flt)

    def _count(self, flt: Filter | None) -> int:
        return self.inner._count(flt)

    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        return self.inner._scan_page(cursor, limit, include_vectors, include_payload)

    def _explain(self, flt: Filter) -> str:
        return self.inner._explain(flt)

    def _stats(self) -> CollectionStats:
        return self.inner._stats()


class WrappedStore(BaseStore):
    """A store over ``inner`` whose collections come back wrapped by :meth:`_wrap`.

    Creating, opening and binding an embedder go to ``inner``'s public methods whole (so it
    keeps one handle per name and records embedder fingerprints); the wrapper is a view of
    that handle and shares its state. By itself, :meth:`_wrap` adds nothing.
    """

    def __init__(self, inner: BaseStore) -> None:
        self.inner = inner
        self.backend = inner.backend  # type: ignore[misc]  # per instance: the wrapped backend
        self.capabilities = inner.capabilities  # type: ignore[misc]
        super().__init__(inner.options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.inner!r}>"

    def _wrap(self, coll: BaseCollection) -> BaseCollection:
        """The view handed out for ``inner``'s collection handle ``coll``."""
        return WrappedCollection(coll)

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
        """:meth:`BaseStore.create_collection`, done by ``inner``; the result wrapped."""
        self._store_state.check()
        # Passed on as given: inner's overloads take exactly what create_collection did.
        given: dict[str, Any] = {"dim": dim, "metric": metric, "embedder": embedder}
        made = self.inner.create_collection(
            name, exist_ok=exist_ok, fields=fields, **given, **options
        )
        return self._view(made)

    def _get_collection(self, name: str, embedder: Embedder | None) -> BaseCollection:
        """:meth:`BaseStore.collection`, opened by ``inner``; the result wrapped."""
        self._store_state.check()
        return self._view(self.inner.collection(name, embedder=embedder))

    def _view(self, made: BaseCollection) -> BaseCollection:
        from edgevec.embedded import EmbeddedCollection

        if isinstance(made, EmbeddedCollection):
            return EmbeddedCollection(self._wrap(made.inner), made.embedder)
        return self._wrap(made)

    def _list_collections(self) -> list[str]:
        return self.inner.list_collections()

    def _has_collection(self, name: str) -> bool:
        return self.inner.has_collection(name)

    def _drop(self, name: str) -> None:
        self.inner.drop_collection(name, missing_ok=True)

    def _close(self) -> None:
        self.inner.close()

    def _create(self, spec: CollectionSpec) -> BaseCollection:
        raise NotImplementedError("create_collection is delegated to the inner store whole")

    def _open(self, name: str) -> BaseCollection:
        raise NotImplementedError("collection is delegated to the inner store whole")
