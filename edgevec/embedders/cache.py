"""A bounded embedding cache keyed by (embedder fingerprint, SHA-256 of the item's content).

Re-embedding an image costs milliseconds of CPU; a hash lookup costs microseconds. The key holds
the fingerprint, so one cache can serve several embedders without ever returning a vector made by
another model, and the content hash, so equal bytes hit no matter which object carries them. The
cache is bounded by bytes (each entry counts its vector's ``nbytes``) and by age (TTL), evicting
least-recently-used entries first; it is thread-safe because ``aembed`` runs in worker threads.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from edgevec.errors import ConfigError

if TYPE_CHECKING:
    from edgevec.embedders.protocol import Vector

__all__ = ["CacheKey", "EmbeddingCache", "content_key"]

CacheKey = tuple[str, bytes]


def content_key(fingerprint: str, content: bytes) -> CacheKey:
    """The cache key of ``content`` embedded by the embedder with ``fingerprint``."""
    return fingerprint, hashlib.sha256(content).digest()


class EmbeddingCache:
    """LRU + TTL cache of embeddings. ``max_bytes`` bounds the vectors held, ``ttl`` their age."""

    def __init__(
        self,
        max_bytes: int = 32 * 2**20,
        ttl: float = 3600.0,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        from cachetools import TTLCache

        if max_bytes < 1:
            raise ConfigError(f"cache max_bytes must be >= 1, got {max_bytes}")
        if not ttl > 0:
            raise ConfigError(f"cache ttl must be > 0 seconds, got {ttl}")
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._lock = threading.Lock()
        self._data: TTLCache[CacheKey, Vector] = TTLCache(
            maxsize=max_bytes, ttl=ttl, timer=timer, getsizeof=_nbytes
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Vector | None:
        with self._lock:
            vec = self._data.get(key)
            if vec is None:
                self.misses += 1
            else:
                self.hits += 1
            return vec

    def put(self, key: CacheKey, vector: Vector) -> None:
        vec = np.array(vector, dtype=np.float32, copy=True)  # never alias a caller's array
        vec.flags.writeable = False
        if vec.nbytes > self.max_bytes:
            return
        with self._lock:
            self._data[key] = vec

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    @property
    def nbytes(self) -> int:
        """Bytes of vectors held now."""
        with self._lock:
            return int(self._data.currsize)

    def __repr__(self) -> str:
        return (
            f"<EmbeddingCache {len(self)} vectors, {self.nbytes}/{self.max_bytes} bytes, "
            f"ttl={self.ttl:g}s, hits={self.hits}, misses={self.misses}>"
        )


def _nbytes(vector: Vector) -> int:
    return int(vector.nbytes)
