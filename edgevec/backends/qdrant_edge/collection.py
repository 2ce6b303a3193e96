"""One Qdrant Edge shard behind edgevec's collection API."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import orjson
import qdrant_edge as qe

from edgevec.backends._qdrant_codec import (
    RESERVED_KEY,
    check_reserved,
    point_id,
    split_payload,
    vector_out,
)
from edgevec.backends.qdrant_edge.errors import engine_error
from edgevec.backends.qdrant_edge.filters import compile_filter, render_filter
from edgevec.backends.qdrant_edge.options import QdrantEdgeIndexOptions
from edgevec.base import BaseCollection, PreparedQuery, PreparedUpsert
from edgevec.capabilities import Capabilities
from edgevec.errors import EdgevecError
from edgevec.filters import Cmp, Filter
from edgevec.payloads import check_floats_read_exactly
from edgevec.types import CollectionSpec, Hit, Hits, Record
from edgevec.vectors import Matrix, normalize_rows

__all__ = ["CAPABILITIES", "QdrantEdgeCollection"]

CAPABILITIES = Capabilities(
    max_batch=100_000, persistent=True, exact_int_bits=53, exact_floats=False, declared_fields=True
)
"""Ints beyond ±2**53 are refused (the engine compares payload numbers as doubles in ranges), and
so are floats the engine would read back one ulp off (it parses payloads from decimal text)."""

_ONLY_META = [RESERVED_KEY]  # payload selector: the original id (and norm) without the rest
_FILTER_CACHE = 256  # compiled filters kept per collection


def _engine_rows(mat: Matrix) -> list[Any]:
    """The rows of a matrix as the engine takes vectors, the cheapest way measured: each row's
    ``memoryview`` (no copy).

    The engine copies a vector element by element through Python's sequence protocol. A
    memoryview hands it one float at a time: writing points that is ~2x faster than ``tolist()``
    (which first builds a list of Python floats) and ~4x faster than a numpy row (a numpy scalar
    per element); in a query loop it measured 1-5 % of the whole call faster than ``tolist()``.
    (``Any``: the engine's stub says ``list[float]``; the binary reads any sequence of floats.)
    """
    # By index: iterating an ndarray costs ~1 µs more to set up, which a single query notices.
    # A memoryview carries its strides and format, so any layout and float type reads right.
    return [mat[i].data for i in range(len(mat))]


class QdrantEdgeCollection(BaseCollection):
    """A collection held by one ``EdgeShard``.

    No lock on the query path: the engine guards its shard itself. It releases the GIL while
    it searches, and its ``close`` waits for the calls in flight (measured on qdrant-edge-py
    0.9); a call that arrives after ``close`` gets the engine's "not initialized" error, which
    :meth:`_call` turns into the refusal (``StoreClosedError`` or ``CollectionNotFoundError``).
    So a drop removes the shard's files only once no call is using them. ``optimize`` holds the
    GIL while it builds.
    """

    backend: ClassVar[str] = "qdrant_edge"

    def __init__(
        self, spec: CollectionSpec, opts: QdrantEdgeIndexOptions, shard: qe.EdgeShard
    ) -> None:
        exact = opts.index == "flat"
        ann = frozenset() if exact else frozenset({"ef", "exact"})
        super().__init__(spec, CAPABILITIES.narrowed(exact=exact, search_params=ann))
        self.opts = opts
        self._shard = shard
        self._shutting = threading.Lock()
        self._refusal: EdgevecError | None = None  # set once the store closed or dropped it
        self._acorn = qe.AcornSearchParams(enable=True) if opts.acorn else None
        self._hnsw = opts.index == "hnsw"
        self._cosine = spec.metric == "cosine"
        # The engine reports Euclid as the distance ‖a-b‖, cosine and dot as similarities.
        self._sign = -1.0 if spec.metric == "l2" else 1.0
        self._default_params = self._search_params(False, None)
        self._filters: dict[bytes, tuple[qe.Filter, bool]] = {}
        self._last_filter: tuple[Filter, tuple[qe.Filter, bool]] | None = None
        self._unindexed_lock = threading.Lock()
        info = self._call("open", shard.info)
        self._unindexed = info.points_count - info.indexed_vectors_count
        """Records written since the last optimize (the automatic policy's measure)."""

    # -- engine calls -------------------------------------------------------------------------

    def _call(self, action: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on the open shard, its failure raised as an edgevec error (the refusal
        once the shard is closed)."""
        if self._refusal is not None:
            raise self._refused()
        try:
            return fn(*args)
        except Exception as exc:
            if self._refusal is not None:  # closed while this call was on its way in
                raise self._refused() from exc
            raise engine_error(exc, f"{action} in Qdrant Edge collection {self.name!r}") from exc

    def _refused(self) -> EdgevecError:
        assert self._refusal is not None
        return type(self._refusal)(str(self._refusal))

    def _update(self, action: str, op: qe.UpdateOperation) -> None:
        self._call(action, self._shard.update, op)

    # -- hooks --------------------------------------------------------------------------------

    def _upsert(self, batch: PreparedUpsert) -> None:
        if not batch.ids:
            return
        check_reserved(batch)  # the whole batch, before anything is sent
        check_floats_read_exactly(batch.payloads, "Qdrant Edge")
        metas: list[dict[str, Any]] = [{"id": rid} for rid in batch.ids]
        vectors = batch.vectors
        if self._cosine:  # the engine keeps unit vectors: keep the written length
            norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
            for meta, norm in zip(metas, norms.tolist(), strict=True):
                meta["norm"] = norm
            vectors = normalize_rows(vectors)  # the engine leaves norms below 1.2e-7 as they are
        points = [
            qe.Point(point_id(rid), vec, {**payload, RESERVED_KEY: meta})
            for rid, vec, payload, meta in zip(
                batch.ids, _engine_rows(vectors), batch.payloads, metas, strict=True
            )
        ]
        self._update("upsert", qe.UpdateOperation.upsert_points(points))
        with self._unindexed_lock:
            self._unindexed += len(points)
            due = (
                self.opts.optimize_after is not None and self._unindexed >= self.opts.optimize_after
            )
        if due and self._hnsw:
            self.optimize()

    def optimize(self) -> bool:
        """Build the HNSW graph over everything written so far (and merge, vacuum segments).

        Until a collection is optimized its searches are exact scans. The engine holds the GIL
        for the whole build, so every thread of the process (and an event loop) pauses: seconds
        for ~10k vectors, minutes at 60k x 784. Call it after a bulk load, at start-up, or let
        ``optimize_after`` do it. Returns whether the engine changed anything.
        """
        self._handle_state.check()
        with self._unindexed_lock:
            changed = bool(self._call("optimize", self._shard.optimize))
            self._unindexed = 0
        return changed

    def _search_params(self, exact: bool, ef: int | None) -> qe.SearchParams | None:
        ef = ef or self.opts.ef
        if not exact and ef is None and self._acorn is None:
            return None
        return qe.SearchParams(hnsw_ef=ef, exact=exact, acorn=self._acorn)

    def _compiled(self, flt: Filter) -> tuple[qe.Filter, bool]:
        """The engine filter for ``flt``, and whether it touches an undeclared field; cached,
        since applications repeat a few filters: the last one by identity (a filter object used
        again costs one ``is``), the others keyed by their JSON (``1`` and ``True`` differ there,
        though the filters compare equal in Python)."""
        last = self._last_filter  # one read: another thread may replace it
        if last is not None and last[0] is flt:  # filters are immutable: the same object again
            return last[1]
        key = orjson.dumps(flt.to_json())
        found = self._filters.get(key)
        if found is None:
            compiled = compile_filter(flt)
            assert compiled is not None
            fields = {node.field for node in flt.nodes() if isinstance(node, Cmp)}
            found = compiled, not fields <= self.spec.fields.keys()
            if len(self._filters) >= _FILTER_CACHE:
                self._filters.clear()
            self._filters[key] = found
        self._last_filter = flt, found  # holding ``flt`` keeps its id from being reused
        return found

    def _query(self, q: PreparedQuery) -> list[Hits]:
        """Searches; a filter on an undeclared field is answered by an exact scan.

        The engine plans a filtered HNSW search from its payload indexes: without one on a
        filtered field it walks the graph checking the filter, which measured recall@10 0.75 at
        20 % selectivity (1.0 with the field declared). So such queries scan the filtered
        records exactly unless they ask for a beam width (``ef``) themselves.
        """
        flt, exact = None, q.params.exact
        if q.filter is not None:
            flt, undeclared = self._compiled(q.filter)
            exact = exact or (undeclared and self._hnsw and q.params.ef is None)
        if exact or q.params.ef is not None:  # ef and exact: the only portable params
            params = self._search_params(exact, q.params.ef)
        else:
            params = self._default_params
        with_payload = True if q.include_payload else _ONLY_META
        vectors = normalize_rows(q.vectors) if self._cosine else q.vectors
        # Positional (~0.6 µs less than keywords), in qdrant-edge-py 0.9's order: limit, offset,
        # query, prefetches, with_vector, with_payload, filter, score_threshold, params.
        requests = [
            qe.QueryRequest(
                q.k,
                None,
                qe.Query.Nearest(vec),
                None,
                q.include_vectors,
                with_payload,
                flt,
                None,
                params,
            )
            for vec in _engine_rows(vectors)
        ]
        if len(requests) == 1:
            found = [self._call("query", self._shard.query, requests[0])]
        else:
            found = self._call("query", self._shard.query_batch, qe.QueryBatchRequest(requests))
        return [self._hits(points, q) for points in found]

    def _hits(self, points: Sequence[qe.ScoredPoint], q: PreparedQuery) -> Hits:
        sign = self._sign
        hits = []
        for p in points:
            # Each read of ``payload`` is a fresh dict, so the reserved entry is popped in place
            # (no copy); without include_payload the engine sent only that entry.
            payload = p.payload or {}
            meta = payload.pop(RESERVED_KEY)
            vector = vector_out(p.vector, meta) if q.include_vectors else None
            hits.append(Hit(meta["id"], sign * p.score + 0.0, payload, vector))  # +0.0: no -0.0
        return Hits(hits)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        wanted = list(dict.fromkeys(point_id(i) for i in ids))
        # qdrant-edge-py 0.9 requires both flags although its stub marks them optional.
        points = self._call("get", self._shard.retrieve, wanted, True, include_vectors)
        found: dict[str, Record] = {}
        for p in points:
            user, meta = split_payload(p.payload)
            rid = meta["id"]
            found[rid] = Record(rid, vector_out(p.vector, meta) if include_vectors else None, user)
        return [found[i] for i in ids if i in found]

    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        # Point-id order; the cursor is the next page's first point id, and the engine resumes at
        # the first id not below it, so a point deleted in between is no obstacle. The payload is
        # always read: it holds the caller's id.
        request = qe.ScrollRequest(
            offset=cursor, limit=limit, with_payload=True, with_vector=include_vectors
        )
        points, after = self._call("scan", self._shard.scroll, request)
        page = []
        for p in points:
            user, meta = split_payload(p.payload)
            vector = vector_out(p.vector, meta) if include_vectors else None
            page.append(Record(meta["id"], vector, user if include_payload else {}))
        return page, None if after is None else str(after)

    def _delete_ids(self, ids: list[str]) -> None:
        pids: list[qe.PointId] = list(dict.fromkeys(point_id(i) for i in ids))
        self._update("delete", qe.UpdateOperation.delete_points(pids))

    def _delete_filter(self, flt: Filter) -> None:
        compiled = compile_filter(flt)
        assert compiled is not None
        self._update("delete", qe.UpdateOperation.delete_points_by_filter(compiled))

    def _count(self, flt: Filter | None) -> int:
        request = qe.CountRequest(exact=True, filter=compile_filter(flt))
        return int(self._call("count", self._shard.count, request))

    def _explain(self, flt: Filter) -> str:
        text = render_filter(flt)
        if self._hnsw and self._compiled(flt)[1]:
            return f"{text}  [exact scan: a filtered field is not declared, so has no index]"
        return text

    # -- lifecycle ----------------------------------------------------------------------------

    def _shut(self, refusal: EdgevecError) -> None:
        """Refuse every later call with ``refusal`` and close the shard (the engine lets the
        calls in flight finish first)."""
        with self._shutting:
            if self._refusal is not None:
                return
            self._refusal = refusal
            try:
                self._shard.close()
            except Exception as exc:
                raise engine_error(exc, f"close Qdrant Edge collection {self.name!r}") from exc
