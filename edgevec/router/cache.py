"""The result cache: a pluggable store of query results, and the bookkeeping wrappers share.

:class:`ResultCache` is the interface (an in-process :class:`InProcessCache` by default; a
shared one, such as Redis, implements the same five methods). Entries are keyed by
:func:`~edgevec.router.cache_key.cache_key`, which includes the collection's write generation:
a write through the cache wrapper bumps the generation before it is sent and again once it
returned, so the next identical query misses and no reader can store a result read during the
write under the generation that follows it. Entries are answers frozen by
:func:`~edgevec.router.cache_entry.freeze`, so a hit builds the caller's copy from immutable
parts instead of deep-copying kept objects. :class:`CacheFront` is the part of
:class:`~edgevec.router.cached.CachedStore` the sync and async wrappers share: keys, lookups
that hand out private copies, counters and telemetry.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from edgevec.errors import ConfigError
from edgevec.prepare import PreparedQuery
from edgevec.router.cache_entry import CachedResult, CacheEntry, freeze
from edgevec.router.cache_key import cache_key
from edgevec.telemetry import instruments

if TYPE_CHECKING:
    from cachetools import TTLCache

__all__ = ["CacheFront", "CacheInfo", "CachedResult", "InProcessCache", "ResultCache"]


@runtime_checkable
class ResultCache(Protocol):
    """Where cached results live; implement it to share a cache between processes.

    Keys are 16-byte digests. ``generation`` and ``bump`` count writes per ``scope`` (a
    namespace and collection name): keep them where every process sharing the entries sees
    them (with a shared store, a write made through one process then invalidates all).
    """

    def get(self, key: bytes) -> CacheEntry | None:
        """The entry under ``key``, or ``None`` when absent or expired."""

    def set(self, key: bytes, value: CacheEntry) -> None:
        """Keep ``value`` (immutable: a shared cache may hand the same entry to many)."""

    def generation(self, scope: str) -> int:
        """How many writes to ``scope`` have started or finished so far."""

    def bump(self, scope: str) -> None:
        """Count one write start or finish for ``scope``; atomic."""

    def clear(self) -> None:
        """Drop every entry (generations keep counting)."""


class InProcessCache:
    """A bounded TTL + LRU cache in this process (``cachetools.TTLCache``), thread-safe.

    At most ``max_entries`` results live at once, the least recently used going first, and each
    for ``ttl`` seconds by ``clock`` (``time.monotonic``; tests pass a fake one to expire entries
    without sleeping).
    """

    def __init__(
        self,
        ttl: float = 30.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from cachetools import TTLCache

        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigError(f"max_entries must be a positive int, got {max_entries!r}")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise ConfigError(f"ttl must be a positive number of seconds, got {ttl!r}")
        self._entries: TTLCache[bytes, CacheEntry] = TTLCache(max_entries, ttl, timer=clock)
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def get(self, key: bytes) -> CacheEntry | None:
        with self._lock:
            try:  # one lookup: TTLCache.get would test membership first, then look up again
                return self._entries[key]
            except KeyError:  # absent, or expired
                return None

    def set(self, key: bytes, value: CacheEntry) -> None:
        with self._lock:
            self._entries[key] = value

    def generation(self, scope: str) -> int:
        return self._generations.get(scope, 0)

    def bump(self, scope: str) -> None:
        with self._lock:
            self._generations[scope] = self._generations.get(scope, 0) + 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of one cache wrapper since it was made."""

    hits: int
    misses: int

    @property
    def hit_ratio(self) -> float:
        """Share of lookups answered from cache (0.0 before the first)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class CacheFront:
    """Keys, lookups, write generations and counters for one cache wrapper, sync or async.

    ``namespace`` keeps wrappers that share one cache apart: by default a fresh one per
    wrapper; give the same string to processes that share a cache over the same data.
    """

    def __init__(self, cache: ResultCache, namespace: str | None = None) -> None:
        self.cache = cache
        self.namespace = uuid.uuid4().hex if namespace is None else namespace
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses)

    def key(self, collection: str, kind: str, q: PreparedQuery) -> bytes:
        """The key of ``q`` now; take it *before* asking the engine, so that a write racing
        the read moves the generation on and the result is stored where nobody looks."""
        scope = f"{self.namespace}/{collection}"
        return cache_key(scope, self.cache.generation(scope), kind, q)

    def lookup(self, key: bytes, collection: str, backend: str) -> CachedResult | None:
        """A private copy of the entry under ``key`` (counted as a hit), or ``None`` (a miss)."""
        found = self.cache.get(key)
        attributes = {"collection": collection, "backend": backend}
        with self._lock:
            if found is None:
                self._misses += 1
            else:
                self._hits += 1
        if found is None:
            instruments().cache_misses.add(1, attributes)
            return None
        instruments().cache_hits.add(1, attributes)
        return found.thaw()

    def store(self, key: bytes, result: CachedResult) -> CachedResult:
        """Keep a frozen copy of ``result`` under ``key`` where it may be kept (see
        :func:`~edgevec.router.cache_entry.freeze`); returns ``result``, the caller's."""
        entry = freeze(result)
        if entry is not None:
            self.cache.set(key, entry)
        return result

    @contextlib.contextmanager
    def writing(self, collection: str) -> Iterator[None]:
        """Around a write (or drop) of ``collection``: bump its generation before and after."""
        scope = f"{self.namespace}/{collection}"
        self.cache.bump(scope)
        try:
            yield
        finally:
            self.cache.bump(scope)
