"""The layers ``connect`` puts around a store when its config asks: result cache and telemetry.

Any store config (file, dict or keyword arguments) may add, next to its backend options::

    backend = "qdrant"
    cache = { ttl = 30, max_entries = 1000 }   # answer repeated queries from memory
    telemetry = true                           # a span and metrics for every collection call

so the service and the command line get them by configuration. Telemetry wraps the cache, so
its durations are what callers see (cache hits included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from edgevec.config import LAYER_KEYS, parse_options

if TYPE_CHECKING:
    from edgevec.abase import AsyncBaseStore
    from edgevec.base import BaseStore

__all__ = ["CacheOptions", "Layers", "split_layers", "with_layers", "with_layers_async"]


class CacheOptions(BaseModel):
    """``cache = {...}``: the keyword arguments of :class:`~edgevec.router.cached.CachedStore`
    that a config can give (a router passes its ``cache={...}`` through this model too)."""

    model_config = ConfigDict(extra="forbid")

    ttl: float = Field(default=30.0, gt=0)
    """Seconds a result is served from cache at most."""
    max_entries: int = Field(default=100_000, ge=1)
    """Results kept at once; the least recently used go first."""
    namespace: str | None = None
    """Shared by processes whose caches hold the same data (only matters for a shared cache)."""


class Layers(BaseModel):
    """The layer keys of one store config."""

    model_config = ConfigDict(extra="forbid")

    cache: CacheOptions | None = None
    telemetry: bool = False


def split_layers(options: Mapping[str, Any]) -> tuple[dict[str, Any], Layers]:
    """``options`` without the layer keys, and those keys validated (:class:`ConfigError`
    names a bad one)."""
    rest = {k: v for k, v in options.items() if k not in LAYER_KEYS}
    chosen = {k: v for k, v in options.items() if k in LAYER_KEYS}
    return rest, parse_options(Layers, chosen, "store layers (cache, telemetry)")


def with_layers(store: BaseStore, layers: Layers) -> BaseStore:
    """``store`` inside the layers asked for (unchanged when none is)."""
    if layers.cache is not None:
        from edgevec.router.cached import CachedStore

        store = CachedStore(store, **layers.cache.model_dump())
    if layers.telemetry:
        from edgevec.observed import TelemetryStore

        store = TelemetryStore(store)
    return store


def with_layers_async(store: AsyncBaseStore, layers: Layers) -> AsyncBaseStore:
    """The async twin of :func:`with_layers`."""
    if layers.cache is not None:
        from edgevec.router.acached import AsyncCachedStore

        store = AsyncCachedStore(store, **layers.cache.model_dump())
    if layers.telemetry:
        from edgevec.aobserved import AsyncTelemetryStore

        store = AsyncTelemetryStore(store)
    return store
