"""Collections whose I/O hooks are *plans* that the store runs: the shape of remote backends.

A backend with a sync and a native async client writes its translation once, as a planner
whose methods return a description of the client calls to make (a plan); the driver
(:mod:`edgevec.driver`) runs a plan on the store's sync engine, or awaits it on the async one.
This module holds the collection shell around a planner, so no backend repeats it.
``edgevec/aplanned.py`` is generated from this file by ``scripts/unasync.py``.
"""

from __future__ import annotations

from typing import TypeVar

from edgevec.base import BaseCollection
from edgevec.capabilities import Capabilities
from edgevec.driver import Plan, SyncEngine, run
from edgevec.filters import Filter
from edgevec.planner import Planner
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.types import CollectionSpec, Hits, Record

__all__ = ["PlannedCollection"]

T = TypeVar("T")


class PlannedCollection(BaseCollection):
    """A collection whose hooks hand the planner's plans to the driver."""

    def __init__(
        self,
        spec: CollectionSpec,
        capabilities: Capabilities,
        planner: Planner,
        engine: SyncEngine,
    ) -> None:
        super().__init__(spec, capabilities)
        self.planner = planner
        self.engine = engine

    def _run(self, plan: Plan[T]) -> T:
        """Run ``plan`` through the driver: one deadline, mapped errors, observed calls."""
        return run(plan, self.engine)

    def _upsert(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):
            self._run(self.planner.upsert(chunk))

    def _query(self, q: PreparedQuery) -> list[Hits]:
        return self._run(self.planner.query(q))

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return self._run(self.planner.get(ids, include_vectors))

    def _delete_ids(self, ids: list[str]) -> None:
        self._run(self.planner.delete_ids(ids))

    def _delete_filter(self, flt: Filter) -> None:
        self._run(self.planner.delete_filter(flt))

    def _count(self, flt: Filter | None) -> int:
        return self._run(self.planner.count(flt))

    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        return self._run(self.planner.scan_page(cursor, limit, include_vectors, include_payload))

    def _explain(self, flt: Filter) -> str:
        return self.planner.explain(flt)
