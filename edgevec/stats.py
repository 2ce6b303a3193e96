"""What ``collection.stats()`` and ``store.stats()`` report: size, shape, index and health.

The same fields on every backend (count, dimension, metric, index kind), plus ``health``: what
the engine itself says about the collection where it says anything (Qdrant's status and
segments, Milvus's index build state, FAISS's tombstoned rows). An operator or a ``/readyz``
check reads one type whatever the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from edgevec.types import Metric

__all__ = ["CollectionStats", "StoreStats"]


@dataclass(frozen=True, slots=True)
class CollectionStats:
    """One collection as the engine sees it now."""

    name: str
    backend: str
    count: int
    """Records stored (exact)."""
    dim: int
    metric: Metric
    index: str | None = None
    """The index kind (``"flat"``, ``"hnsw"``, ...); ``None`` where the engine does not say."""
    health: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    """Engine-reported state, keys per backend (empty where the engine reports none)."""


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Every collection of a store."""

    backend: str
    collections: Mapping[str, CollectionStats]

    @property
    def count(self) -> int:
        """Records in all collections."""
        return sum(c.count for c in self.collections.values())
