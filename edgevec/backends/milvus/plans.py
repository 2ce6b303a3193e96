"""Everything a Milvus collection does, as plans the driver runs on either client.

Moved from the hand-written sync and async collections (one copy each) so the translation is
written once: the sync store runs these plans on ``MilvusClient``, the async store awaits them on
``AsyncMilvusClient``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from edgevec.backends.milvus.filters import compile_filter, ids_filter, quote
from edgevec.backends.milvus.options import MilvusIndexOptions, MilvusOptions
from edgevec.backends.milvus.rows import (
    build_rows,
    output_fields,
    parse_count,
    parse_hits,
    parse_record,
    parse_records,
)
from edgevec.backends.milvus.schema import ID, VECTOR, check_columns, search_params, short, widened
from edgevec.driver import Call, Plan
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.types import CollectionSpec, Hits, Metric, Record

QUERY_CHUNK = 1_000  # vectors per search request and ids per ``id in [...]`` expression


def _chunks(items: Any, size: int) -> Iterator[Any]:
    """Slices of a list or an array, at most ``size`` long."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Core:
    """Planning for one collection: request building and response parsing, no I/O."""

    __slots__ = ("fields", "max_batch", "metric", "name", "opts", "store")

    def __init__(
        self, spec: CollectionSpec, opts: MilvusIndexOptions, store: MilvusOptions, max_batch: int
    ) -> None:
        self.name = spec.name
        self.fields = spec.fields
        self.metric: Metric = spec.metric
        self.opts = opts
        self.store = store
        self.max_batch = max_batch

    def _call(self, method: str, what: str, **kwargs: Any) -> Call[Any]:
        return Call(method, {"collection_name": self.name, **kwargs}, f"{what} in {self.name!r}")

    def upsert(self, batch: PreparedUpsert) -> Plan[None]:
        """The whole batch, chunked to Milvus' request limit, then flushed where needed."""
        check_columns(batch, self.fields)
        for chunk in batch.chunks(self.max_batch):
            yield self._call("upsert", "upsert", data=build_rows(chunk, self.fields))
        yield from self._after_write()

    def _after_write(self) -> Plan[None]:
        if self.store.flush_writes():
            yield self._call("flush", "flush")

    def query(self, q: PreparedQuery) -> Plan[list[Hits]]:
        expr = (
            compile_filter(q.filter, self.fields, doubles=not self.store.lite)
            if q.filter is not None
            else ""
        )
        out: list[Hits] = []
        for part in _chunks(q.vectors, QUERY_CHUNK):
            params: dict[str, Any] | None = search_params(self.opts, self.metric, q.k, q.params)
            hits = yield from self._search(part, q, expr, params)
            allowed: int | None = None
            while q.filter is not None and short(hits, q.k):
                params = widened(self.opts, params or {})
                if params is None:
                    break
                if allowed is None:
                    allowed = yield from self.count(q.filter)
                    if not short(hits, min(q.k, allowed)):
                        break
                hits = yield from self._search(part, q, expr, params)
            out.extend(hits)
        return out

    def _search(self, part: Any, q: PreparedQuery, expr: str, params: Any) -> Plan[list[Hits]]:
        result = yield self._call(
            "search",
            "search",
            data=list(part),
            filter=expr,
            limit=q.k,
            output_fields=output_fields(q.include_payload, q.include_vectors),
            search_params=params,
            anns_field=VECTOR,
            consistency_level=self.store.consistency_level,
        )
        return parse_hits(result, self.metric, q)

    def get(self, ids: list[str], include_vectors: bool) -> Plan[list[Record]]:
        rows: list[Mapping[str, Any]] = []
        fields = output_fields(True, include_vectors)
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            found = yield self._call(
                "query",
                "get",
                filter=ids_filter(part),
                output_fields=fields,
                consistency_level=self.store.consistency_level,
            )
            rows.extend(found)
        return parse_records(rows, ids, include_vectors)

    def scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> Plan[tuple[list[Record], str | None]]:
        # Keyset pages on the primary key: the cursor is the last id returned, so each page
        # must be the smallest keys above it, in order. A server merges query results by
        # primary key (measured on 2.3.5, growing and sealed segments); Milvus Lite returns an
        # arbitrary subset unless asked with ``iterator``, the flag of pymilvus' own
        # query_iterator. Not on a server: there pymilvus drops the consistency level of an
        # ``iterator`` query, and a scan right after a write would miss it (measured).
        iterating = {"iterator": "True"} if self.store.lite else {}
        rows = yield self._call(
            "query",
            "scan",
            filter=f"{ID} > {quote(cursor or '')}",  # every id is non-empty
            output_fields=output_fields(include_payload, include_vectors),
            limit=limit,
            consistency_level=self.store.consistency_level,
            **iterating,
        )
        page = [parse_record(r, include_vectors) for r in rows]
        return page, page[-1].id if len(page) == limit else None

    def delete_ids(self, ids: list[str]) -> Plan[None]:
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            yield self._call("delete", "delete", filter=ids_filter(part))
        yield from self._after_write()

    def delete_filter(self, flt: Filter) -> Plan[None]:
        yield self._call(
            "delete", "delete", filter=compile_filter(flt, self.fields, doubles=not self.store.lite)
        )
        yield from self._after_write()

    def health(self) -> Plan[dict[str, str | int]]:
        """Milvus's own report: the vector index's build state and rows it covers (vs rows
        still pending), and whether the collection is loaded for search."""
        index = yield self._call("describe_index", "describe the index", index_name=VECTOR)
        loaded = yield self._call("get_load_state", "read the load state")
        state = loaded.get("state") if isinstance(loaded, Mapping) else loaded
        return {
            "index_state": str(index.get("state", "")),
            "indexed_rows": int(index.get("indexed_rows", 0)),
            "pending_index_rows": int(index.get("pending_index_rows", 0)),
            "load_state": str(getattr(state, "name", state)),
        }

    def count(self, flt: Filter | None) -> Plan[int]:
        rows = yield self._call(
            "query",
            "count",
            filter=compile_filter(flt, self.fields, doubles=not self.store.lite)
            if flt is not None
            else "",
            output_fields=["count(*)"],
            consistency_level=self.store.consistency_level,
        )
        return parse_count(rows)

    def explain(self, flt: Filter) -> str:
        return compile_filter(flt, self.fields, doubles=not self.store.lite)
