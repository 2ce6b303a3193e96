"""The sync and async shells: they own the client and hand plans to the driver."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel
from qdrant_client import AsyncQdrantClient, QdrantClient

from edgevec.abase import AsyncBaseStore
from edgevec.aplanned import AsyncPlannedCollection
from edgevec.backends._qdrant_codec import check_reserved
from edgevec.backends.qdrant.connection import check_client, client_kwargs, path_lock
from edgevec.backends.qdrant.errors import map_error, mapped_errors
from edgevec.backends.qdrant.options import QdrantCollectionOptions, QdrantOptions
from edgevec.backends.qdrant.plans import Translator
from edgevec.backends.qdrant.schema import drop_call, exists_call, info_call, list_call, plan_create
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.driver import AsyncEngine, Call, Engine, Plan, SyncEngine, arun, run
from edgevec.planned import PlannedCollection
from edgevec.prepare import PreparedUpsert, check_collection_name
from edgevec.stats import CollectionStats
from edgevec.types import CollectionSpec

T = TypeVar("T")
C = TypeVar("C")


def _engine(opts: QdrantOptions, resolve: Callable[[Call[Any]], Callable[..., C]]) -> Engine[C]:
    return Engine(backend="qdrant", resolve=resolve, errors=map_error, timeout=opts.timeout)


def _capabilities(opts: QdrantOptions, exact: bool) -> Capabilities:
    return QdrantStore.capabilities.narrowed(
        max_batch=opts.batch_size,
        exact=exact or opts.local,
        persistent=opts.path is not None or opts.url is not None,
        # Server HNSW: a beam width and exact search per query; local mode is exact anyway.
        search_params=frozenset() if opts.local else frozenset({"ef", "exact"}),
    )


class QdrantCollection(PlannedCollection):
    """A Qdrant collection behind the sync API."""

    backend: ClassVar[str] = "qdrant"

    def __init__(
        self, store: QdrantStore, spec: CollectionSpec, opts: QdrantCollectionOptions
    ) -> None:
        tr = Translator(spec, opts, store.opts)
        super().__init__(spec, _capabilities(store.opts, tr.exact), tr, store.engine)
        self.translator = tr

    def _upsert(self, batch: PreparedUpsert) -> None:
        check_reserved(batch)  # the whole batch, before its first chunk is sent
        super()._upsert(batch)

    def _stats(self) -> CollectionStats:
        health = self._run(self.translator.health())
        return replace(super()._stats(), index=self.translator.index, health=health)


class QdrantStore(BaseStore):
    """Collections in a Qdrant server or in Qdrant's local mode, through ``QdrantClient``."""

    backend: ClassVar[str] = "qdrant"
    capabilities: ClassVar[Capabilities] = Capabilities(
        native_async=True, max_batch=256, persistent=True, exact_int_bits=53,
        declared_fields=True,
    )  # fmt: skip
    Options = QdrantOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, QdrantOptions)
        super().__init__(options)
        self.opts = options
        # Local mode is not thread-safe; a server client is, and should not be serialised.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if options.local else contextlib.nullcontext()
        )
        self._path_lock = None if options.path is None else path_lock(options.path)
        self.engine: SyncEngine = _engine(options, self._resolve)
        try:
            with mapped_errors("open Qdrant"):
                self._client = QdrantClient(**client_kwargs(options))
            check_client(self._client, options)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._path_lock is not None:
            self._path_lock.release()

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncQdrantStore:
        """The native async store (``AsyncQdrantClient``), not this one in worker threads."""
        assert isinstance(options, QdrantOptions)
        return AsyncQdrantStore(options)

    def _resolve(self, call: Call[Any]) -> Callable[..., object]:
        method = getattr(self._client, call.method)

        def locked(**kwargs: Any) -> object:
            with self._lock:
                result: object = method(**kwargs)
                return result

        return locked

    def _run(self, plan: Plan[T]) -> T:
        return run(plan, self.engine)

    def _list_collections(self) -> list[str]:
        return self._run(list_call())

    def _has_collection(self, name: str) -> bool:
        return self._run(exists_call(check_collection_name(name)))

    def _create(self, spec: CollectionSpec) -> QdrantCollection:
        spec, opts, plans = plan_create(spec, self.opts.local)
        for plan in plans:
            self._run(plan)
        return QdrantCollection(self, spec, opts)

    def _open(self, name: str) -> QdrantCollection:
        spec, opts = self._run(info_call(name))
        return QdrantCollection(self, spec, opts)

    def _drop(self, name: str) -> None:
        self._run(drop_call(name))

    def _close(self) -> None:
        try:
            with self._lock, mapped_errors("close Qdrant"):
                self._client.close()
        finally:
            self._release()


class AsyncQdrantCollection(AsyncPlannedCollection):
    """A Qdrant collection behind the async API (``AsyncQdrantClient``, no worker threads)."""

    backend: ClassVar[str] = "qdrant"

    def __init__(
        self, store: AsyncQdrantStore, spec: CollectionSpec, opts: QdrantCollectionOptions
    ) -> None:
        tr = Translator(spec, opts, store.opts)
        super().__init__(spec, _capabilities(store.opts, tr.exact), tr, store.engine)
        self.translator = tr

    async def _upsert(self, batch: PreparedUpsert) -> None:
        check_reserved(batch)
        await super()._upsert(batch)

    async def _stats(self) -> CollectionStats:
        health = await self._run(self.translator.health())
        return replace(await super()._stats(), index=self.translator.index, health=health)


class AsyncQdrantStore(AsyncBaseStore):
    """Async twin of :class:`QdrantStore` over ``AsyncQdrantClient``.

    In local mode the client computes on the event loop thread (qdrant-client's local engine is
    synchronous Python): fine for tests and small data, use a server for real load.
    """

    backend: ClassVar[str] = "qdrant"
    capabilities: ClassVar[Capabilities] = QdrantStore.capabilities
    Options = QdrantOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, QdrantOptions)
        super().__init__(options)
        self.opts = options
        self._path_lock = None if options.path is None else path_lock(options.path)
        self.engine: AsyncEngine = _engine(options, lambda call: getattr(self._client, call.method))
        try:
            with mapped_errors("open Qdrant"):
                self._client = AsyncQdrantClient(**client_kwargs(options))
            check_client(self._client, options)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._path_lock is not None:
            self._path_lock.release()

    async def _run(self, plan: Plan[T]) -> T:
        return await arun(plan, self.engine)

    async def _list_collections(self) -> list[str]:
        return await self._run(list_call())

    async def _has_collection(self, name: str) -> bool:
        return await self._run(exists_call(check_collection_name(name)))

    async def _create(self, spec: CollectionSpec) -> AsyncQdrantCollection:
        spec, opts, plans = plan_create(spec, self.opts.local)
        for plan in plans:
            await self._run(plan)
        return AsyncQdrantCollection(self, spec, opts)

    async def _open(self, name: str) -> AsyncQdrantCollection:
        spec, opts = await self._run(info_call(name))
        return AsyncQdrantCollection(self, spec, opts)

    async def _drop(self, name: str) -> None:
        await self._run(drop_call(name))

    async def _close(self) -> None:
        try:
            with mapped_errors("close Qdrant"):
                await self._client.close()
        finally:
            self._release()
