"""Result-caching stores and collections: repeated queries answered without the engine.

:class:`CachedStore` wraps any store (a backend, a router); each collection it hands out is a
:class:`CachedCollection` that answers ``query``, ``query_batch``, ``query_by_id`` and
``query_arrays`` from its :class:`~edgevec.router.cache.ResultCache` when the very same query
(:mod:`edgevec.router.cache_key`) was answered within the TTL and no write went through the
wrapper since. Reads by id and counts go to the engine. Writes and drops made *around* the
wrapper (straight to the engine, or by another process) are only seen once entries expire:
route every write through the cached store, or keep the TTL as short as staleness allows.
``scripts/unasync.py`` generates :mod:`edgevec.router.acached` from this file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

from edgevec.base import BaseCollection, BaseStore
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.router.cache import CacheFront, CacheInfo, InProcessCache, ResultCache
from edgevec.types import ArrayHits, Hits
from edgevec.wrapped import WrappedCollection, WrappedStore

__all__ = ["CachedCollection", "CachedStore"]


class CachedStore(WrappedStore):
    """``store`` with a result cache in front of every collection.

    By default an :class:`~edgevec.router.cache.InProcessCache` of ``max_entries`` results kept
    ``ttl`` seconds by ``clock``; pass ``cache`` to use another (shared) one, with a
    ``namespace`` every process sharing it gives for this data. Closing closes ``store``.
    """

    def __init__(
        self,
        store: BaseStore,
        *,
        ttl: float = 30.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        cache: ResultCache | None = None,
        namespace: str | None = None,
    ) -> None:
        super().__init__(store)
        chosen = InProcessCache(ttl, max_entries, clock) if cache is None else cache
        self.front = CacheFront(chosen, namespace)

    def cache_info(self) -> CacheInfo:
        """Hits and misses of every collection of this store so far."""
        return self.front.info()

    def _wrap(self, coll: BaseCollection) -> BaseCollection:
        return CachedCollection(coll, self.front)

    def _drop(self, name: str) -> None:
        with self.front.writing(name):
            self.inner.drop_collection(name, missing_ok=True)


class CachedCollection(WrappedCollection):
    """A collection whose query hooks are answered from ``front``'s cache when they can be."""

    def __init__(self, inner: BaseCollection, front: CacheFront) -> None:
        super().__init__(inner)
        self.front = front

    def _query(self, q: PreparedQuery) -> list[Hits]:
        key = self.front.key(self.name, "hits", q)
        found = self.front.lookup(key, self.name, self.backend)
        if found is not None:
            return cast("list[Hits]", found)
        return cast("list[Hits]", self.front.store(key, self.inner._query(q)))

    def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        key = self.front.key(self.name, "arrays", q)
        found = self.front.lookup(key, self.name, self.backend)
        if found is not None:
            return cast("ArrayHits", found)
        return cast("ArrayHits", self.front.store(key, self.inner._query_arrays(q)))

    def _upsert(self, batch: PreparedUpsert) -> None:
        with self.front.writing(self.name):
            self.inner._upsert(batch)

    def _delete_ids(self, ids: list[str]) -> None:
        with self.front.writing(self.name):
            self.inner._delete_ids(ids)

    def _delete_filter(self, flt: Filter) -> None:
        with self.front.writing(self.name):
            self.inner._delete_filter(flt)
