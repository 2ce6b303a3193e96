"""The stores a router calls: one :class:`Member` per endpoint, grouped by region.

A region value is a store, a backend config mapping, or a list of them (the region's
endpoints: replicas of the same data, or gateways to one cluster). The router's core is async,
so every member is an async store: a sync store is served from worker threads
(:class:`~edgevec.threaded.ThreadedAsyncStore`), or on the router's loop for an in-process
engine (:data:`INLINE_BACKENDS`), and a config is opened with
:func:`edgevec.connect_async`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgevec.abase import AsyncBaseCollection, AsyncBaseStore
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.errors import ConfigError
from edgevec.router.options import RouterOptions
from edgevec.router.policy import CircuitBreaker, Endpoint, LatencyTracker

__all__ = ["INLINE_BACKENDS", "Member", "common_capabilities", "open_members"]

INLINE_BACKENDS = frozenset({"faiss", "qdrant_edge"})
"""Sync backends whose calls the router makes on its event loop's thread rather than in a
worker thread: in-process engines whose calls are short and cannot stall on a network, so
the two thread hand-offs would cost more than the call (a FAISS read: ~40 us, the hand-offs
~200 us). A call already past its deadline is refused before it starts."""


@dataclass(eq=False)
class Member:
    """One endpoint: its region, its async store, what the router learnt of it (latency,
    breaker) and the collection handles it opened."""

    region: str
    store: AsyncBaseStore
    endpoint: Endpoint
    handles: dict[str, AsyncBaseCollection] = field(default_factory=dict)
    inline: bool = False
    """Its calls run on the router's loop thread and never wait (:data:`INLINE_BACKENDS`): a
    fan-out makes them one after the other rather than as tasks."""

    @property
    def name(self) -> str:
        return self.endpoint.name

    async def collection(self, name: str) -> AsyncBaseCollection:
        """This endpoint's handle of collection ``name``, opened once."""
        handle = self.handles.get(name)
        if handle is None:
            handle = self.handles[name] = await self.store.collection(name)
        return handle


def open_members(options: RouterOptions, *, sync_only: bool) -> dict[str, list[Member]]:
    """Every region's endpoints as async stores (``sync_only``: the sync router, which refuses
    async stores because they belong to the caller's event loop, not the router's)."""
    members: dict[str, list[Member]] = {}
    for region, value in options.regions.items():
        values = list(value) if isinstance(value, list | tuple) else [value]
        if not values:
            raise ConfigError(f"region {region!r} has no endpoints")
        members[region] = [
            Member(
                region,
                _as_async_store(region, v, sync_only),
                Endpoint(
                    region if len(values) == 1 else f"{region}[{i}]",
                    LatencyTracker(clock=options.clock),
                    CircuitBreaker(
                        options.breaker_failures, options.breaker_cooldown, clock=options.clock
                    ),
                ),
                inline=_inline(v),
            )
            for i, v in enumerate(values)
        ]
    return members


def _inline(value: Any) -> bool:
    """Whether a region value is a sync store whose calls the router makes inline."""
    return isinstance(value, BaseStore) and value.backend in INLINE_BACKENDS


def _as_async_store(region: str, value: Any, sync_only: bool) -> AsyncBaseStore:
    from edgevec.connect import connect_async
    from edgevec.threaded import ThreadedAsyncStore

    if isinstance(value, BaseStore):
        return ThreadedAsyncStore(value, inline=_inline(value))
    if isinstance(value, AsyncBaseStore):
        if sync_only:
            raise ConfigError(
                f"region {region!r}: the sync Router takes sync stores or configs; give async "
                "stores to edgevec.AsyncRouter"
            )
        return value
    if isinstance(value, Mapping):
        return connect_async(dict(value))
    raise ConfigError(
        f"region {region!r} must be a store, a backend config mapping or a list of them, "
        f"got {type(value).__name__}"
    )


def common_capabilities(manifests: Sequence[Capabilities]) -> Capabilities:
    """What every member can do: an operator, search param or guarantee one lacks is refused
    before any request goes to any of them."""
    first, *rest = manifests
    if not rest:
        return first
    return Capabilities(
        filter_ops=frozenset.intersection(*(m.filter_ops for m in manifests)),
        exact=all(m.exact for m in manifests),
        native_async=all(m.native_async for m in manifests),
        max_batch=min(m.max_batch for m in manifests),
        max_k=min(m.max_k for m in manifests),
        persistent=all(m.persistent for m in manifests),
        namespaces=all(m.namespaces for m in manifests),
        exact_int_bits=min(m.exact_int_bits for m in manifests),
        declared_fields=all(m.declared_fields for m in manifests),
        search_params=frozenset.intersection(*(m.search_params for m in manifests)),
    )
