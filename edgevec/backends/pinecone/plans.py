"""Everything a collection does, as plans over one namespace."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from edgevec.backends.pinecone.codec import decode_metadata, encode_metadata, record_id, vector_id
from edgevec.backends.pinecone.filters import compile_filter, render_filter
from edgevec.backends.pinecone.limits import (
    LIST_PAGE,
    MAX_IDS_PER_REQUEST,
    MAX_METADATA_BYTES,
    MAX_REQUEST_BYTES,
)
from edgevec.backends.pinecone.space import Space, Vector
from edgevec.backends.pinecone.steps import (
    Row,
    chunks_by_size,
    fetch_chunks,
    plan_wait,
    response_lsn,
)
from edgevec.driver import Call, Gather, Plan, single
from edgevec.errors import BackendError, EdgevecError, InvalidInputError, PartialWriteError
from edgevec.filters import Filter
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.types import CollectionSpec, Hit, Hits, Record

if TYPE_CHECKING:
    from edgevec.backends.pinecone.catalog import Store


class Collection:
    """Everything a collection does, as plans over one namespace."""

    def __init__(self, store: Store, spec: CollectionSpec, space: Space) -> None:
        self.store = store
        self.opts = store.opts
        self.spec = spec
        self.space = space
        self.ns = store.namespace(spec.name)
        self.capabilities = store.capabilities()

    # -- writes --------------------------------------------------------------------------

    def rows(self, batch: PreparedUpsert) -> list[Row]:
        """Request bodies for every record, validated before anything is sent."""
        stored, norms = self.space.rows(batch.vectors)
        values = stored.tolist()
        out: list[Row] = []
        for i, (rid, payload) in enumerate(zip(batch.ids, batch.payloads, strict=True)):
            vid = vector_id(rid)
            metadata = encode_metadata(
                payload,
                original_id=rid if vid.startswith("~h:") else None,
                norm=None if norms is None else float(norms[i]),
            )
            size = len(orjson.dumps(metadata))
            if size > MAX_METADATA_BYTES:
                raise InvalidInputError(
                    f"payload of {rid!r} needs {size} bytes of Pinecone metadata; Pinecone "
                    f"accepts at most 40 KB per record (edgevec keeps {MAX_METADATA_BYTES})"
                )
            body = {"id": vid, "values": values[i], "metadata": metadata}
            out.append(Row(rid, vid, body, len(orjson.dumps(body))))
        return out

    def upsert(self, batch: PreparedUpsert) -> Plan[None]:
        rows = self.rows(batch)
        written: list[str] = []
        committed: int | None = None
        for chunk in chunks_by_size(rows, self.opts.batch_size, MAX_REQUEST_BYTES):
            try:
                response = yield Call(
                    "upsert",
                    {"vectors": [r.body for r in chunk], "namespace": self.ns},
                    f"upsert {len(chunk)} records into {self.spec.name!r}",
                )
                count = getattr(response, "upserted_count", len(chunk))
                if count != len(chunk):
                    raise BackendError(
                        f"Pinecone acknowledged {count} of {len(chunk)} records in one request"
                    )
            except EdgevecError as err:
                if not written:
                    raise
                rest = [r.id for r in rows[len(written) :]]
                raise PartialWriteError(
                    f"upsert into {self.spec.name!r} failed after {len(written)} of {len(rows)} "
                    f"records were acknowledged (first written {written[0]!r}, first not "
                    f"written {rest[0]!r}): {err}",
                    written,
                    dict.fromkeys(rest, f"in or after the failed request: {err}"),
                ) from err
            written.extend(r.id for r in chunk)
            lsn = response_lsn(response, "committed")
            if lsn is not None:
                committed = lsn if committed is None else max(committed, lsn)
        if self.opts.read_your_writes and rows:
            yield from self.plan_wait_upserted(rows, committed)

    def plan_wait_upserted(self, rows: list[Row], committed: int | None) -> Plan[None]:
        what = f"the upsert into {self.spec.name!r}"
        timeout = self.opts.consistency_timeout
        start = time.monotonic()
        if committed is not None:  # queries have caught up once they report that position
            probe = {
                "top_k": 1,
                "vector": rows[0].body["values"],
                "namespace": self.ns,
                "include_values": False,
                "include_metadata": False,
            }
            for pause in plan_wait(what, timeout):
                response = yield Call("query", probe, "check that the upsert is visible")
                reconciled = response_lsn(response, "reconciled")
                if reconciled is None:
                    break  # no positions reported after all: compare records instead
                if reconciled >= committed:
                    return
                yield pause
        pending = {r.vid: r.body for r in rows}
        for pause in plan_wait(what, timeout - (time.monotonic() - start)):
            for chunk in fetch_chunks(list(pending)):
                response = yield Call(
                    "fetch",
                    {"ids": chunk, "namespace": self.ns},
                    "check that the upsert is visible",
                    missing_ok=True,
                )
                for vid, vec in (response.vectors if response is not None else {}).items():
                    body = pending.get(vid)
                    if body is not None and _same(vec, body):
                        del pending[vid]
            if not pending:
                return
            yield pause

    def delete_ids(self, ids: list[str]) -> Plan[None]:
        vids = list(dict.fromkeys(vector_id(i) for i in ids))
        for start in range(0, len(vids), MAX_IDS_PER_REQUEST):
            chunk = vids[start : start + MAX_IDS_PER_REQUEST]
            yield Call(
                "delete",
                {"ids": chunk, "namespace": self.ns},
                f"delete {len(chunk)} records from {self.spec.name!r}",
                missing_ok=True,
            )
        if self.opts.read_your_writes:
            for pause in plan_wait(
                f"the deletion in {self.spec.name!r}", self.opts.consistency_timeout
            ):
                left = 0
                for chunk in fetch_chunks(vids):
                    response = yield Call(
                        "fetch",
                        {"ids": chunk, "namespace": self.ns},
                        "check that the delete is visible",
                        missing_ok=True,
                    )
                    left += 0 if response is None else len(response.vectors)
                if not left:
                    return
                yield pause

    def delete_filter(self, flt: Filter) -> Plan[None]:
        compiled = compile_filter(flt)
        probe = {"filter": compiled, "namespace": self.ns, "limit": 1}
        if self.opts.read_your_writes:  # a delete it could not confirm must not start at all
            yield from self.metadata_page(probe, f"delete by filter from {self.spec.name!r}")
        yield Call(
            "delete",
            {"filter": compiled, "namespace": self.ns},
            f"delete by filter from {self.spec.name!r}",
            missing_ok=True,
        )
        if self.opts.read_your_writes:
            for pause in plan_wait(
                f"the deletion in {self.spec.name!r}", self.opts.consistency_timeout
            ):
                page = yield from self.metadata_page(probe, "check that the delete is visible")
                if page is None or not page.vectors:
                    return
                yield pause

    # -- reads ---------------------------------------------------------------------------

    def query(self, q: PreparedQuery) -> Plan[list[Hits]]:
        compiled = compile_filter(q.filter)
        with_values = q.include_vectors or self.space.rescore
        searches: list[Plan[Any]] = []
        for row in q.vectors:
            kwargs: dict[str, Any] = {
                "top_k": q.k,
                "vector": self.space.query(row),
                "namespace": self.ns,
                "include_values": with_values,
                "include_metadata": True,
            }
            if compiled is not None:
                kwargs["filter"] = compiled
            searches.append(single(Call("query", kwargs, f"query {self.spec.name!r}")))
        # One request per vector, in flight together (async client, or the sync one's threads).
        responses: list[Any] = yield Gather(searches)
        return [self.hits(r.matches, row, q) for r, row in zip(responses, q.vectors, strict=True)]

    def hits(self, matches: Iterable[Any], row: Vector, q: PreparedQuery) -> Hits:
        found: list[Hit] = []
        for match in matches:
            payload, side = decode_metadata(match.metadata)
            values = np.asarray(match.values, dtype=np.float32) if match.values else None
            vector = None
            if q.include_vectors and values is not None:
                vector = self.space.restore(match.values, side)
            found.append(
                Hit(
                    record_id(match.id, side),
                    self.space.score(float(match.score), row, values),
                    payload if q.include_payload else {},
                    vector,
                )
            )
        if self.space.rescore:
            found.sort(key=lambda h: -h.score)
        return Hits(found)

    def explain(self, flt: Filter) -> str:
        return render_filter(flt)

    def get(self, ids: list[str], include_vectors: bool) -> Plan[list[Record]]:
        vids = [vector_id(i) for i in ids]
        stored = yield from self.fetch(list(dict.fromkeys(vids)), "get records")
        return [self.record(stored[vid], include_vectors, True) for vid in vids if vid in stored]

    def scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> Plan[tuple[list[Record], str | None]]:
        # ``GET /vectors/list`` pages through the namespace's ids in order (at most 100 a
        # call; the cursor is its pagination token), then the page's records are fetched.
        vids: list[str] = []
        token = cursor
        while len(vids) < limit:
            listed = yield Call(
                "list_paginated",
                {
                    "namespace": self.ns,
                    "limit": min(LIST_PAGE, limit - len(vids)),
                    "pagination_token": token,
                },
                f"scan {self.spec.name!r}",
                missing_ok=True,  # no namespace yet: an empty collection
            )
            if listed is not None:
                vids.extend(item.id for item in listed.vectors)
            token = listed.pagination.next if listed and listed.pagination else None
            if not token:
                break
        stored = yield from self.fetch(vids, "scan")
        page = [
            self.record(stored[vid], include_vectors, include_payload)
            for vid in vids
            if vid in stored  # deleted since it was listed
        ]
        return page, token or None

    def fetch(self, vids: list[str], action: str) -> Plan[dict[str, Any]]:
        """The stored vectors of ``vids`` by id (absent ones left out)."""
        stored: dict[str, Any] = {}
        for chunk in fetch_chunks(vids):
            response = yield Call(
                "fetch",
                {"ids": chunk, "namespace": self.ns},
                f"{action} in {self.spec.name!r}",
                missing_ok=True,
            )
            if response is not None:
                stored.update(response.vectors)
        return stored

    def record(self, vec: Any, include_vectors: bool, include_payload: bool) -> Record:
        """A fetched vector as the record that was written."""
        payload, side = decode_metadata(vec.metadata)
        vector = self.space.restore(vec.values, side) if include_vectors else None
        return Record(record_id(vec.id, side), vector, payload if include_payload else {})

    def count(self, flt: Filter | None) -> Plan[int]:
        if flt is None:
            stats = yield Call("describe_index_stats", {}, f"count {self.spec.name!r}")
            summary = stats.namespaces.get(self.ns)
            return 0 if summary is None else int(summary.vector_count)
        compiled = compile_filter(flt)
        # Pages stay well under Pinecone's 4 MB response limit: a page carries values too.
        limit = min(1000, max(10, 3_000_000 // (12 * self.space.index_dim + 2_000)))
        total = 0
        token: str | None = None
        while True:
            page = yield from self.metadata_page(
                {
                    "filter": compiled,
                    "namespace": self.ns,
                    "limit": limit,
                    "pagination_token": token,
                },
                f"count {self.spec.name!r} by filter",
            )
            if page is None:
                return total
            total += len(page.vectors)
            token = page.pagination.next if page.pagination is not None else None
            if not token:
                return total

    def metadata_page(self, kwargs: dict[str, Any], action: str) -> Plan[Any]:
        """One ``fetch_by_metadata`` page, or ``None`` when the namespace does not exist.

        A 404 alone does not say which: Pinecone answers it for an absent namespace, and a
        server without that endpoint answers it for every call. Reading a 404 as "no records"
        once made ``count(filter)`` report 0 over hundreds of matches. So a 404 is checked
        against the index stats, and where the namespace holds records the count cannot be
        measured: :class:`BackendError`, never a guess.
        """
        page = yield Call("fetch_by_metadata", kwargs, action, missing_ok=True)
        if page is not None:
            return page
        stats = yield Call("describe_index_stats", {}, action)
        summary = stats.namespaces.get(self.ns)
        if summary is None or not int(summary.vector_count):
            return None
        raise BackendError(
            f"could not {action}: the server answered 404 to fetch_by_metadata although the "
            f"namespace holds {int(summary.vector_count)} records; it lacks that endpoint, so "
            "records matching a filter cannot be counted or confirmed"
        )


def _same(stored: Any, body: Mapping[str, Any]) -> bool:
    """Does a fetched vector equal what was written (values and metadata)?"""
    values = np.asarray(stored.values, dtype=np.float32)
    expected = np.asarray(body["values"], dtype=np.float32)
    return bool(np.array_equal(values, expected)) and dict(stored.metadata or {}) == dict(
        body["metadata"]
    )
