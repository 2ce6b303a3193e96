"""The sync and async shells over ``MilvusClient`` and ``AsyncMilvusClient``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel
from pymilvus import (  # type: ignore[import-untyped]  # pymilvus ships no py.typed
    AsyncMilvusClient,
    MilvusClient,
)

from edgevec.abase import AsyncBaseStore
from edgevec.aplanned import AsyncPlannedCollection
from edgevec.backends.milvus.engine import (
    LITE_UNSAFE,
    blocking_call,
    cover_delete,
    create_collection,
    driver_engine,
    engine_lock,
    lite_acquire,
    lite_release,
    open_collection,
    serialised,
)
from edgevec.backends.milvus.errors import CLIENT_ERRORS, translate_error
from edgevec.backends.milvus.options import MilvusIndexOptions, MilvusOptions, client_kwargs
from edgevec.backends.milvus.plans import Core
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.driver import AsyncEngine, Call, SyncEngine
from edgevec.errors import BackendUnavailableError, ConfigError
from edgevec.filters import Filter
from edgevec.planned import PlannedCollection
from edgevec.prepare import PreparedUpsert, check_collection_name
from edgevec.stats import CollectionStats
from edgevec.types import CollectionSpec

MAX_TOPK = 16_384  # Milvus' limit on limit + offset


T = TypeVar("T")


def capabilities_of(opts: MilvusIndexOptions, lite: bool) -> Capabilities:
    """FLAT is exact; HNSW honours ``ef`` per query. ``exact`` is not offered on an ANN index:
    probing every IVF list is not exhaustive on Milvus Lite, which builds its own list count
    (measured: 18 of 20 hits with ``nprobe=nlist``). A Milvus server compares the numbers of a
    JSON payload as doubles (measured on the 2.3.5 standalone server: ``x >= 2**53 + 1`` matched
    ``2**53``), so ints beyond 2**53 are refused there; Milvus Lite compares them exactly."""
    ann = frozenset({"ef"}) if opts.index == "HNSW" else frozenset()
    return MilvusStore.capabilities.narrowed(
        exact=opts.index == "FLAT",
        search_params=ann,
        exact_int_bits=64 if lite else 53,
        declared_fields=lite,
    )


def store_capabilities(options: MilvusOptions) -> Capabilities:
    """Declared fields are typed nullable columns with INVERTED indexes: Milvus Lite has both, the
    2.3.5 standalone server neither (measured: it rejects null rows and wants STL_SORT/Trie), so
    a server refuses ``fields=`` until a newer one is tested."""
    return MilvusStore.capabilities.narrowed(declared_fields=options.lite)


class MilvusCollection(PlannedCollection):
    """One Milvus collection over the sync ``MilvusClient``."""

    backend: ClassVar[str] = "milvus"
    planner: Core

    def __init__(self, store: MilvusStore, spec: CollectionSpec, opts: MilvusIndexOptions) -> None:
        caps = capabilities_of(opts, store.opts.lite)
        super().__init__(spec, caps, Core(spec, opts, store.opts, caps.max_batch), store.engine)
        self._store = store
        self.opts = opts

    def _upsert(self, batch: PreparedUpsert) -> None:
        self._run(self.planner.upsert(batch))  # chunks itself, then flushes once

    def _delete_ids(self, ids: list[str]) -> None:
        super()._delete_ids(ids)
        cover_delete(self._store._call, self._store.client, self._store.opts, self.name)

    def _delete_filter(self, flt: Filter) -> None:
        super()._delete_filter(flt)
        cover_delete(self._store._call, self._store.client, self._store.opts, self.name)

    def _stats(self) -> CollectionStats:
        health = self._run(self.planner.health())
        return replace(super()._stats(), index=self.opts.index.lower(), health=health)


class MilvusStore(BaseStore):
    """Collections in a Milvus server, Zilliz Cloud, or a Milvus Lite ``.db`` directory."""

    backend: ClassVar[str] = "milvus"
    capabilities: ClassVar[Capabilities] = Capabilities(
        native_async=True, max_batch=1000, max_k=MAX_TOPK, persistent=True, declared_fields=True
    )
    Options = MilvusOptions

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, MilvusOptions):
            raise ConfigError(f"MilvusStore needs MilvusOptions, got {type(options).__name__}")
        super().__init__(options)
        self.opts = options
        self.capabilities = store_capabilities(options)  # type: ignore[misc]  # per server kind
        self._serial = engine_lock(options)
        self.engine: SyncEngine = driver_engine(options, self._resolve)
        self._lite_path = lite_acquire(options.uri) if options.lite else None
        try:
            self._client: Any = _connect(MilvusClient, options)
        except BaseException:
            self._release_lite()
            raise

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncMilvusStore:
        """The native async store (``AsyncMilvusClient`` for data, sync client for DDL)."""
        if not isinstance(options, MilvusOptions):
            raise ConfigError(f"MilvusStore needs MilvusOptions, got {type(options).__name__}")
        return AsyncMilvusStore(options)

    def _resolve(self, call: Call[Any]) -> Callable[..., object]:
        fn = getattr(self.client, call.method)
        return serialised(self.opts, self._serial, call.method, fn)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return blocking_call(self.opts, self._serial, what, fn, *args, **kwargs)

    def _list_collections(self) -> list[str]:
        return sorted(self._call("list collections", self.client.list_collections))

    def _has_collection(self, name: str) -> bool:
        return bool(
            self._call("has collection", self.client.has_collection, check_collection_name(name))
        )

    def _create(self, spec: CollectionSpec) -> MilvusCollection:
        with self._serial:
            spec, opts = create_collection(self._call, self.client, self.opts, spec)
        return MilvusCollection(self, spec, opts)

    def _open(self, name: str) -> MilvusCollection:
        with self._serial:
            spec, opts = open_collection(self._call, self.client, name)
        return MilvusCollection(self, spec, opts)

    def _drop(self, name: str) -> None:
        with self._serial:
            self._call("drop collection", self.client.drop_collection, name)

    @property
    def client(self) -> Any:
        """The ``MilvusClient`` (for what edgevec does not wrap); closed stores have none."""
        if self._client is None:
            raise BackendUnavailableError("this Milvus store is closed")
        return self._client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self._release_lite()

    def _release_lite(self) -> None:
        path, self._lite_path = self._lite_path, None
        if path is not None:
            lite_release(path)


def _connect(factory: Any, opts: MilvusOptions) -> Any:
    try:
        return factory(**client_kwargs(opts))
    except CLIENT_ERRORS as exc:
        # The uri is safe to show: it cannot hold credentials (refused when validated).
        raise translate_error(exc, f"connect to {opts.uri}", opts.token) from exc


class AsyncMilvusCollection(AsyncPlannedCollection):
    """Async twin of :class:`MilvusCollection`: data operations through ``AsyncMilvusClient``."""

    backend: ClassVar[str] = "milvus"
    planner: Core

    def __init__(
        self, store: AsyncMilvusStore, spec: CollectionSpec, opts: MilvusIndexOptions
    ) -> None:
        caps = capabilities_of(opts, store.opts.lite)
        super().__init__(spec, caps, Core(spec, opts, store.opts, caps.max_batch), store.engine)
        self._store = store
        self.opts = opts

    async def _upsert(self, batch: PreparedUpsert) -> None:
        await self._run(self.planner.upsert(batch))  # chunks itself, then flushes once

    async def _delete_ids(self, ids: list[str]) -> None:
        await super()._delete_ids(ids)
        await self._cover_delete()

    async def _delete_filter(self, flt: Filter) -> None:
        await super()._delete_filter(flt)
        await self._cover_delete()

    async def _stats(self) -> CollectionStats:
        health = await self._run(self.planner.health())
        return replace(await super()._stats(), index=self.opts.index.lower(), health=health)

    async def _cover_delete(self) -> None:
        client, _ = await self._store._clients()
        await asyncio.to_thread(
            cover_delete, self._store._call, client, self._store.opts, self.name
        )


class AsyncMilvusStore(AsyncBaseStore):
    """Async Milvus store. Both clients are created on first use, off the event loop."""

    backend: ClassVar[str] = "milvus"
    capabilities: ClassVar[Capabilities] = MilvusStore.capabilities

    def __init__(self, options: MilvusOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.capabilities = store_capabilities(options)  # type: ignore[misc]  # per server kind
        self._serial = engine_lock(options)
        self._sync: Any = None
        self._async: Any = None
        self._lite_path: str | None = None
        self._closed = False
        self._lock: asyncio.Lock | None = None
        self.engine: AsyncEngine = driver_engine(options, self._resolve)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.opts!r}>"

    async def _clients(self) -> tuple[Any, Any]:
        if self._closed:
            raise BackendUnavailableError("this Milvus store is closed")
        if self._async is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._async is None:
                    await asyncio.to_thread(self._open_clients)
        return self._sync, self._async

    def _open_clients(self) -> None:
        # The sync client starts Milvus Lite (blocking) and serves DDL; the async one then only
        # reads its config, its channel is opened lazily on the event loop.
        if self.opts.lite and self._lite_path is None:
            self._lite_path = lite_acquire(self.opts.uri)
        try:
            self._sync = _connect(MilvusClient, self.opts)
            self._async = _connect(AsyncMilvusClient, self.opts)
        except BaseException:
            if self._sync is not None:
                self._sync.close()
                self._sync = None
            self._release_lite()
            raise

    def _resolve(self, call: Call[Any]) -> Callable[..., Awaitable[object]]:
        async def invoke(**kwargs: Any) -> object:
            client, aclient = await self._clients()
            if self.opts.lite and call.method in LITE_UNSAFE:
                # Serialised with every other writer of the .db in this process, sync stores
                # too: a thread holds the lock, so a cancelled task cannot leave it held.
                fn = serialised(self.opts, self._serial, call.method, getattr(client, call.method))
                return await asyncio.to_thread(fn, **kwargs)
            result: object = await getattr(aclient, call.method)(**kwargs)
            return result

        return invoke

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return blocking_call(self.opts, self._serial, what, fn, *args, **kwargs)

    async def _ddl(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A sync-client call in a worker thread: DDL, and Milvus Lite's serialised writes."""
        client, _ = await self._clients()
        return await asyncio.to_thread(self._call, what, getattr(client, method), *args, **kwargs)

    async def _serialised(self, step: Callable[[Any], T]) -> T:
        """``step(sync_client)`` in a worker thread holding the engine lock (DDL)."""
        client, _ = await self._clients()

        def locked() -> T:
            with self._serial:
                return step(client)

        return await asyncio.to_thread(locked)

    async def _list_collections(self) -> list[str]:
        return sorted(await self._ddl("list collections", "list_collections"))

    async def _has_collection(self, name: str) -> bool:
        return bool(
            await self._ddl("has collection", "has_collection", check_collection_name(name))
        )

    async def _create(self, spec: CollectionSpec) -> AsyncMilvusCollection:
        spec, opts = await self._serialised(
            lambda client: create_collection(self._call, client, self.opts, spec)
        )
        return AsyncMilvusCollection(self, spec, opts)

    async def _open(self, name: str) -> AsyncMilvusCollection:
        spec, opts = await self._serialised(
            lambda client: open_collection(self._call, client, name)
        )
        return AsyncMilvusCollection(self, spec, opts)

    async def _drop(self, name: str) -> None:
        await self._serialised(
            lambda client: self._call("drop collection", client.drop_collection, name)
        )

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        aclient, self._async = self._async, None
        client, self._sync = self._sync, None
        if aclient is not None:
            await aclient.close()
        if client is not None:
            await asyncio.to_thread(client.close)
        if self._lite_path is not None:
            await asyncio.to_thread(self._release_lite)

    def _release_lite(self) -> None:
        path, self._lite_path = self._lite_path, None
        if path is not None:
            lite_release(path)
