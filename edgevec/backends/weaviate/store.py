"""The sync and async shells: they own the client and hand plans to the driver."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel
from weaviate import WeaviateAsyncClient, WeaviateClient

from edgevec.abase import AsyncBaseStore
from edgevec.aplanned import AsyncPlannedCollection
from edgevec.backends.weaviate.codec import class_name, fixed_properties
from edgevec.backends.weaviate.connection import client_kwargs
from edgevec.backends.weaviate.errors import batch_error, map_error, mapped_errors
from edgevec.backends.weaviate.options import WeaviateCollectionOptions, WeaviateOptions
from edgevec.backends.weaviate.plans import Core
from edgevec.backends.weaviate.schema import (
    plan_create,
    plan_drop,
    plan_exists,
    plan_list,
    plan_open,
)
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.driver import AsyncEngine, Call, Engine, Plan, SyncEngine, arun, method_of, run
from edgevec.errors import BackendUnavailableError, ConfigError, EdgevecError
from edgevec.filters import OPS
from edgevec.planned import PlannedCollection
from edgevec.prepare import PreparedUpsert, check_collection_name
from edgevec.types import CollectionSpec

MIN_NOT_VERSION = (1, 33, 0)  # the Not operator (and ContainsNone) arrived in Weaviate 1.33
MAX_RESULTS = 10_000  # Weaviate's QUERY_MAXIMUM_RESULTS default: limit of a search or delete


_NEGATING_OPS = frozenset({"not", "ne", "nin"})

T = TypeVar("T")
C = TypeVar("C")


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.35.2"`` -> ``(1, 35, 2)``; a ``v`` prefix and pre-release suffixes are ignored."""
    nums = [
        int(m.group()) if (m := _LEADING_DIGITS.match(part)) else 0
        for part in text.lstrip("v").split(".")[:3]
    ]
    nums += [0] * (3 - len(nums))
    return nums[0], nums[1], nums[2]


_LEADING_DIGITS = re.compile(r"\d+")


def _capabilities(
    opts: WeaviateOptions, index: str | None, version: tuple[int, ...]
) -> Capabilities:
    ops = OPS if version >= MIN_NOT_VERSION else OPS - _NEGATING_OPS
    return WeaviateStore.capabilities.narrowed(
        max_batch=opts.batch_size, exact=index == "flat", filter_ops=ops
    )


def _engine(opts: WeaviateOptions, resolve: Callable[[Call[Any]], Callable[..., C]]) -> Engine[C]:
    """The driver's view of a Weaviate client: its methods, its error map, the store timeout."""

    def errors(exc: Exception, action: str) -> EdgevecError | None:
        return map_error(exc, action, opts.api_key)

    return Engine(backend="weaviate", resolve=resolve, errors=errors, timeout=opts.timeout)


class WeaviateCollection(PlannedCollection):
    """A Weaviate collection behind the sync API."""

    backend: ClassVar[str] = "weaviate"
    planner: Core

    def __init__(
        self,
        store: WeaviateStore,
        spec: CollectionSpec,
        opts: WeaviateCollectionOptions,
        props: set[str],
    ) -> None:
        caps = _capabilities(store.opts, opts.index, store.version)
        super().__init__(spec, caps, Core(spec, props), store.engine)

    def _upsert(self, batch: PreparedUpsert) -> None:
        """Every chunk is sent; the rejections of all of them make one error."""
        errors: dict[str, str] = {}
        cause: BaseException | None = None
        for chunk in batch.chunks(self.capabilities.max_batch):
            rejected, exc = self._run(self.planner.upsert(chunk))
            errors.update(rejected)
            cause = cause or exc
        if errors:
            raise batch_error(self.name, errors, batch.ids) from cause


class WeaviateStore(BaseStore):
    """Collections in one Weaviate (self-hosted or Weaviate Cloud) through ``WeaviateClient``."""

    backend: ClassVar[str] = "weaviate"
    capabilities: ClassVar[Capabilities] = Capabilities(
        native_async=True, max_batch=500, max_k=MAX_RESULTS, persistent=True, exact=False,
        declared_fields=True,
    )  # fmt: skip
    Options = WeaviateOptions

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, WeaviateOptions):
            raise ConfigError(f"WeaviateStore needs WeaviateOptions, got {type(options).__name__}")
        super().__init__(options)
        self.opts = options
        self._handles: dict[str, Any] = {}
        self.engine: SyncEngine = _engine(options, self._resolve)
        self._client = WeaviateClient(**client_kwargs(options))
        try:
            with mapped_errors("connect to Weaviate", options.api_key):
                self._client.connect()
                meta = self._client.get_meta()
        except BaseException:
            self._client.close()
            raise
        self.version = parse_version(str(meta.get("version", "")))

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncWeaviateStore:
        """The native async store (``WeaviateAsyncClient``), not this one in worker threads."""
        if not isinstance(options, WeaviateOptions):
            raise ConfigError(f"WeaviateStore needs WeaviateOptions, got {type(options).__name__}")
        return AsyncWeaviateStore(options)

    def _resolve(self, call: Call[Any]) -> Callable[..., object]:
        target: Any = self._client
        if call.on is not None:
            target = self._handles.get(call.on)
            if target is None:
                target = self._handles[call.on] = self._client.collections.use(call.on)
        return method_of(target, call.method)

    def _run(self, plan: Plan[T]) -> T:
        return run(plan, self.engine)

    def _list_collections(self) -> list[str]:
        return self._run(plan_list())

    def _has_collection(self, name: str) -> bool:
        return self._run(plan_exists(check_collection_name(name)))

    def _create(self, spec: CollectionSpec) -> WeaviateCollection:
        spec, opts = self._run(plan_create(spec, self.opts))
        props = {p.name for p in fixed_properties(spec.fields)}
        return WeaviateCollection(self, spec, opts, props)

    def _open(self, name: str) -> WeaviateCollection:
        spec, opts, props = self._run(plan_open(name))
        return WeaviateCollection(self, spec, opts, props)

    def _drop(self, name: str) -> None:
        self._handles.pop(class_name(name), None)
        self._run(plan_drop(name))

    def _close(self) -> None:
        with mapped_errors("close Weaviate", self.opts.api_key):
            self._client.close()


class AsyncWeaviateCollection(AsyncPlannedCollection):
    """A Weaviate collection behind the async API (``WeaviateAsyncClient``, no worker threads)."""

    backend: ClassVar[str] = "weaviate"
    planner: Core

    def __init__(
        self,
        store: AsyncWeaviateStore,
        spec: CollectionSpec,
        opts: WeaviateCollectionOptions,
        props: set[str],
        version: tuple[int, ...],
    ) -> None:
        caps = _capabilities(store.opts, opts.index, version)
        super().__init__(spec, caps, Core(spec, props), store.engine)

    async def _upsert(self, batch: PreparedUpsert) -> None:
        """Every chunk is sent; the rejections of all of them make one error."""
        errors: dict[str, str] = {}
        cause: BaseException | None = None
        for chunk in batch.chunks(self.capabilities.max_batch):
            rejected, exc = await self._run(self.planner.upsert(chunk))
            errors.update(rejected)
            cause = cause or exc
        if errors:
            raise batch_error(self.name, errors, batch.ids) from cause


class AsyncWeaviateStore(AsyncBaseStore):
    """Async twin of :class:`WeaviateStore`; connects on first use, on the running event loop."""

    backend: ClassVar[str] = "weaviate"
    capabilities: ClassVar[Capabilities] = WeaviateStore.capabilities
    Options = WeaviateOptions

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, WeaviateOptions):
            raise ConfigError(f"WeaviateStore needs WeaviateOptions, got {type(options).__name__}")
        super().__init__(options)
        self.opts = options
        self.version: tuple[int, ...] = (0, 0, 0)
        self._client: WeaviateAsyncClient | None = None
        self._lock: asyncio.Lock | None = None
        self._handles: dict[str, Any] = {}
        self._closed = False
        self.engine: AsyncEngine = _engine(options, self._resolve)

    async def _connected(self) -> WeaviateAsyncClient:
        if self._closed:
            raise BackendUnavailableError("this Weaviate store is closed")
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                client = WeaviateAsyncClient(**client_kwargs(self.opts))
                try:
                    with mapped_errors("connect to Weaviate", self.opts.api_key):
                        await asyncio.wait_for(client.connect(), self.opts.timeout)
                        meta = await asyncio.wait_for(client.get_meta(), self.opts.timeout)
                except BaseException:
                    await client.close()
                    raise
                self.version = parse_version(str(meta.get("version", "")))
                self._client = client
        return self._client

    def _resolve(self, call: Call[Any]) -> Callable[..., Awaitable[object]]:
        async def invoke(**kwargs: Any) -> object:
            client = await self._connected()
            target: Any = client
            if call.on is not None:
                target = self._handles.get(call.on)
                if target is None:
                    target = self._handles[call.on] = client.collections.use(call.on)
            result: object = await method_of(target, call.method)(**kwargs)
            return result

        return invoke

    async def _run(self, plan: Plan[T]) -> T:
        return await arun(plan, self.engine)

    async def _list_collections(self) -> list[str]:
        return await self._run(plan_list())

    async def _has_collection(self, name: str) -> bool:
        return await self._run(plan_exists(check_collection_name(name)))

    async def _create(self, spec: CollectionSpec) -> AsyncWeaviateCollection:
        spec, opts = await self._run(plan_create(spec, self.opts))
        props = {p.name for p in fixed_properties(spec.fields)}
        return AsyncWeaviateCollection(self, spec, opts, props, self.version)

    async def _open(self, name: str) -> AsyncWeaviateCollection:
        spec, opts, props = await self._run(plan_open(name))
        return AsyncWeaviateCollection(self, spec, opts, props, self.version)

    async def _drop(self, name: str) -> None:
        self._handles.pop(class_name(name), None)
        await self._run(plan_drop(name))

    async def _close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            with mapped_errors("close Weaviate", self.opts.api_key):
                await client.close()
