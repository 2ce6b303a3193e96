"""The router collection's reads: the base methods plus ``region=``, ``regions=``, ``timeout=``.

Each method checks the route (:mod:`edgevec.router.route`) and runs the base method unchanged,
so validation runs once, at the top, and the hooks read the route from its context variable.
``scripts/unasync.py`` generates :mod:`edgevec.router.arouted` from this file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgevec.base import BaseCollection
from edgevec.filters import FilterLike
from edgevec.router.route import Regions, routed
from edgevec.search_params import SearchParamsLike
from edgevec.types import ArrayHits, Hits, Record

__all__ = ["RoutedCollection"]


class RoutedCollection(BaseCollection):
    """A collection whose reads may name a region, fan out to several, or set a timeout.

    ``region="us"`` reads that region (failing over only between its endpoints);
    ``regions="all"`` or a list fans out and merges, marking the result ``partial`` with the
    regions that missed; ``timeout`` bounds the call (failover, retries and hedges included).
    """

    region_names: tuple[str, ...] = ()

    def query(
        self,
        vector: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
        region: str | None = None,
        regions: Regions | None = None,
        timeout: float | None = None,
    ) -> Hits:
        with routed(self.region_names, region, regions, timeout):
            return super().query(
                vector, k, filter, include_vectors=include_vectors,
                include_payload=include_payload, params=params, score_threshold=score_threshold,
            )  # fmt: skip

    def query_batch(
        self,
        vectors: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
        region: str | None = None,
        regions: Regions | None = None,
        timeout: float | None = None,
    ) -> list[Hits]:
        with routed(self.region_names, region, regions, timeout):
            return super().query_batch(
                vectors, k, filter, include_vectors=include_vectors,
                include_payload=include_payload, params=params, score_threshold=score_threshold,
            )  # fmt: skip

    def query_by_id(
        self,
        id: str,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_self: bool = False,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
        region: str | None = None,
        regions: Regions | None = None,
        timeout: float | None = None,
    ) -> Hits:
        """As in the base class; the record is read from ``region`` or the nearest region even
        when ``regions`` fans the query out."""
        with routed(self.region_names, region, regions, timeout):
            return super().query_by_id(
                id, k, filter, include_self=include_self, include_vectors=include_vectors,
                include_payload=include_payload, params=params, score_threshold=score_threshold,
            )  # fmt: skip

    def query_arrays(
        self,
        vectors: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
        region: str | None = None,
        regions: Regions | None = None,
        timeout: float | None = None,
    ) -> ArrayHits:
        with routed(self.region_names, region, regions, timeout):
            return super().query_arrays(
                vectors, k, filter, params=params, score_threshold=score_threshold
            )

    def get(
        self,
        ids: Iterable[str],
        *,
        include_vectors: bool = True,
        region: str | None = None,
        timeout: float | None = None,
    ) -> list[Record]:
        """Records for ``ids`` from ``region`` or the nearest region (records are not merged
        across regions: write with ``write="all"`` to keep every region complete)."""
        with routed(self.region_names, region, None, timeout):
            return super().get(ids, include_vectors=include_vectors)
