"""Collections whose I/O hooks are *plans* that the store runs: the shape of remote backends.

A backend with a sync and a native async client writes its translation once, as a planner
whose methods return a description of the client calls to make (a plan); the store's ``run``
executes a plan on the sync client, the async store's ``run`` awaits it on the async client.
This module holds the collection shell around a planner, so no backend repeats it.
``edgevec/aplanned.py`` is generated from this file by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgevec.base import BaseCollection
from edgevec.capabilities import Capabilities
from edgevec.filters import Filter
from edgevec.planner import Planner
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.types import CollectionSpec, Hits, Record

__all__ = ["PlannedCollection"]


class PlannedCollection(BaseCollection):
    """A collection whose hooks hand the planner's plans to ``run``."""

    def __init__(
        self,
        spec: CollectionSpec,
        capabilities: Capabilities,
        planner: Planner,
        run: Callable[[Any], Any],
    ) -> None:
        super().__init__(spec, capabilities)
        self.planner = planner
        self._run = run

    def _upsert(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):
            self._run(self.planner.upsert(chunk))

    def _query(self, q: PreparedQuery) -> list[Hits]:
        hits: list[Hits] = self._run(self.planner.query(q))
        return hits

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        records: list[Record] = self._run(self.planner.get(ids, include_vectors))
        return records

    def _delete_ids(self, ids: list[str]) -> None:
        self._run(self.planner.delete_ids(ids))

    def _delete_filter(self, flt: Filter) -> None:
        self._run(self.planner.delete_filter(flt))

    def _count(self, flt: Filter | None) -> int:
        n: int = self._run(self.planner.count(flt))
        return n

    def _explain(self, flt: Filter) -> str:
        return self.planner.explain(flt)
