"""Serve a sync backend through the async API from worker threads (in-process engines: FAISS).

Validation, the closed check and the one-handle-per-name map live in the async shell
(:mod:`edgevec.abase`); only the backend hooks move to a thread via :func:`asyncio.to_thread`, so
no coroutine blocks the event loop (unless the caller asks for ``inline`` calls: the router does
for in-process engines, whose calls are shorter than the hand-off). Closing the async store
closes the sync one. Reads honour :func:`edgevec.deadline`: past it the caller gets
``BackendTimeoutError`` (the worker thread finishes in the background; writes are always waited
for, so none lands unreported).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from edgevec.abase import AsyncBaseCollection, AsyncBaseStore
from edgevec.base import BaseCollection, BaseStore
from edgevec.deadlines import current
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.stats import CollectionStats
from edgevec.types import ArrayHits, CollectionSpec, Hits, Record

__all__ = ["ThreadedAsyncCollection", "ThreadedAsyncStore"]

T = TypeVar("T")


async def _read(action: str, inline: bool, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, waited for no longer than the deadline in force
    (``inline``: on the calling thread, once the deadline is known not to have passed)."""
    deadline = current()
    if deadline is not None and deadline.left() <= 0:
        raise deadline.expired(action)
    if inline:
        return fn(*args)
    if deadline is None:
        return await asyncio.to_thread(fn, *args)
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), deadline.left())
    except asyncio.TimeoutError as exc:
        raise deadline.expired(action) from exc


async def _write(inline: bool, fn: Callable[..., None], *args: Any) -> None:
    """``fn(*args)`` in a worker thread (``inline``: on the calling thread), always waited for."""
    if inline:
        fn(*args)
    else:
        await asyncio.to_thread(fn, *args)


class ThreadedAsyncCollection(AsyncBaseCollection):
    """A sync collection's hooks, each run in a worker thread.

    ``inline=True`` runs them on the event loop's own thread instead, which saves the two
    thread hand-offs a call costs (most of an in-process read) but holds the loop for the
    call: only for engines whose calls are in-process and short (the router's in-process
    regions, :data:`edgevec.router.members.INLINE_BACKENDS`).
    """

    def __init__(self, sync: BaseCollection, *, inline: bool = False) -> None:
        super().__init__(sync.spec, sync.capabilities)
        self.sync = sync
        self.inline = inline
        self.backend = sync.backend  # type: ignore[misc]  # per instance: the wrapped backend's name

    async def _upsert(self, batch: PreparedUpsert) -> None:
        await _write(self.inline, self.sync._upsert, batch)

    async def _query(self, q: PreparedQuery) -> list[Hits]:
        return await _read("query", self.inline, self.sync._query, q)

    async def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        return await _read("query", self.inline, self.sync._query_arrays, q)

    async def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return await _read("get", self.inline, self.sync._get, ids, include_vectors)

    async def _delete_ids(self, ids: list[str]) -> None:
        await _write(self.inline, self.sync._delete_ids, ids)

    async def _delete_filter(self, flt: Filter) -> None:
        await _write(self.inline, self.sync._delete_filter, flt)

    async def _count(self, flt: Filter | None) -> int:
        return await _read("count", self.inline, self.sync._count, flt)

    async def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        return await _read(
            "scan",
            self.inline,
            self.sync._scan_page,
            cursor,
            limit,
            include_vectors,
            include_payload,
        )

    def _explain(self, flt: Filter) -> str:
        return self.sync._explain(flt)

    async def _stats(self) -> CollectionStats:
        return await _read("stats", self.inline, self.sync._stats)


class ThreadedAsyncStore(AsyncBaseStore):
    """An async store over a sync one: every call runs in a worker thread (``inline``: its
    collections' calls run on the loop's thread, see :class:`ThreadedAsyncCollection`)."""

    def __init__(self, sync: BaseStore, *, inline: bool = False) -> None:
        self.sync = sync
        self.inline = inline
        self.backend = sync.backend  # type: ignore[misc]
        self.capabilities = sync.capabilities  # type: ignore[misc]
        super().__init__(sync.options)

    def __repr__(self) -> str:
        return f"<async {self.sync!r}>"

    async def _list_collections(self) -> list[str]:
        return await asyncio.to_thread(self.sync._list_collections)

    async def _has_collection(self, name: str) -> bool:
        return await asyncio.to_thread(self.sync._has_collection, name)

    async def _close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def _create(self, spec: CollectionSpec) -> AsyncBaseCollection:
        sync = await asyncio.to_thread(self.sync._create, spec)
        return ThreadedAsyncCollection(sync, inline=self.inline)

    async def _open(self, name: str) -> AsyncBaseCollection:
        sync = await asyncio.to_thread(self.sync._open, name)
        return ThreadedAsyncCollection(sync, inline=self.inline)

    async def _drop(self, name: str) -> None:
        await asyncio.to_thread(self.sync._drop, name)
