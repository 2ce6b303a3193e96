"""The base for collections that wrap another one: every hook goes to the wrapped collection.

A wrapper adds behaviour around a collection (an embedder, and later a cache or a router) and
must not lose any of the backend's rules. It inherits the public methods of
:class:`~edgevec.base.BaseCollection` (validation, the closed check) and forwards the hooks,
the write hook included, so the wrapped backend still chunks, flushes and reports partial
writes. It shares the wrapped handle's state: a closed store or a dropped collection refuses
the wrapper too. ``scripts/unasync.py`` generates :mod:`edgevec.awrapped` from this file.
"""

from __future__ import annotations

from edgevec.base import BaseCollection, PreparedQuery, PreparedUpsert
from edgevec.filters import Filter
from edgevec.types import ArrayHits, Hits, Record

__all__ = ["WrappedCollection"]


class WrappedCollection(BaseCollection):
    """A collection that forwards every hook to ``inner``; by itself, an identity wrapper."""

    def __init__(self, inner: BaseCollection) -> None:
        super().__init__(inner.spec, inner.capabilities)
        self.inner = inner
        self.backend = inner.backend  # type: ignore[misc]  # per instance: the wrapped backend
        self._handle_state = inner._handle_state

    def _upsert(self, batch: PreparedUpsert) -> None:
        self.inner._upsert(batch)

    def _query(self, q: PreparedQuery) -> list[Hits]:
        return self.inner._query(q)

    def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        return self.inner._query_arrays(q)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return self.inner._get(ids, include_vectors)

    def _delete_ids(self, ids: list[str]) -> None:
        self.inner._delete_ids(ids)

    def _delete_filter(self, flt: Filter) -> None:
        self.inner._delete_filter(flt)

    def _count(self, flt: Filter | None) -> int:
        return self.inner._count(flt)

    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        return self.inner._scan_page(cursor, limit, include_vectors, include_payload)

    def _explain(self, flt: Filter) -> str:
        return self.inner._explain(flt)
