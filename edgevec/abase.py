"""Async base classes, and the adapter that serves a sync backend from worker threads.

Validation is the same pure code the sync classes use (:mod:`edgevec.base`); only the I/O hooks
are awaited. Backends with a native async client subclass :class:`AsyncBaseCollection` and
:class:`AsyncBaseStore`; in-process engines (FAISS) get :class:`ThreadedAsyncStore`, which runs
the sync hooks via :func:`asyncio.to_thread` so no coroutine ever blocks the event loop.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar

from edgevec.base import (
    BaseCollection,
    BaseStore,
    PreparedQuery,
    PreparedUpsert,
    check_collection_name,
    check_delete_args,
    check_existing,
    check_ids,
    check_spec,
    prepare_arrays,
    prepare_filter,
    prepare_query,
    prepare_query_batch,
    prepare_upsert,
)
from edgevec.capabilities import Capabilities
from edgevec.errors import CollectionExistsError, CollectionNotFoundError
from edgevec.filters import Filter, FilterLike
from edgevec.types import CollectionSpec, Hits, Metric, Record

__all__ = ["AsyncBaseCollection", "AsyncBaseStore", "ThreadedAsyncCollection", "ThreadedAsyncStore"]


class AsyncBaseCollection(ABC):
    """Async twin of :class:`edgevec.base.BaseCollection`: same methods, awaited."""

    backend: ClassVar[str] = "base"

    def __init__(self, spec: CollectionSpec, capabilities: Capabilities) -> None:
        self.spec = spec
        self.capabilities = capabilities

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
        return f"<{type(self).__name__} {self.name!r} dim={self.dim} metric={self.metric!r}>"

    async def upsert(self, records: Iterable[Record]) -> None:
        """Insert or overwrite records; returns once the engine acknowledged the write."""
        await self._write(prepare_upsert(records, self.dim, self.metric))

    async def upsert_arrays(
        self,
        ids: Sequence[str],
        vectors: Any,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None:
        """Columnar :meth:`upsert`."""
        await self._write(prepare_arrays(ids, vectors, payloads, self.dim, self.metric))

    async def _write(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):
            await self._upsert(chunk)

    async def query(
        self,
        vector: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> Hits:
        """The ``k`` nearest records to ``vector`` that satisfy ``filter``."""
        q = prepare_query(
            vector, k, filter, dim=self.dim, metric=self.metric,
            capabilities=self.capabilities, backend=self.backend,
            include_vectors=include_vectors, include_payload=include_payload, params=params,
        )  # fmt: skip
        return (await self._query(q))[0]

    async def query_batch(
        self,
        vectors: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> list[Hits]:
        """One :class:`Hits` per row of ``vectors``."""
        q = prepare_query_batch(
            vectors, k, filter, dim=self.dim, metric=self.metric,
            capabilities=self.capabilities, backend=self.backend,
            include_vectors=include_vectors, include_payload=include_payload, params=params,
        )  # fmt: skip
        return await self._query(q) if len(q.vectors) else []

    async def get(self, ids: Iterable[str], *, include_vectors: bool = True) -> list[Record]:
        """Records for ``ids`` in the order asked; missing ids are absent."""
        return await self._get(check_ids(ids), include_vectors)

    async def delete(
        self, ids: Iterable[str] | None = None, *, filter: FilterLike | None = None
    ) -> None:
        """Delete by ids or by filter."""
        check_delete_args(ids, filter)
        if ids is not None:
            id_list = check_ids(ids)
            if id_list:
                await self._delete_ids(id_list)
        else:
            flt = prepare_filter(filter, self.capabilities, self.backend)
            assert flt is not None  # guaranteed by check_delete_args
            await self._delete_filter(flt)

    async def count(self, filter: FilterLike | None = None) -> int:
        """Number of records, or of records satisfying ``filter``."""
        return await self._count(prepare_filter(filter, self.capabilities, self.backend))

    def explain(self, filter: FilterLike) -> str:
        """What this backend receives for ``filter`` (pure, so not awaited)."""
        flt = prepare_filter(filter, self.capabilities, self.backend)
        assert flt is not None
        return self._explain(flt)

    @abstractmethod
    async def _upsert(self, batch: PreparedUpsert) -> None: ...

    @abstractmethod
    async def _query(self, q: PreparedQuery) -> list[Hits]: ...

    @abstractmethod
    async def _get(self, ids: list[str], include_vectors: bool) -> list[Record]: ...

    @abstractmethod
    async def _delete_ids(self, ids: list[str]) -> None: ...

    @abstractmethod
    async def _delete_filter(self, flt: Filter) -> None: ...

    @abstractmethod
    async def _count(self, flt: Filter | None) -> int: ...

    def _explain(self, flt: Filter) -> str:
        return flt.explain()


class AsyncBaseStore(ABC):
    """Async twin of :class:`edgevec.base.BaseStore`; also an async context manager."""

    backend: ClassVar[str] = "base"

    async def __aenter__(self) -> AsyncBaseStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def create_collection(
        self,
        name: str,
        dim: int,
        metric: str = "cosine",
        *,
        exist_ok: bool = False,
        **options: Any,
    ) -> AsyncBaseCollection:
        """Create a collection (or, with ``exist_ok``, open one of the same dim and metric)."""
        d, m = check_spec(name, dim, metric)
        if await self.has_collection(name):
            if not exist_ok:
                raise CollectionExistsError(f"collection {name!r} already exists")
            coll = await self.collection(name)
            check_existing(coll.spec, d, m)
            return coll
        return await self._create(CollectionSpec(name, d, m, dict(options)))

    async def collection(self, name: str) -> AsyncBaseCollection:
        """Open an existing collection."""
        return await self._open(check_collection_name(name))

    async def has_collection(self, name: str) -> bool:
        return check_collection_name(name) in await self.list_collections()

    async def drop_collection(self, name: str, *, missing_ok: bool = False) -> None:
        """Delete a collection and its data."""
        if not await self.has_collection(name):
            if missing_ok:
                return
            raise CollectionNotFoundError(f"no collection named {name!r}")
        await self._drop(name)

    @abstractmethod
    async def list_collections(self) -> list[str]: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _create(self, spec: CollectionSpec) -> AsyncBaseCollection: ...

    @abstractmethod
    async def _open(self, name: str) -> AsyncBaseCollection: ...

    @abstractmethod
    async def _drop(self, name: str) -> None: ...


class ThreadedAsyncCollection(AsyncBaseCollection):
    """Runs a sync collection's I/O hooks in worker threads."""

    def __init__(self, sync: BaseCollection) -> None:
        super().__init__(sync.spec, sync.capabilities)
        self.sync = sync
        self.backend = sync.backend  # type: ignore[misc]  # per-instance name of the wrapped backend

    async def _upsert(self, batch: PreparedUpsert) -> None:
        await asyncio.to_thread(self.sync._upsert, batch)

    async def _query(self, q: PreparedQuery) -> list[Hits]:
        return await asyncio.to_thread(self.sync._query, q)

    async def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return await asyncio.to_thread(self.sync._get, ids, include_vectors)

    async def _delete_ids(self, ids: list[str]) -> None:
        await asyncio.to_thread(self.sync._delete_ids, ids)

    async def _delete_filter(self, flt: Filter) -> None:
        await asyncio.to_thread(self.sync._delete_filter, flt)

    async def _count(self, flt: Filter | None) -> int:
        return await asyncio.to_thread(self.sync._count, flt)

    def _explain(self, flt: Filter) -> str:
        return self.sync._explain(flt)


class ThreadedAsyncStore(AsyncBaseStore):
    """Async store over a sync one (in-process engines): every call runs in a worker thread."""

    def __init__(self, sync: BaseStore) -> None:
        self.sync = sync
        self.backend = sync.backend  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<async {self.sync!r}>"

    async def list_collections(self) -> list[str]:
        return await asyncio.to_thread(self.sync.list_collections)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def _create(self, spec: CollectionSpec) -> AsyncBaseCollection:
        return ThreadedAsyncCollection(await asyncio.to_thread(self.sync._create, spec))

    async def _open(self, name: str) -> AsyncBaseCollection:
        return ThreadedAsyncCollection(await asyncio.to_thread(self.sync._open, name))

    async def _drop(self, name: str) -> None:
        await asyncio.to_thread(self.sync._drop, name)
