"""The sync and async shells: they build the clients and hand plans to the driver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from pinecone import AsyncIndex, AsyncPinecone, Index, Pinecone, RetryConfig
from pinecone.errors.exceptions import PineconeError
from pydantic import BaseModel

from edgevec.abase import AsyncBaseStore
from edgevec.aplanned import AsyncPlannedCollection
from edgevec.backends.pinecone.catalog import Store
from edgevec.backends.pinecone.errors import map_error, raise_mapped
from edgevec.backends.pinecone.limits import CAPABILITIES
from edgevec.backends.pinecone.options import PineconeOptions, check_index, controller, https_url
from edgevec.backends.pinecone.plans import Collection
from edgevec.backends.pinecone.retries import aretrying, client_retries_off, retrying
from edgevec.backends.pinecone.space import NATIVE, IndexMetric
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.driver import AsyncEngine, Call, Engine, Plan, SyncEngine, arun, run
from edgevec.errors import BackendUnavailableError, ConfigError
from edgevec.planned import PlannedCollection
from edgevec.prepare import PreparedUpsert, check_collection_name
from edgevec.types import CollectionSpec

T = TypeVar("T")
C = TypeVar("C")

THREADS = 8
"""Sync ``query_batch`` sends its per-vector requests on this many threads (the client's
HTTP connection pool is thread-safe)."""


def _engine(opts: PineconeOptions, resolve: Callable[[Call[Any]], Callable[..., C]]) -> Engine[C]:
    """The driver's view of an index client; every data-plane method takes ``timeout=``."""
    return Engine(
        backend="pinecone",
        resolve=resolve,
        errors=map_error,
        timeout=opts.timeout,
        timeout_kwarg="timeout",
        threads=THREADS,
    )


def _client_kwargs(opts: PineconeOptions, host: str) -> dict[str, Any]:
    return {
        "host": host,
        "api_key": opts.api_key.get_secret_value(),
        "timeout": opts.timeout,
        "source_tag": "edgevec",
    }


def _control_kwargs(opts: PineconeOptions) -> dict[str, Any]:
    """For the control-plane client that resolves ``index=``: it takes a retry policy."""
    return {
        "api_key": opts.api_key.get_secret_value(),
        "host": controller(opts),
        "timeout": opts.timeout,
        "source_tag": "edgevec",
        "retry_config": RetryConfig(max_retries=opts.retries),
    }


def _dense_metric(model: Any) -> IndexMetric | None:
    """The metric of an index description's dense vector field, if it has one."""
    fields = getattr(getattr(model, "schema", None), "fields", None) or {}
    for field in fields.values():
        metric = getattr(field, "metric", None)
        if getattr(field, "dimension", None) and metric in NATIVE:
            return metric  # type: ignore[no-any-return]  # checked against NATIVE
    return None


def _host_of(model: Any, name: str) -> str:
    host = getattr(model, "host", None)
    if not isinstance(host, str) or not host:
        raise BackendUnavailableError(f"Pinecone index {name!r} has no host yet (not ready?)")
    try:
        return https_url(host, "index host")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


class PineconeCollection(PlannedCollection):
    """A Pinecone namespace behind the sync API."""

    backend: ClassVar[str] = "pinecone"

    def __init__(self, store: PineconeStore, core: Collection) -> None:
        super().__init__(core.spec, core.capabilities, core, store.engine)

    def _upsert(self, batch: PreparedUpsert) -> None:
        # One plan for the whole batch: chunks follow Pinecone's count *and* byte limits, and a
        # failure part-way names what was written.
        self._run(self.planner.upsert(batch))


class PineconeStore(BaseStore):
    """Collections as namespaces of one Pinecone index, through ``pinecone.Index``."""

    backend: ClassVar[str] = "pinecone"
    capabilities: ClassVar[Capabilities] = CAPABILITIES
    Options = PineconeOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, PineconeOptions)
        super().__init__(options)
        self.opts = options
        self._core = Store(options)
        self.engine: SyncEngine = _engine(
            options, lambda call: retrying(getattr(self._index, call.method), options.retries)
        )
        host = https_url(options.host) if options.host is not None else self._resolve()
        try:
            self._index = Index(**_client_kwargs(options, host))
        except PineconeError as exc:
            raise ConfigError(f"cannot open the Pinecone index: {exc}") from exc
        check_index(self._index, host)
        client_retries_off(self._index)

    def _resolve(self) -> str:
        assert self.opts.index is not None
        action = f"resolve Pinecone index {self.opts.index!r}"
        try:
            control = Pinecone(**_control_kwargs(self.opts))
            try:
                model = control.indexes.describe(self.opts.index)
            finally:
                control.close()
        except Exception as exc:
            raise_mapped(exc, action)
        self._core.reported_metric = _dense_metric(model)
        return _host_of(model, self.opts.index)

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncPineconeStore:
        """The native async store (``pinecone.AsyncIndex``), not this one in worker threads."""
        assert isinstance(options, PineconeOptions)
        return AsyncPineconeStore(options)

    def _run(self, plan: Plan[T]) -> T:
        return run(plan, self.engine)

    def _list_collections(self) -> list[str]:
        return self._run(self._core.plan_list())

    def _has_collection(self, name: str) -> bool:
        return self._run(self._core.plan_has(check_collection_name(name)))

    def _create(self, spec: CollectionSpec) -> PineconeCollection:
        return PineconeCollection(self, self._run(self._core.plan_create(spec)))

    def _open(self, name: str) -> PineconeCollection:
        return PineconeCollection(self, self._run(self._core.plan_open(name)))

    def _drop(self, name: str) -> None:
        self._run(self._core.plan_drop(name))

    def _close(self) -> None:
        self._index.close()


class AsyncPineconeCollection(AsyncPlannedCollection):
    """A Pinecone namespace behind the async API (``pinecone.AsyncIndex``, no threads)."""

    backend: ClassVar[str] = "pinecone"

    def __init__(self, store: AsyncPineconeStore, core: Collection) -> None:
        super().__init__(core.spec, core.capabilities, core, store.engine)

    async def _upsert(self, batch: PreparedUpsert) -> None:
        await self._run(self.planner.upsert(batch))


class AsyncPineconeStore(AsyncBaseStore):
    """Async twin of :class:`PineconeStore` over ``pinecone.AsyncIndex``.

    With ``index=`` the host is resolved on first use (through ``AsyncPinecone``), so opening
    the store does no I/O.
    """

    backend: ClassVar[str] = "pinecone"
    capabilities: ClassVar[Capabilities] = PineconeStore.capabilities
    Options = PineconeOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, PineconeOptions)
        super().__init__(options)
        self.opts = options
        self._core = Store(options)
        self._index: AsyncIndex | None = None
        self.engine: AsyncEngine = _engine(options, self._resolve_call)
        if options.host is not None:
            self._index = self._open_index(https_url(options.host))

    def _open_index(self, host: str) -> AsyncIndex:
        try:
            index = AsyncIndex(**_client_kwargs(self.opts, host))
        except PineconeError as exc:
            raise ConfigError(f"cannot open the Pinecone index: {exc}") from exc
        check_index(index, host)
        client_retries_off(index)
        return index

    async def _client(self) -> AsyncIndex:
        if self._index is None:
            assert self.opts.index is not None
            action = f"resolve Pinecone index {self.opts.index!r}"
            try:
                async with AsyncPinecone(**_control_kwargs(self.opts)) as control:
                    model = await control.indexes.describe(self.opts.index)
            except Exception as exc:
                raise_mapped(exc, action)
            self._core.reported_metric = _dense_metric(model)
            self._index = self._open_index(_host_of(model, self.opts.index))
        return self._index

    def _resolve_call(self, call: Call[Any]) -> Callable[..., Awaitable[object]]:
        async def invoke(**kwargs: Any) -> object:
            result: object = await getattr(await self._client(), call.method)(**kwargs)
            return result

        return aretrying(invoke, self.opts.retries)

    async def _run(self, plan: Plan[T]) -> T:
        return await arun(plan, self.engine)

    async def _list_collections(self) -> list[str]:
        return await self._run(self._core.plan_list())

    async def _has_collection(self, name: str) -> bool:
        return await self._run(self._core.plan_has(check_collection_name(name)))

    async def _create(self, spec: CollectionSpec) -> AsyncPineconeCollection:
        return AsyncPineconeCollection(self, await self._run(self._core.plan_create(spec)))

    async def _open(self, name: str) -> AsyncPineconeCollection:
        return AsyncPineconeCollection(self, await self._run(self._core.plan_open(name)))

    async def _drop(self, name: str) -> None:
        await self._run(self._core.plan_drop(name))

    async def _close(self) -> None:
        if self._index is not None:
            await self._index.close()
