"""The planner protocol: a backend's translation as pure functions from inputs to plans.

A plan describes the client calls to make; a sync store runs it on the sync client and an async
store awaits it on the async client, so translation is written once (see :mod:`edgevec.planned`).
"""

from __future__ import annotations

from typing import Any, Protocol

from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert

__all__ = ["Planner"]


class Planner(Protocol):
    """Turns validated inputs into plans; pure, no I/O (the store runs the plans)."""

    def upsert(self, batch: PreparedUpsert) -> Any:
        """A plan writing ``batch``: one ``max_batch`` chunk, or the whole batch when the
        collection's ``_upsert`` hands it over whole (a planner that chunks by itself)."""

    def query(self, q: PreparedQuery) -> Any: ...
    def get(self, ids: list[str], include_vectors: bool) -> Any: ...
    def delete_ids(self, ids: list[str]) -> Any: ...
    def delete_filter(self, flt: Filter) -> Any: ...
    def count(self, flt: Filter | None) -> Any: ...
    def explain(self, flt: Filter) -> str: ...
