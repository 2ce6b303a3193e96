"""Collections seen through wrappers, so the conformance suite proves wrappers keep every rule.

A backend's rules (chunking, flushing, reserved keys, partial-write reports, the closed check)
must hold for anything that wraps its collections: the identity wrapper
(:class:`~edgevec.wrapped.WrappedCollection` adding nothing) and a bound collection
(:class:`~edgevec.embedded.EmbeddedCollection`) whose :class:`VectorEmbedder` takes vectors as
items, so the suite's writes go through ``add`` unchanged. The result cache
(:class:`~edgevec.router.cached.CachedStore`) wraps the whole store, so the suite's reads after
writes, drops and re-creates prove that no stale result is ever served.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgevec.abase import AsyncBaseCollection
from edgevec.aembedded import AsyncEmbeddedCollection
from edgevec.awrapped import AsyncWrappedCollection
from edgevec.embedded import EmbeddedCollection
from edgevec.embedders.protocol import Matrix
from edgevec.router.acached import AsyncCachedStore
from edgevec.router.cached import CachedStore
from edgevec.testing.blocking import Blocking
from edgevec.types import Metric
from edgevec.wrapped import WrappedCollection

__all__ = [
    "CACHED",
    "WRAPPERS",
    "VectorEmbedder",
    "WrappingStore",
    "handle_of",
    "wrap_collection",
    "wrap_store",
]

WRAPPERS = ("direct", "identity", "bound")
"""How the suite reaches collections: as the store returns them, or through either wrapper."""
CACHED = "cached"
"""Also through a result-caching store (:func:`wrap_store`); a suite opts in to it, as it
adds a third of the wrapped runs' time."""


class VectorEmbedder:
    """A deterministic embedder whose items are vectors: ``embed`` returns them as given."""

    def __init__(self, dim: int, metric: Metric) -> None:
        self._dim = dim
        self._metric = metric

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def metric(self) -> Metric:
        return self._metric

    @property
    def fingerprint(self) -> str:
        return f"vectors:identity;dim={self._dim};metric={self._metric}"

    def embed(self, items: Sequence[Any]) -> Matrix:
        # No cast to float32: the collection's own validation must see what the caller passed.
        if not items:
            return np.empty((0, self._dim), dtype=np.float32)
        out: Matrix = np.stack([np.asarray(item) for item in items])
        return out

    async def aembed(self, items: Sequence[Any]) -> Matrix:
        return self.embed(items)


def wrap_collection(coll: Any, how: str) -> Any:
    """``coll`` (sync, async, or async behind :class:`Blocking`) seen as ``how`` says."""
    if how == "direct":
        return coll
    if isinstance(coll, Blocking):
        return coll.map(lambda target: wrap_collection(target, how))
    is_async = isinstance(coll, AsyncBaseCollection)
    if how == "identity":
        return AsyncWrappedCollection(coll) if is_async else WrappedCollection(coll)
    if how == "bound":
        embedder = VectorEmbedder(coll.dim, coll.metric)
        return (
            AsyncEmbeddedCollection(coll, embedder)
            if is_async
            else EmbeddedCollection(coll, embedder)
        )
    raise ValueError(f"unknown wrapper {how!r}; expected one of {WRAPPERS}")


def wrap_store(store: Any, how: str) -> Any:
    """``store`` (sync, or async behind :class:`Blocking`) whose collections come as ``how``
    says: ``"cached"`` puts a result cache in front of the whole store."""
    if how == "direct":
        return store
    if how != CACHED:
        return WrappingStore(store, how)
    if isinstance(store, Blocking):
        return store.map(AsyncCachedStore)
    return CachedStore(store)


def handle_of(coll: Any) -> Any:
    """The store's own collection object under any wrappers (to check handle identity)."""
    target = coll.unwrapped if isinstance(coll, Blocking) else coll
    while isinstance(target, WrappedCollection | AsyncWrappedCollection):
        target = target.inner
    return target


class WrappingStore:
    """A store whose ``create_collection`` and ``collection`` results come back wrapped."""

    def __init__(self, store: Any, how: str) -> None:
        self._store = store
        self._how = how

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def create_collection(self, *args: Any, **kwargs: Any) -> Any:
        return wrap_collection(self._store.create_collection(*args, **kwargs), self._how)

    def collection(self, name: str) -> Any:
        return wrap_collection(self._store.collection(name), self._how)

    def __repr__(self) -> str:
        return f"WrappingStore({self._store!r}, {self._how!r})"
