"""The async router: a store of stores, and its collections, which route every hook.

The router is where its policy runs (:mod:`edgevec.router.calls`); the sync
:class:`~edgevec.router.store.Router` drives these same objects on an event loop of its own.
Each region holds one or more endpoints (:mod:`edgevec.router.members`); what runs where:

* reads (``query``, ``query_batch``, ``query_arrays``, ``get``, ``count``): the named region, or
  the nearest healthy endpoint of any region (measured latency; home while latencies tie), with
  failover and optional hedging; ``regions=`` fans a query out and merges the answers;
* writes (``upsert``, ``delete``): the home region, or every region at once (``write="all"``);
* collection management (create, drop, list): every endpoint of every region, since any of them
  may serve a read. A collection is listed when every region that answered holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from edgevec.abase import AsyncBaseCollection, AsyncBaseStore
from edgevec.capabilities import Capabilities
from edgevec.config import parse_options
from edgevec.deadlines import Deadline, within
from edgevec.errors import (
    BackendTimeoutError,
    CollectionNotFoundError,
    ConfigError,
    EdgevecError,
    RoutingError,
)
from edgevec.filters import Filter
from edgevec.layers import CacheOptions
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.router.arouted import AsyncRoutedCollection
from edgevec.router.cache import CachedResult, CacheFront, CacheInfo, InProcessCache
from edgevec.router.calls import Op, RegionWriteError, failover, fan_out, timed
from edgevec.router.members import Member, common_capabilities, open_members
from edgevec.router.merge import Scoring, merge_topk, needs_rank_fusion, rrf_merge
from edgevec.router.options import RouterOptions
from edgevec.router.policy import is_retryable
from edgevec.router.route import Route, current_route
from edgevec.types import ArrayHits, CollectionSpec, Hits, Metric, Record

if TYPE_CHECKING:
    from edgevec.embedders.protocol import Matrix

__all__ = ["AsyncRouter", "AsyncRouterCollection", "router_options"]

T = TypeVar("T")
R = TypeVar("R", list[Hits], ArrayHits)


def cache_front(options: CacheOptions, clock: Callable[[], float]) -> CacheFront:
    """The router's result cache: in process, TTL + LRU, on the router's clock."""
    return CacheFront(InProcessCache(options.ttl, options.max_entries, clock), options.namespace)


def router_options(
    regions: Mapping[str, Any] | RouterOptions, options: Mapping[str, Any]
) -> RouterOptions:
    """``Router(regions, **options)``'s arguments as validated :class:`RouterOptions`."""
    if isinstance(regions, RouterOptions):
        if options:
            raise ConfigError("pass RouterOptions or keyword options, not both")
        return regions
    return parse_options(RouterOptions, {"regions": regions, **options}, "router options")


class AsyncRouterCollection(AsyncRoutedCollection):
    """One collection across the router's regions; its hooks route, fail over and merge."""

    backend: ClassVar[str] = "router"

    def __init__(
        self, router: AsyncRouter, spec: CollectionSpec, capabilities: Capabilities
    ) -> None:
        super().__init__(spec, capabilities)
        self.router = router
        self.region_names = tuple(router.members)

    # -- reads ------------------------------------------------------------------------------

    async def _query(self, q: PreparedQuery) -> list[Hits]:
        route = current_route()
        return await self._cached("hits", q, route, lambda: self._query_routed(q, route))

    async def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        route = current_route()
        if route.regions is not None:  # merged as hits (and cached as such: partial is visible)
            return ArrayHits.from_hits(await self._query(q), q.k)
        return await self._cached("arrays", q, route, lambda: self._arrays_routed(q, route))

    async def _query_routed(self, q: PreparedQuery, route: Route) -> list[Hits]:
        if route.regions is not None:
            return await self._federated(q, route.regions)
        rows, member = await self._read(lambda h: h._query(q), route.region)
        for hits in rows:
            for hit in hits:
                hit.source = member.region
        return rows

    async def _arrays_routed(self, q: PreparedQuery, route: Route) -> ArrayHits:
        found, _ = await self._read(lambda h: h._query_arrays(q), route.region)
        return found

    async def _cached(
        self, kind: str, q: PreparedQuery, route: Route, compute: Callable[[], Awaitable[R]]
    ) -> R:
        """``compute()``, or the router cache's answer to the same query on the same route
        (a partial answer is never kept: the region that missed may be back next time)."""
        front = self.router.front
        if front is None:
            return await compute()
        key = front.key(self.name, kind, q) + route.key()
        found = front.lookup(key, self.name, self.backend)
        if found is not None:
            return cast("R", found)
        return cast("R", front.store(key, cast("CachedResult", await compute())))

    async def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        found, _ = await self._read(lambda h: h._get(ids, include_vectors), current_route().region)
        return found

    async def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        """A page from one region for the whole scan (a cursor means nothing elsewhere): the
        home region's endpoints (``write="all"`` keeps every region complete)."""
        page, _ = await self._read(
            lambda h: h._scan_page(cursor, limit, include_vectors, include_payload),
            self.router.home,
        )
        return page

    async def _count(self, flt: Filter | None) -> int:
        found, _ = await self._read(lambda h: h._count(flt), current_route().region)
        return found

    def _explain(self, flt: Filter) -> str:
        handle = self.router.members[self.router.home][0].handles.get(self.name)
        return flt.explain() if handle is None else handle._explain(flt)

    async def _read(
        self, call: Callable[[AsyncBaseCollection], Awaitable[T]], region: str | None
    ) -> tuple[T, Member]:
        """``call`` on the named region, else on the nearest healthy endpoint of any region."""
        router = self.router
        members = router.members[region] if region is not None else router.all_members
        return await router.bounded(
            "read from the router",
            lambda dl: failover(
                members, self._on(call), home=router.home_endpoint, options=router.config,
                dl=dl, hedge=router.config.hedge,
            ),
            members,
        )  # fmt: skip

    async def _federated(self, q: PreparedQuery, regions: Sequence[str]) -> list[Hits]:
        """``q`` in every region of ``regions`` at once, merged row by row."""
        router = self.router
        groups = {r: router.members[r] for r in regions}
        with within(router.config.timeout) as dl:
            answers, failures = await fan_out(
                groups, self._on(lambda h: _scored(h, q)), options=router.config, dl=dl,
                hedge=router.config.hedge,
            )  # fmt: skip
        if not answers:
            first = next(iter(failures.values()))
            why = "; ".join(f"{r}: {e}" for r, e in failures.items())
            raise RoutingError(f"no region answered the query: {why}") from first
        missing = [r for r in regions if r in failures]
        fuse = needs_rank_fusion(scoring for _, scoring in answers.values())
        merge = rrf_merge if fuse else merge_topk
        return [
            merge(
                {r: rows[i] for r, (rows, _) in answers.items()},
                q.k,
                missing=missing,
                score_threshold=q.score_threshold,  # fused ranks are no scores: applied first
            )
            for i in range(len(q.vectors))
        ]

    # -- writes -----------------------------------------------------------------------------

    async def _upsert(self, batch: PreparedUpsert) -> None:
        await self._write(lambda h: h._upsert(batch), batch.ids)

    async def _delete_ids(self, ids: list[str]) -> None:
        await self._write(lambda h: h._delete_ids(ids), ids)

    async def _delete_filter(self, flt: Filter) -> None:
        await self._write(lambda h: h._delete_filter(flt), ())

    async def _write(
        self, call: Callable[[AsyncBaseCollection], Awaitable[None]], ids: Sequence[str]
    ) -> None:
        """``call`` on the home region (failover among its endpoints), or on every region at
        once; a region that did not acknowledge is never reported as written."""
        router = self.router
        with router.front.writing(self.name) if router.front else contextlib.nullcontext():
            await self._write_routed(self._on(call), ids)

    async def _write_routed(self, op: Op[None], ids: Sequence[str]) -> None:
        router = self.router
        if router.config.write == "home":
            home = router.members[router.home]
            await router.bounded(
                "write to the home region",
                lambda dl: failover(home, op, home=None, options=router.config, dl=dl),
                home,
            )
            return
        with within(router.config.timeout) as dl:
            answers, failures = await fan_out(router.members, op, options=router.config, dl=dl)
        if failures:
            raise RegionWriteError(
                ids, list(answers), {r: str(e) for r, e in failures.items()}
            ) from next(iter(failures.values()))

    def _on(self, call: Callable[[AsyncBaseCollection], Awaitable[T]]) -> Op[T]:
        """``call`` made on an endpoint's handle of this collection."""
        name = self.name

        async def op(member: Member) -> T:
            return await call(await member.collection(name))

        return op


async def _scored(handle: AsyncBaseCollection, q: PreparedQuery) -> tuple[list[Hits], Scoring]:
    """A region's answer to ``q`` and how it scores (to choose merge or rank fusion)."""
    return await handle._query(q), Scoring.of(handle, q.params)


@dataclass(frozen=True)
class RecordedEmbedder:
    """The identity of the embedder a router collection is created with, handed to each region
    so that every one records its fingerprint; the router embeds nothing itself (a bound router
    collection embeds once, before routing), so this one refuses to."""

    spec: CollectionSpec

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def metric(self) -> Metric:
        return self.spec.metric

    @property
    def fingerprint(self) -> str:
        assert self.spec.fingerprint is not None
        return self.spec.fingerprint

    def embed(self, items: Sequence[Any]) -> Matrix:
        raise TypeError("the router records an embedder's fingerprint; it does not embed")

    async def aembed(self, items: Sequence[Any]) -> Matrix:
        return self.embed(items)


class AsyncRouter(AsyncBaseStore[AsyncRouterCollection]):
    """Async twin of :class:`edgevec.Router`: regions of async stores (sync stores are served
    from worker threads, in-process engines inline; configs are opened with
    :func:`edgevec.connect_async`).

    ``AsyncRouter(regions={"eu": store, "us": {"backend": "qdrant", ...}}, home="eu",
    timeout=0.5, write="home", hedge=False)``; the router owns its regions: closing it closes
    them.
    """

    backend: ClassVar[str] = "router"
    Options = RouterOptions

    def __init__(
        self,
        regions: Mapping[str, Any] | RouterOptions,
        *,
        members: Mapping[str, list[Member]] | None = None,
        **options: Any,
    ) -> None:
        opts = router_options(regions, options)
        super().__init__(opts)
        self.config = opts
        """The options, typed (``options`` is the base class's pydantic model)."""
        self.members = dict(members) if members is not None else open_members(opts, sync_only=False)
        """Region name -> its endpoints (``members`` given: built by the sync router)."""
        self.home = opts.home_region
        self.home_endpoint = self.members[self.home][0].name
        self.all_members = [m for group in self.members.values() for m in group]
        self.capabilities = common_capabilities(  # type: ignore[misc]  # per instance
            [m.store.capabilities for m in self.all_members]
        )
        self.front = None if opts.cache is None else cache_front(opts.cache, opts.clock)
        """The result cache's front (``cache={...}``), or ``None``."""

    def cache_info(self) -> CacheInfo:
        """Hits and misses of the router's result cache so far (zeros without one)."""
        return CacheInfo(0, 0) if self.front is None else self.front.info()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} regions={list(self.members)} home={self.home!r}>"

    async def bounded(
        self, action: str, work: Callable[[Deadline], Awaitable[T]], members: Sequence[Member]
    ) -> T:
        """``work`` (calls on ``members``) within the deadline in force (else the router's
        ``timeout``), cancelled and reported as :class:`BackendTimeoutError` when it runs past
        it. Calls on inline members never wait, so there is nothing a timer could cut short
        (and setting one costs more than such a call): for them the deadline checked before
        each call is the bound."""
        with within(self.config.timeout) as dl:
            if all(m.inline for m in members):
                return await work(dl)
            try:
                return await timed(work(dl), max(dl.left(), 0.0))
            except BackendTimeoutError:
                raise
            except asyncio.TimeoutError as exc:
                raise dl.expired(action) from exc

    async def _everywhere(self, op: Op[T]) -> tuple[dict[str, T], dict[str, EdgevecError]]:
        """``op`` on every endpoint of every region at once (collection management), within
        the ``admin_timeout``; answers and failures by endpoint name."""
        with within(self.config.admin_timeout) as dl:
            return await fan_out(
                {m.name: [m] for m in self.all_members}, op, options=self.config, dl=dl, book=False
            )

    def _refuse(self, action: str, failures: Mapping[str, EdgevecError]) -> None:
        """Raise for failed endpoints: an error that would repeat as it is, else RoutingError."""
        if not failures:
            return
        for error in failures.values():
            if not is_retryable(error) and not isinstance(error, RoutingError):
                raise error
        why = "; ".join(f"{name}: {e}" for name, e in failures.items())
        raise RoutingError(f"could not {action} on every endpoint: {why}") from next(
            iter(failures.values())
        )

    async def _list_collections(self) -> list[str]:
        async def names(member: Member) -> list[str]:
            return await member.store.list_collections()

        answers, failures = await self._everywhere(names)
        if not answers:
            self._refuse("list collections", failures)
        return sorted(set.intersection(*(set(found) for found in answers.values())))

    async def _create(self, spec: CollectionSpec) -> AsyncRouterCollection:
        recorded = None if spec.fingerprint is None else RecordedEmbedder(spec)

        async def create(member: Member) -> AsyncBaseCollection:
            fields = spec.fields or None
            if recorded is None:
                handle: AsyncBaseCollection = await member.store.create_collection(
                    spec.name, spec.dim, spec.metric, exist_ok=True, fields=fields, **spec.options
                )
            else:  # each region records (and later checks) the embedder's fingerprint
                bound = await member.store.create_collection(
                    spec.name, exist_ok=True, embedder=recorded, fields=fields, **spec.options
                )
                handle = bound.inner
            member.handles[spec.name] = handle
            return handle

        answers, failures = await self._everywhere(create)
        self._refuse(f"create collection {spec.name!r}", failures)
        return self._collection(spec.name, list(answers.values()))

    async def _open(self, name: str) -> AsyncRouterCollection:
        for member in self.all_members:
            member.handles.pop(name, None)  # a new handle: reopen where the last one was

        async def open_(member: Member) -> AsyncBaseCollection:
            return await member.collection(name)

        answers, failures = await self._everywhere(open_)
        for endpoint, error in failures.items():
            if isinstance(error, CollectionNotFoundError):
                raise CollectionNotFoundError(
                    f"no collection named {name!r} in endpoint {endpoint!r}"
                ) from error
        if not answers:
            self._refuse(f"open collection {name!r}", failures)
        return self._collection(name, list(answers.values()))

    def _collection(
        self, name: str, handles: Sequence[AsyncBaseCollection]
    ) -> AsyncRouterCollection:
        """The router's handle over the endpoints' ``handles``, whose dim and metric must agree
        (endpoints that did not answer yet are checked by their store's manifest)."""
        specs = {(h.dim, h.metric) for h in handles}
        if len(specs) > 1:
            raise ConfigError(
                f"collection {name!r} differs between regions (dim, metric): {sorted(specs)}"
            )
        opened = {id(h) for h in handles}
        manifests = [h.capabilities for h in handles] + [
            m.store.capabilities for m in self.all_members if id(m.handles.get(name)) not in opened
        ]
        return AsyncRouterCollection(self, handles[0].spec, common_capabilities(manifests))

    async def _drop(self, name: str) -> None:
        with self.front.writing(name) if self.front else contextlib.nullcontext():
            await self._drop_everywhere(name)

    async def _drop_everywhere(self, name: str) -> None:
        async def drop(member: Member) -> None:
            member.handles.pop(name, None)
            await member.store.drop_collection(name, missing_ok=True)

        _, failures = await self._everywhere(drop)
        self._refuse(f"drop collection {name!r}", failures)

    async def _close(self) -> None:
        results = await asyncio.gather(
            *(m.store.close() for m in self.all_members), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
