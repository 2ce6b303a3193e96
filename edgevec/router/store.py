"""``edgevec.Router``: the sync router, a store of stores.

It holds an :class:`~edgevec.router.arouter.AsyncRouter` on an event loop of its own
(:class:`~edgevec.router.loop.LoopThread`) and runs every hook there, so the sync and async
routers share one implementation of the policy: failover, hedging, fan-out and merge are the
async core's. Sync stores given as regions are served from worker threads, in-process engines
(FAISS, Qdrant Edge) on the loop's own thread (:data:`~edgevec.router.members.INLINE_BACKENDS`);
configs are opened with their async client on the router's loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from edgevec.abase import AsyncBaseStore
from edgevec.base import BaseStore
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.router.arouter import AsyncRouter, AsyncRouterCollection, router_options
from edgevec.router.cache import CacheInfo
from edgevec.router.loop import LoopThread
from edgevec.router.members import open_members
from edgevec.router.options import RouterOptions
from edgevec.router.routed import RoutedCollection
from edgevec.types import ArrayHits, CollectionSpec, Hits, Record

__all__ = ["Router", "RouterCollection"]


class RouterCollection(RoutedCollection):
    """One collection across the router's regions (see :class:`edgevec.Router`)."""

    backend: ClassVar[str] = "router"

    def __init__(self, loop: LoopThread, core: AsyncRouterCollection) -> None:
        super().__init__(core.spec, core.capabilities)
        self.core = core
        """The async router collection whose hooks do the work, on ``loop``."""
        self.region_names = core.region_names
        self._loop = loop

    def _upsert(self, batch: PreparedUpsert) -> None:
        self._loop.run(self.core._upsert(batch))

    def _query(self, q: PreparedQuery) -> list[Hits]:
        return self._loop.run(self.core._query(q))

    def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        return self._loop.run(self.core._query_arrays(q))

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return self._loop.run(self.core._get(ids, include_vectors))

    def _delete_ids(self, ids: list[str]) -> None:
        self._loop.run(self.core._delete_ids(ids))

    def _delete_filter(self, flt: Filter) -> None:
        self._loop.run(self.core._delete_filter(flt))

    def _count(self, flt: Filter | None) -> int:
        return self._loop.run(self.core._count(flt))

    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        return self._loop.run(self.core._scan_page(cursor, limit, include_vectors, include_payload))

    def _explain(self, flt: Filter) -> str:
        return self.core._explain(flt)


class Router(BaseStore[RouterCollection]):
    """Regional endpoints behind one store: nearest healthy endpoint, failover, hedged reads,
    federated top-k, write policy, one deadline per call.

    ``Router(regions={"eu": store, "us": {"backend": "qdrant", "location": ":memory:"}},
    home="eu", timeout=0.5, write="home")``: a region is a sync store, a backend config, or a
    list of them (several endpoints of one region). Options are those of
    :class:`~edgevec.router.options.RouterOptions`. The router owns its regions: closing it
    closes them.
    """

    backend: ClassVar[str] = "router"
    Options = RouterOptions

    def __init__(self, regions: Mapping[str, Any] | BaseModel, **options: Any) -> None:
        opts = router_options(regions, options)  # type: ignore[arg-type]  # checked inside
        super().__init__(opts)
        self._loop = LoopThread()
        try:  # configs open their async clients on the loop they will run on
            self.core = self._loop.call(
                lambda: AsyncRouter(opts, members=open_members(opts, sync_only=True))
            )
        except BaseException:
            self._loop.close()
            raise
        self.capabilities = self.core.capabilities  # type: ignore[misc]  # per instance
        self.home = self.core.home

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncBaseStore:
        """The async router for these options (``edgevec.connect_async`` with a router
        config)."""
        assert isinstance(options, RouterOptions)
        return AsyncRouter(options)

    def cache_info(self) -> CacheInfo:
        """Hits and misses of the router's result cache so far (zeros without one)."""
        return self.core.cache_info()

    def __repr__(self) -> str:
        return f"<Router regions={list(self.core.members)} home={self.home!r}>"

    def _list_collections(self) -> list[str]:
        return self._loop.run(self.core._list_collections())

    def _has_collection(self, name: str) -> bool:
        return self._loop.run(self.core._has_collection(name))

    def _create(self, spec: CollectionSpec) -> RouterCollection:
        return RouterCollection(self._loop, self._loop.run(self.core._create(spec)))

    def _open(self, name: str) -> RouterCollection:
        return RouterCollection(self._loop, self._loop.run(self.core._open(name)))

    def _drop(self, name: str) -> None:
        self._loop.run(self.core._drop(name))

    def _close(self) -> None:
        try:
            self._loop.run(self.core._close())
        finally:
            self._loop.close()
