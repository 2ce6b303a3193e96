"""Request building and response parsing for one collection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qdrant_client import models

from edgevec.backends._qdrant_codec import RESERVED_KEY, point_id, split_payload, vector_out
from edgevec.backends.qdrant.filters import compile_filter, compile_present, render_filter
from edgevec.backends.qdrant.options import QdrantCollectionOptions, QdrantOptions
from edgevec.backends.qdrant.steps import call, ignore
from edgevec.driver import Plan
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.scores import Reported, to_score
from edgevec.search_params import SearchParams
from edgevec.types import CollectionSpec, Hit, Hits, Metric, Record

# Qdrant reports Euclid as the distance ‖a-b‖ (root taken); Cosine and Dot as similarities.
_REPORTED: dict[Metric, Reported] = {"cosine": "similarity", "dot": "similarity", "l2": "distance"}


class Translator:
    """Pure request building and response parsing for one collection."""

    __slots__ = ("exact", "hnsw_ef", "local", "metric", "name")

    def __init__(self, spec: CollectionSpec, opts: QdrantCollectionOptions, store: QdrantOptions):
        self.name = spec.name
        self.metric: Metric = spec.metric
        self.local = store.local
        self.exact = store.exact if opts.exact is None else opts.exact
        self.hnsw_ef = opts.hnsw_ef

    def _where(self, verb: str) -> str:
        return f"{verb} in Qdrant collection {self.name!r}"

    def upsert(self, batch: PreparedUpsert) -> Plan[None]:
        metas: list[dict[str, Any]] = [{"id": rid} for rid in batch.ids]
        if self.metric == "cosine":
            norms = np.linalg.norm(batch.vectors.astype(np.float64), axis=1)
            for meta, norm in zip(metas, norms.tolist(), strict=True):
                meta["norm"] = norm
        points = models.Batch(
            ids=[point_id(rid) for rid in batch.ids],
            vectors=batch.vectors.tolist(),
            payloads=[{**p, RESERVED_KEY: m} for p, m in zip(batch.payloads, metas, strict=True)],
        )
        kwargs = {"collection_name": self.name, "points": points, "wait": True}
        return call("upsert", kwargs, ignore, self._where("upsert"))

    def _search_params(self, params: SearchParams) -> models.SearchParams | None:
        if self.local:  # local mode is always exact, and warns about search params
            return None
        exact = params.exact or self.exact
        hnsw_ef = params.ef or self.hnsw_ef
        if not exact and hnsw_ef is None:
            return None
        return models.SearchParams(exact=bool(exact), hnsw_ef=None if exact else hnsw_ef)

    def query(self, q: PreparedQuery) -> Plan[list[Hits]]:
        search = self._search_params(q.params)
        qfilter = compile_filter(q.filter)
        with_payload = _payload_selector(q.include_payload)
        requests = [
            models.QueryRequest(
                query=vec,
                filter=qfilter,
                params=search,
                limit=q.k,
                with_payload=with_payload,
                with_vector=q.include_vectors,
            )
            for vec in q.vectors.tolist()
        ]
        kwargs = {"collection_name": self.name, "requests": requests}

        def parse(responses: list[models.QueryResponse]) -> list[Hits]:
            return [self._hits(r.points, q) for r in responses]

        return call("query_batch_points", kwargs, parse, self._where("query"))

    def _score(self, raw: float) -> float:
        return to_score(raw, _REPORTED[self.metric])

    def _hits(self, points: Sequence[models.ScoredPoint], q: PreparedQuery) -> Hits:
        hits = []
        for p in points:
            user, meta = split_payload(p.payload)
            hits.append(
                Hit(
                    str(meta.get("id", p.id)),
                    self._score(p.score),
                    user if q.include_payload else {},
                    vector_out(p.vector, meta) if q.include_vectors else None,
                )
            )
        return Hits(hits)

    def explain(self, flt: Filter) -> str:
        return render_filter(flt)

    def get(self, ids: list[str], include_vectors: bool) -> Plan[list[Record]]:
        kwargs = {
            "collection_name": self.name,
            "ids": list(dict.fromkeys(point_id(i) for i in ids)),
            "with_payload": True,
            "with_vectors": include_vectors,
        }

        def parse(points: list[models.Record]) -> list[Record]:
            found = {r.id: r for r in (_record(p, include_vectors) for p in points)}
            return [found[i] for i in ids if i in found]

        return call("retrieve", kwargs, parse, self._where("get"))

    def scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> Plan[tuple[list[Record], str | None]]:
        # Scroll pages in point-id order; the cursor is the id of the next page's first point
        # (Qdrant resumes at the first id not below it, so a deleted one is no obstacle).
        kwargs = {
            "collection_name": self.name,
            "limit": limit,
            "offset": cursor,
            "with_payload": _payload_selector(include_payload),
            "with_vectors": include_vectors,
        }

        def parse(
            found: tuple[list[models.Record], models.ExtendedPointId | None],
        ) -> tuple[list[Record], str | None]:
            points, after = found
            page = [_record(p, include_vectors) for p in points]
            return page, None if after is None else str(after)

        return call("scroll", kwargs, parse, self._where("scan"))

    def delete_ids(self, ids: list[str]) -> Plan[None]:
        selector = models.PointIdsList(points=[point_id(i) for i in ids])
        kwargs = {"collection_name": self.name, "points_selector": selector, "wait": True}
        return call("delete", kwargs, ignore, self._where("delete"))

    def delete_filter(self, flt: Filter) -> Plan[None]:
        selector = models.FilterSelector(filter=compile_present(flt))
        kwargs = {"collection_name": self.name, "points_selector": selector, "wait": True}
        return call("delete", kwargs, ignore, self._where("delete"))

    @property
    def index(self) -> str:
        """Local mode scans every point; a server searches its HNSW graph."""
        return "flat" if self.local else "hnsw"

    def health(self) -> Plan[dict[str, str | int]]:
        """The collection's status as Qdrant reports it: green/yellow/red, optimizer state,
        segments and how many vectors its index covers yet."""

        def parse(info: models.CollectionInfo) -> dict[str, str | int]:
            optimizer = info.optimizer_status
            return {
                "status": str(getattr(info.status, "value", info.status)),
                "optimizer": str(getattr(optimizer, "error", getattr(optimizer, "value", ""))),
                "segments": int(info.segments_count or 0),
                "indexed_vectors": int(info.indexed_vectors_count or 0),
            }

        kwargs = {"collection_name": self.name}
        return call("get_collection", kwargs, parse, self._where("describe"))

    def count(self, flt: Filter | None) -> Plan[int]:
        kwargs = {"collection_name": self.name, "count_filter": compile_filter(flt), "exact": True}

        def parse(result: models.CountResult) -> int:
            return int(result.count)

        return call("count", kwargs, parse, self._where("count"))


def _payload_selector(include_payload: bool) -> bool | models.PayloadSelectorInclude:
    """The whole payload, or only edgevec's reserved entry (the original id, the norm)."""
    return True if include_payload else models.PayloadSelectorInclude(include=[RESERVED_KEY])


def _record(point: models.Record, include_vectors: bool) -> Record:
    user, meta = split_payload(point.payload)
    vec = vector_out(point.vector, meta) if include_vectors else None
    return Record(str(meta.get("id", point.id)), vec, user)
