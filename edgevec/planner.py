"""The planner protocol: a backend's translation as pure functions from inputs to plans.

A plan (:data:`edgevec.driver.Plan`) describes the client calls to make; the driver runs it on
the sync client or awaits it on the async client, so translation is written once (see
:mod:`edgevec.planned`).
"""

from __future__ import annotations

from typing import Protocol

from edgevec.driver import Plan
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.types import Hits, Record

__all__ = ["Planner"]


class Planner(Protocol):
    """Turns validated inputs into plans; pure, no I/O (the store runs the plans)."""

    def upsert(self, batch: PreparedUpsert) -> Plan[object]:
        """A plan writing ``batch``: one ``max_batch`` chunk, or the whole batch when the
        collection's ``_upsert`` hands it over whole (a planner that chunks by itself)."""

    def query(self, q: PreparedQuery) -> Plan[list[Hits]]: ...
    def get(self, ids: list[str], include_vectors: bool) -> Plan[list[Record]]: ...
    def delete_ids(self, ids: list[str]) -> Plan[None]: ...
    def delete_filter(self, flt: Filter) -> Plan[None]: ...
    def count(self, flt: Filter | None) -> Plan[int]: ...
    def scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> Plan[tuple[list[Record], str | None]]:
        """A plan reading one page of a scan (see ``BaseCollection._scan_page``)."""

    def explain(self, flt: Filter) -> str: ...
