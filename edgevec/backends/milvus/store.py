"""The sync and async shells over ``MilvusClient`` and ``AsyncMilvusClient``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel
from pymilvus import (  # type: ignore[import-untyped]  # pymilvus ships no py.typed
    AsyncMilvusClient,
    MilvusClient,
)

from edgevec.abase import AsyncBaseCollection, AsyncBaseStore
from edgevec.backends.milvus.engine import (
    LITE_UNSAFE,
    blocking_call,
    cover_delete,
    create_collection,
    engine_lock,
    lite_acquire,
    lite_release,
    open_collection,
)
from edgevec.backends.milvus.errors import CLIENT_ERRORS, translate_error
from edgevec.backends.milvus.filters import compile_filter, ids_filter
from edgevec.backends.milvus.options import MilvusIndexOptions, MilvusOptions, client_kwargs
from edgevec.backends.milvus.rows import (
    build_rows,
    output_fields,
    parse_count,
    parse_hits,
    parse_records,
)
from edgevec.backends.milvus.schema import VECTOR, search_params, short, widened
from edgevec.base import BaseCollection, BaseStore
from edgevec.capabilities import Capabilities
from edgevec.errors import BackendUnavailableError, ConfigError
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert, check_collection_name
from edgevec.types import CollectionSpec, Hits, Record

MAX_TOPK = 16_384  # Milvus' limit on limit + offset
QUERY_CHUNK = 1_000  # vectors per search request and ids per ``id in [...]`` expression


T = TypeVar("T")


def _chunks(items: Any, size: int) -> Iterator[Any]:
    """Slices of a list or an array, at most ``size`` long."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MilvusCollection(BaseCollection):
    """One Milvus collection over the sync ``MilvusClient``."""

    backend: ClassVar[str] = "milvus"

    def __init__(self, store: MilvusStore, spec: CollectionSpec, opts: MilvusIndexOptions) -> None:
        super().__init__(spec, MilvusStore.capabilities.narrowed(exact=opts.index == "FLAT"))
        self._store = store
        self.opts = opts

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self._store._call(what, fn, self.name, *args, **kwargs)

    def _upsert(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):
            self._call("upsert", self._store.client.upsert, build_rows(chunk))
        self._after_write()

    def _after_write(self) -> None:
        if self._store.opts.flush_writes():
            self._call("flush", self._store.client.flush)

    def _query(self, q: PreparedQuery) -> list[Hits]:
        expr = compile_filter(q.filter) if q.filter is not None else ""
        out: list[Hits] = []
        for part in _chunks(q.vectors, QUERY_CHUNK):
            params: dict[str, Any] | None = search_params(self.opts, self.metric, q.k, q.params)
            hits = self._search(part, q, expr, params)
            allowed: int | None = None
            while q.filter is not None and short(hits, q.k):
                params = widened(self.opts, params or {})
                if params is None:
                    break
                if allowed is None:
                    allowed = self._count(q.filter)
                    if not short(hits, min(q.k, allowed)):
                        break
                hits = self._search(part, q, expr, params)
            out.extend(hits)
        return out

    def _search(self, part: Any, q: PreparedQuery, expr: str, params: Any) -> list[Hits]:
        result = self._call(
            "search",
            self._store.client.search,
            data=list(part),
            filter=expr,
            limit=q.k,
            output_fields=output_fields(q.include_payload, q.include_vectors),
            search_params=params,
            anns_field=VECTOR,
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_hits(result, self.metric, q)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        rows: list[Mapping[str, Any]] = []
        fields = output_fields(True, include_vectors)
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            rows.extend(
                self._call(
                    "get",
                    self._store.client.query,
                    filter=ids_filter(part),
                    output_fields=fields,
                    consistency_level=self._store.opts.consistency_level,
                )
            )
        return parse_records(rows, ids, include_vectors)

    def _delete_ids(self, ids: list[str]) -> None:
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            self._call("delete", self._store.client.delete, filter=ids_filter(part))
        self._after_delete()

    def _delete_filter(self, flt: Filter) -> None:
        self._call("delete", self._store.client.delete, filter=compile_filter(flt))
        self._after_delete()

    def _after_delete(self) -> None:
        self._after_write()
        cover_delete(self._store._call, self._store.client, self._store.opts, self.name)

    def _count(self, flt: Filter | None) -> int:
        rows = self._call(
            "count",
            self._store.client.query,
            filter=compile_filter(flt) if flt is not None else "",
            output_fields=["count(*)"],
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_count(rows)

    def _explain(self, flt: Filter) -> str:
        return compile_filter(flt)


class MilvusStore(BaseStore):
    """Collections in a Milvus server, Zilliz Cloud, or a Milvus Lite ``.db`` directory."""

    backend: ClassVar[str] = "milvus"
    capabilities: ClassVar[Capabilities] = Capabilities(
        native_async=True, max_batch=1000, max_k=MAX_TOPK, persistent=True
    )
    Options = MilvusOptions

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, MilvusOptions):
            raise ConfigError(f"MilvusStore needs MilvusOptions, got {type(options).__name__}")
        super().__init__(options)
        self.opts = options
        self._serial = engine_lock(options)
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


class AsyncMilvusCollection(AsyncBaseCollection):
    """Async twin of :class:`MilvusCollection`: data operations through ``AsyncMilvusClient``."""

    backend: ClassVar[str] = "milvus"

    def __init__(
        self, store: AsyncMilvusStore, spec: CollectionSpec, opts: MilvusIndexOptions
    ) -> None:
        super().__init__(spec, MilvusStore.capabilities.narrowed(exact=opts.index == "FLAT"))
        self._store = store
        self.opts = opts

    async def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._store._acall(what, method, self.name, *args, **kwargs)

    async def _upsert(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):
            await self._call("upsert", "upsert", build_rows(chunk))
        await self._after_write()

    async def _after_write(self) -> None:
        if self._store.opts.flush_writes():
            await self._call("flush", "flush")

    async def _query(self, q: PreparedQuery) -> list[Hits]:
        expr = compile_filter(q.filter) if q.filter is not None else ""
        out: list[Hits] = []
        for part in _chunks(q.vectors, QUERY_CHUNK):
            params: dict[str, Any] | None = search_params(self.opts, self.metric, q.k, q.params)
            hits = await self._search(part, q, expr, params)
            allowed: int | None = None
            while q.filter is not None and short(hits, q.k):
                params = widened(self.opts, params or {})
                if params is None:
                    break
                if allowed is None:
                    allowed = await self._count(q.filter)
                    if not short(hits, min(q.k, allowed)):
                        break
                hits = await self._search(part, q, expr, params)
            out.extend(hits)
        return out

    async def _search(self, part: Any, q: PreparedQuery, expr: str, params: Any) -> list[Hits]:
        result = await self._call(
            "search",
            "search",
            data=list(part),
            filter=expr,
            limit=q.k,
            output_fields=output_fields(q.include_payload, q.include_vectors),
            search_params=params,
            anns_field=VECTOR,
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_hits(result, self.metric, q)

    async def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        rows: list[Mapping[str, Any]] = []
        fields = output_fields(True, include_vectors)
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            rows.extend(
                await self._call(
                    "get",
                    "query",
                    filter=ids_filter(part),
                    output_fields=fields,
                    consistency_level=self._store.opts.consistency_level,
                )
            )
        return parse_records(rows, ids, include_vectors)

    async def _delete_ids(self, ids: list[str]) -> None:
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            await self._call("delete", "delete", filter=ids_filter(part))
        await self._after_delete()

    async def _delete_filter(self, flt: Filter) -> None:
        await self._call("delete", "delete", filter=compile_filter(flt))
        await self._after_delete()

    async def _after_delete(self) -> None:
        await self._after_write()
        client, _ = await self._store._clients()
        await asyncio.to_thread(
            cover_delete, self._store._call, client, self._store.opts, self.name
        )

    async def _count(self, flt: Filter | None) -> int:
        rows = await self._call(
            "count",
            "query",
            filter=compile_filter(flt) if flt is not None else "",
            output_fields=["count(*)"],
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_count(rows)

    def _explain(self, flt: Filter) -> str:
        return compile_filter(flt)


class AsyncMilvusStore(AsyncBaseStore):
    """Async Milvus store. Both clients are created on first use, off the event loop."""

    backend: ClassVar[str] = "milvus"
    capabilities: ClassVar[Capabilities] = MilvusStore.capabilities

    def __init__(self, options: MilvusOptions) -> None:
        super().__init__(options)
        self.opts = options
        self._serial = engine_lock(options)
        self._sync: Any = None
        self._async: Any = None
        self._lite_path: str | None = None
        self._closed = False
        self._lock: asyncio.Lock | None = None

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

    async def _acall(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.opts.lite and method in LITE_UNSAFE:
            # Serialised with every other writer of the .db in this process, sync stores too:
            # a thread holds the lock, so a cancelled task cannot leave it held.
            return await self._ddl(what, method, *args, **kwargs)
        _, aclient = await self._clients()
        try:
            return await getattr(aclient, method)(*args, timeout=self.opts.timeout, **kwargs)
        except CLIENT_ERRORS as exc:
            raise translate_error(exc, what, self.opts.token) from exc

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
