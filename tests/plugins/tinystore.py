"""A deliberately tiny third-party backend: brute-force numpy over dicts.

It is registered through the ``edgevec.backends`` entry-point group by ``tests/conftest.py`` and
runs the whole conformance suite in the core session, proving the suite and the registry work
for a backend edgevec itself does not ship.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgevec.base import BaseCollection, BaseStore, PreparedQuery, PreparedUpsert
from edgevec.capabilities import Capabilities
from edgevec.errors import CollectionNotFoundError
from edgevec.filters import Filter
from edgevec.payloads import copy_payload
from edgevec.testing.oracle import exact_scores, matches
from edgevec.types import CollectionSpec, Hit, Hits, Record


class TinyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = "tiny"


class TinyCollection(BaseCollection):
    backend: ClassVar[str] = "tiny"

    def __init__(self, spec: CollectionSpec) -> None:
        # No "not" operator: exercises FilterNotSupportedError in the suite.
        caps = TinyStore.capabilities
        super().__init__(spec, caps)
        self.rows: dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]] = {}

    def _upsert(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):  # as a remote engine would
            for rid, vec, pay in zip(chunk.ids, chunk.vectors, chunk.payloads):
                self.rows[rid] = (vec.copy(), pay)

    def _allowed(self, flt: Filter | None) -> list[str]:
        return [rid for rid, (_, pay) in self.rows.items() if matches(flt, pay)]

    def _query(self, q: PreparedQuery) -> list[Hits]:
        ids = self._allowed(q.filter)
        out = []
        for vec in q.vectors:
            if not ids:
                out.append(Hits())
                continue
            mat = np.stack([self.rows[i][0] for i in ids])
            scores = exact_scores(mat, vec, self.metric)
            order = np.argsort(-scores, kind="stable")[: q.k]
            out.append(
                Hits(
                    Hit(
                        ids[j],
                        float(scores[j]),
                        copy_payload(self.rows[ids[j]][1]) if q.include_payload else {},
                        self.rows[ids[j]][0].copy() if q.include_vectors else None,
                    )
                    for j in order
                )
            )
        return out

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return [
            Record(
                i,
                self.rows[i][0].copy() if include_vectors else None,
                copy_payload(self.rows[i][1]),
            )
            for i in ids
            if i in self.rows
        ]

    def _delete_ids(self, ids: list[str]) -> None:
        for i in ids:
            self.rows.pop(i, None)

    def _delete_filter(self, flt: Filter) -> None:
        self._delete_ids(self._allowed(flt))

    def _count(self, flt: Filter | None) -> int:
        return len(self._allowed(flt))

    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        rows = dict(self.rows)  # one atomic copy: other threads write meanwhile
        after = [i for i in sorted(rows) if cursor is None or i > cursor]
        page = [
            Record(
                i,
                rows[i][0].copy() if include_vectors else None,
                copy_payload(rows[i][1]) if include_payload else {},
            )
            for i in after[:limit]
        ]
        return page, after[limit - 1] if len(after) > limit else None


class TinyStore(BaseStore):
    backend: ClassVar[str] = "tiny"
    capabilities: ClassVar[Capabilities] = Capabilities(
        filter_ops=frozenset(
            {"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "exists", "and", "or"}
        ),
        max_batch=7,  # tiny on purpose: the write hook must split batches
        declared_fields=True,  # kept on the spec, which lives as long as the store
    )
    Options = TinyOptions

    def __init__(self, options: BaseModel) -> None:
        super().__init__(options)
        self.collections: dict[str, TinyCollection] = {}

    def _list_collections(self) -> list[str]:
        return sorted(self.collections)

    def _close(self) -> None:
        self.collections.clear()

    def _create(self, spec: CollectionSpec) -> TinyCollection:
        coll = self.collections[spec.name] = TinyCollection(spec)
        return coll

    def _open(self, name: str) -> TinyCollection:
        try:
            return self.collections[name]
        except KeyError:
            raise CollectionNotFoundError(f"no collection named {name!r}") from None

    def _drop(self, name: str) -> None:
        del self.collections[name]
