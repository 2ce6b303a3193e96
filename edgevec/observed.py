"""Telemetry for any store: each collection call measured at the hook seam, whatever the engine.

:class:`TelemetryStore` wraps a store (a backend, a cached store, a router's region) so every
collection hook runs inside :func:`edgevec.telemetry.observe`: one span per call (when the
application installed a tracer provider) with backend, region, collection, operation, ``k`` and
the number of hits, plus the duration histogram and the error counter. In-process engines
(FAISS) make no driver calls, so the hooks, not the driver, are where every backend is seen.
Opt in with ``telemetry = true`` in a store's config, or wrap a store in code.
``scripts/unasync.py`` generates :mod:`edgevec.aobserved` from this file.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import numpy as np

from edgevec.base import BaseCollection, BaseStore
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.telemetry import Observation, observe
from edgevec.types import ArrayHits, Hits, Record
from edgevec.wrapped import WrappedCollection, WrappedStore

__all__ = ["TelemetryCollection", "TelemetryStore"]


class TelemetryStore(WrappedStore):
    """``store`` with every collection call measured; ``region`` names it in a router."""

    def __init__(self, store: BaseStore, *, region: str | None = None) -> None:
        super().__init__(store)
        self.region = region

    def _wrap(self, coll: BaseCollection) -> BaseCollection:
        return TelemetryCollection(coll, region=self.region)


class TelemetryCollection(WrappedCollection):
    """A collection whose hooks each record one observation (see :func:`observe`)."""

    def __init__(self, inner: BaseCollection, *, region: str | None = None) -> None:
        super().__init__(inner)
        self.region = region

    def _observe(self, operation: str, **details: int) -> AbstractContextManager[Observation]:
        return observe(
            operation, backend=self.backend, collection=self.name, region=self.region, **details
        )

    def _query(self, q: PreparedQuery) -> list[Hits]:
        with self._observe("query", k=q.k, queries=len(q.vectors)) as seen:
            rows = self.inner._query(q)
            seen.hits = sum(map(len, rows))
            return rows

    def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        with self._observe("query_arrays", k=q.k, queries=len(q.vectors)) as seen:
            found = self.inner._query_arrays(q)
            seen.hits = int(np.count_nonzero(~np.isnan(found.scores)))
            return found

    def _upsert(self, batch: PreparedUpsert) -> None:
        with self._observe("upsert", records=len(batch.ids)):
            self.inner._upsert(batch)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        with self._observe("get", records=len(ids)) as seen:
            found = self.inner._get(ids, include_vectors)
            seen.hits = len(found)
            return found

    def _delete_ids(self, ids: list[str]) -> None:
        with self._observe("delete", records=len(ids)):
            self.inner._delete_ids(ids)

    def _delete_filter(self, flt: Filter) -> None:
        with self._observe("delete"):
            self.inner._delete_filter(flt)

    def _count(self, flt: Filter | None) -> int:
        with self._observe("count"):
            return self.inner._count(flt)
