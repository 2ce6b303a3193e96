"""Everything a collection does, as plans, and the parsing of what Weaviate returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from weaviate.classes.config import DataType
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter as WFilter
from weaviate.classes.query import MetadataQuery

from edgevec import scores
from edgevec.backends.weaviate.codec import (
    PROP_ID,
    PROP_PAYLOAD,
    VECTOR_NAME,
    class_name,
    object_properties,
    object_uuid,
    typed_property,
)
from edgevec.backends.weaviate.filters import (
    MATCH_ALL,
    Where,
    compile_where,
    render_where,
    to_client_filter,
)
from edgevec.backends.weaviate.schema import config_call
from edgevec.driver import Call, Gather, Plan, single
from edgevec.errors import BackendError, PartialWriteError
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.scores import Reported
from edgevec.types import CollectionSpec, Hit, Hits, Metric, Record

ID_CHUNK = 1_000


_REPORTED: dict[Metric, Reported] = {
    "cosine": "cosine_distance",
    "dot": "negated",
    "l2": "squared_distance",
}


def to_score(distance: float, metric: Metric) -> float:
    """edgevec's score from a Weaviate distance (see the module docstring)."""
    return scores.to_score(distance, _REPORTED[metric])


class Core:
    """Planning and parsing for one collection; holds the class's property names as last seen
    (refreshed when a write or filter needs one it does not list)."""

    __slots__ = ("cls", "metric", "name", "props")

    def __init__(self, spec: CollectionSpec, props: set[str]) -> None:
        self.name = spec.name
        self.cls = class_name(spec.name)
        self.metric: Metric = spec.metric
        self.props = set(props)

    def _call(self, method: str, kwargs: dict[str, Any], verb: str) -> Call[Any]:
        return Call(method, kwargs, f"{verb} in collection {self.name!r}", on=self.cls)

    def _refresh(self) -> Plan[None]:
        config = yield config_call(self.name)
        self.props = {p.name for p in config.properties}

    def _ensure_properties(self, needed: Mapping[str, DataType]) -> Plan[None]:
        if all(n in self.props for n in needed):
            return
        yield from self._refresh()  # another client may have added them meanwhile
        for name in sorted(n for n in needed if n not in self.props):
            try:
                yield self._call(
                    "config.add_property",
                    {"prop": typed_property(name, needed[name])},
                    "add property",
                )
            except BackendError:
                yield from self._refresh()  # lost a race with another writer?
                if name not in self.props:
                    raise
            self.props.add(name)

    def upsert(self, batch: PreparedUpsert) -> Plan[tuple[dict[str, str], BaseException | None]]:
        """Write ``batch``; returns the rejected ids with Weaviate's message for each (and the
        client's exception when it rejected them all), so a caller can go on with the next
        chunk and report every rejection at once."""
        needed: dict[str, DataType] = {}
        objects = [
            DataObject(
                properties=object_properties(rid, payload, needed),
                uuid=object_uuid(rid),
                vector={VECTOR_NAME: vec},
            )
            for rid, vec, payload in zip(batch.ids, batch.vectors.tolist(), batch.payloads)
        ]
        yield from self._ensure_properties(needed)
        try:
            result = yield self._call("data.insert_many", {"objects": objects}, "upsert")
        except PartialWriteError as err:  # every object failed: the client raises, without indices
            cause = err.__cause__
            return dict.fromkeys(batch.ids, str(getattr(cause, "message", err))), cause
        return {batch.ids[i]: str(e.message) for i, e in sorted(result.errors.items())}, None

    def where(self, flt: Filter | None) -> Plan[Where]:
        if flt is None:
            return True
        where, missing = compile_where(flt, self.props)
        if missing:
            yield from self._refresh()
            where, _ = compile_where(flt, self.props)
        return where

    def explain(self, flt: Filter) -> str:
        return render_where(compile_where(flt, self.props)[0])

    def query(self, q: PreparedQuery) -> Plan[list[Hits]]:
        where = yield from self.where(q.filter)
        if where is False:
            return [Hits() for _ in range(len(q.vectors))]
        filters = None if where is True else to_client_filter(where)
        props = [PROP_ID, PROP_PAYLOAD] if q.include_payload else [PROP_ID]
        searches: list[Plan[Any]] = []
        for vec in q.vectors.tolist():
            kwargs = {
                "near_vector": vec,
                "limit": q.k,
                "filters": filters,
                "target_vector": VECTOR_NAME,
                "include_vector": [VECTOR_NAME] if q.include_vectors else False,
                "return_metadata": MetadataQuery(distance=True),
                "return_properties": props,
            }
            searches.append(single(self._call("query.near_vector", kwargs, "query")))
        # One request per vector, all in flight at once on the async client.
        results: list[Any] = yield Gather(searches)
        return [self._hits(result.objects, q) for result in results]

    def _hits(self, objects: Any, q: PreparedQuery) -> Hits:
        hits = []
        for obj in objects:
            distance = obj.metadata.distance
            if distance is None:
                raise BackendError(f"Weaviate returned no distance in collection {self.name!r}")
            rid, payload, vector = _unpack(obj, q.include_payload, q.include_vectors)
            hits.append(Hit(rid, to_score(float(distance), self.metric), payload, vector))
        return Hits(hits)

    def get(self, ids: list[str], include_vectors: bool) -> Plan[list[Record]]:
        found: dict[str, Record] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), ID_CHUNK):
            chunk = unique[start : start + ID_CHUNK]
            kwargs = {
                "filters": WFilter.by_id().contains_any([object_uuid(i) for i in chunk]),
                "limit": len(chunk),
                "include_vector": [VECTOR_NAME] if include_vectors else False,
                "return_properties": [PROP_ID, PROP_PAYLOAD],
            }
            result = yield self._call("query.fetch_objects", kwargs, "get")
            for record in (_record(o, True, include_vectors) for o in result.objects):
                found[record.id] = record
        return [found[i] for i in ids if i in found]

    def scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> Plan[tuple[list[Record], str | None]]:
        # Weaviate's cursor API: objects in uuid order after the last uuid seen (the cursor).
        kwargs = {
            "limit": limit,
            "after": cursor,
            "include_vector": [VECTOR_NAME] if include_vectors else False,
            "return_properties": [PROP_ID, PROP_PAYLOAD] if include_payload else [PROP_ID],
        }
        result = yield self._call("query.fetch_objects", kwargs, "scan")
        objects = result.objects
        page = [_record(obj, include_payload, include_vectors) for obj in objects]
        return page, str(objects[-1].uuid) if len(objects) == limit else None

    def _delete(self, where: dict[str, Any]) -> Plan[int]:
        """Delete everything ``where`` matches; Weaviate deletes at most 10,000 per request."""
        filters = to_client_filter(where)
        deleted = 0
        while True:
            result = yield self._call("data.delete_many", {"where": filters}, "delete")
            if result.failed:
                raise BackendError(
                    f"Weaviate failed to delete {result.failed} of {result.matches} objects in "
                    f"collection {self.name!r}"
                )
            deleted += int(result.successful)
            if not result.matches or not result.successful:
                return deleted

    def delete_ids(self, ids: list[str]) -> Plan[None]:
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), ID_CHUNK):
            uuids = [object_uuid(i) for i in unique[start : start + ID_CHUNK]]
            where = {"operator": "ContainsAny", "path": ["_id"], "valueTextArray": uuids}
            yield from self._delete(where)

    def delete_filter(self, flt: Filter) -> Plan[None]:
        where = yield from self.where(flt)
        if where is not False:
            yield from self._delete(MATCH_ALL if where is True else where)

    def count(self, flt: Filter | None) -> Plan[int]:
        where = yield from self.where(flt)
        if where is False:
            return 0
        kwargs = {
            "total_count": True,
            "filters": None if where is True else to_client_filter(where),
        }
        result = yield self._call("aggregate.over_all", kwargs, "count")
        return int(result.total_count or 0)


def _unpack(
    obj: Any, include_payload: bool, include_vectors: bool
) -> tuple[str, dict[str, Any], Any]:
    """``(record id, payload, vector)`` of a returned Weaviate object."""
    props = obj.properties or {}
    rid = props.get(PROP_ID)
    if not isinstance(rid, str):  # written by another tool: its uuid is all there is
        rid = str(obj.uuid)
    payload: dict[str, Any] = {}
    if include_payload and isinstance(props.get(PROP_PAYLOAD), str):
        payload = orjson.loads(props[PROP_PAYLOAD])
    vector = None
    if include_vectors:
        raw = (obj.vector or {}).get(VECTOR_NAME)
        vector = None if raw is None else np.asarray(raw, dtype=np.float32)
    return rid, payload, vector


def _record(obj: Any, include_payload: bool, include_vectors: bool) -> Record:
    rid, payload, vector = _unpack(obj, include_payload, include_vectors)
    return Record(rid, vector, payload)
