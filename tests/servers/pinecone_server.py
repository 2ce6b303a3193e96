"""A loopback TEST server for Pinecone's data plane — not Pinecone, and no part of edgevec.

It answers the REST calls the official ``pinecone`` client makes to one serverless index
(``/vectors/upsert``, ``/query``, ``/vectors/fetch``, ``/vectors/fetch_by_metadata``,
``/vectors/delete``, ``/vectors/update``, ``/vectors/list``, ``/describe_index_stats``) plus the
control-plane ``GET /indexes/{name}``, with real brute-force search, so the unmodified client can
be tested end to end. What it models, and where each rule comes from:

* Pinecone's documentation: ``Api-Key`` header; namespaces (created by upsert; a delete in an
  absent namespace is a 404); at most 1000 vectors or 2 MB per upsert, 1000 ids per fetch or
  delete, ``topK`` up to 10,000, 40 KB of metadata per record, ids ASCII without NUL and at most
  512 characters; scores: cosine similarity, dot product, and the *squared* Euclidean distance
  (lower is better) for ``euclidean``; metadata values are strings, numbers (kept as 64-bit
  floats, so ``3`` reads back as ``3.0``), booleans or lists of strings; filters ``$eq $ne $gt
  $gte $lt $lte $in $nin $exists $and $or`` where a list field matches ``$eq``/``$in`` when any
  element does ("takes on both values").
* The client's own validation (``pinecone._internal.vector_factory``, citing the server source):
  a nested object or a list holding a non-string is a 400; ``null`` values are dropped on write.
* Observed behaviour reported by users of the live service: ``$ne`` matches only records where
  the field is present (deepset-ai/haystack-core-integrations#590). ``$nin`` is served the same
  way, and on a list field ``$ne``/``$nin`` match when *no* element is equal (MongoDB's rule,
  which Pinecone's filter language follows) — assumptions edgevec's compiler does not rely on
  for absent fields, and that the live test run checks for lists.
* Eventual consistency, optionally: with ``lag`` seconds, writes become visible that much later;
  writes answer ``x-pinecone-lsn-committed`` and queries ``x-pinecone-lsn-reconciled``, the
  headers the client reads into ``response_info`` (``lsn_committed`` / ``lsn_reconciled``).

Error bodies follow the data plane's ``{"code", "message", "details"}`` shape.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import numpy.typing as npt

from tests.servers.lifecycle import Startable

__all__ = ["IndexMetric", "PineconeTestServer", "Recorded", "matches_filter"]

IndexMetric = Literal["cosine", "dotproduct", "euclidean"]

MAX_UPSERT_VECTORS = 1000
MAX_UPSERT_BYTES = 2 * 1024 * 1024
MAX_IDS = 1000
MAX_TOP_K = 10_000
MAX_METADATA_BYTES = 40 * 1024
MAX_FILTER_VALUES = 10_000
MAX_ID_CHARS = 512
_OPERATORS = frozenset(
    {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$and", "$or"}
)
_GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 413: 3, 429: 8, 500: 13, 503: 14}


class RequestError(Exception):
    """An error answer: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Recorded:
    """One request as the server saw it (the API key replaced by whether it matched)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    size: int
    api_version: str | None
    key_ok: bool


@dataclass
class _Stored:
    values: npt.NDArray[np.float32]
    metadata: dict[str, Any]


@dataclass
class _State:
    namespaces: dict[str, dict[str, _Stored]] = field(default_factory=dict)
    lsn: int = 0
    applied: int = 0
    pending: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)


# ----------------------------------------------------------------------------- filters


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return float(a) == float(b)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _scalar(x: Any) -> bool:
    return isinstance(x, str | bool) or _number(x)


def _check_operand(op: str, value: Any) -> None:
    if op in ("$eq", "$ne") and not _scalar(value):
        raise RequestError(400, f"{op} takes a string, number or boolean, got {value!r}")
    if op in ("$in", "$nin"):
        if not isinstance(value, list) or not all(_scalar(v) for v in value):
            raise RequestError(400, f"{op} takes an array of strings or numbers")
        if len(value) > MAX_FILTER_VALUES:
            raise RequestError(400, f"{op} accepts at most {MAX_FILTER_VALUES} values")
    if op in ("$gt", "$gte", "$lt", "$lte") and not _number(value):
        raise RequestError(400, f"{op} takes a number, got {value!r}")
    if op == "$exists" and not isinstance(value, bool):
        raise RequestError(400, "$exists takes a boolean")


def _field_matches(present: bool, value: Any, op: str, operand: Any) -> bool:
    _check_operand(op, operand)
    if op == "$exists":
        return bool(present == operand)
    if not present:
        return False  # every comparison, $ne and $nin included, needs the field
    elements = value if isinstance(value, list) else [value]
    if op == "$eq":
        return any(_same(e, operand) for e in elements)
    if op == "$ne":
        return not any(_same(e, operand) for e in elements)
    if op == "$in":
        return any(_same(e, o) for e in elements for o in operand)
    if op == "$nin":
        return not any(_same(e, o) for e in elements for o in operand)
    if isinstance(value, list) or not _number(value):
        return False
    x = float(value)
    bound = float(operand)
    return {"$gt": x > bound, "$gte": x >= bound, "$lt": x < bound, "$lte": x <= bound}[op]


def matches_filter(flt: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Does ``metadata`` satisfy a Pinecone filter, under the rules in the module docstring?"""
    if not isinstance(flt, Mapping):
        raise RequestError(400, "a filter is a JSON object")
    for key, condition in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise RequestError(400, f"{key} takes a non-empty array")
            results = [matches_filter(c, metadata) for c in condition]
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        if key.startswith("$"):
            raise RequestError(400, f"unknown or misplaced operator {key}")
        ops = condition if isinstance(condition, Mapping) else {"$eq": condition}
        if not ops:
            raise RequestError(400, f"empty condition for field {key!r}")
        for op, operand in ops.items():
            if op not in _OPERATORS or op in ("$and", "$or"):
                raise RequestError(400, f"unknown operator {op} for field {key!r}")
            if not _field_matches(key in metadata, metadata.get(key), op, operand):
                return False
    return True


# ------------------------------------------------------------------------------ server


def _check_id(vid: Any) -> str:
    if not isinstance(vid, str) or not vid:
        raise RequestError(400, "vector id must be a non-empty string")
    if len(vid) > MAX_ID_CHARS or not vid.isascii() or "\x00" in vid:
        raise RequestError(400, f"invalid vector id {vid[:40]!r}: ASCII without NUL, <= 512 chars")
    return vid


def _check_metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RequestError(400, "metadata must be an object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue  # dropped on write
        if isinstance(value, list):
            if not all(isinstance(e, str) for e in value):
                raise RequestError(400, f"metadata field {key!r}: lists may hold strings only")
            out[key] = list(value)
        elif isinstance(value, str | bool):
            out[key] = value
        elif _number(value):
            out[key] = float(value)  # numbers are 64-bit floats
        else:
            raise RequestError(400, f"metadata field {key!r}: nested objects are not supported")
    if len(json.dumps(out, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
        raise RequestError(400, "metadata size exceeds the limit of 40 KB per vector")
    return out


class _Listener(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections a concurrent client opens at once


class PineconeTestServer(Startable):
    """One loopback serverless "index" of a fixed dimension and metric. A TEST server."""

    def __init__(
        self,
        *,
        dimension: int = 8,
        metric: IndexMetric = "cosine",
        api_key: str = "test-api-key",
        name: str = "test-index",
        report_metric: bool = True,
        lag: float = 0.0,
        lsn_headers: bool = True,
        metadata_endpoint: bool = True,
    ) -> None:
        self.dimension = dimension
        self.metric = metric
        self.api_key = api_key
        self.name = name
        self.report_metric = report_metric
        self.lag = lag
        self.lsn_headers = lsn_headers
        self.metadata_endpoint = metadata_endpoint
        """False: no ``/vectors/fetch_by_metadata`` route (a 404 for every call), as on
        Pinecone-compatible servers that lack it."""
        self.requests: list[Recorded] = []
        self.failures: list[list[Any]] = []
        """Queued failures: [path suffix, status, message, requests to let through first]."""
        self.delay = 0.0
        """Seconds every data-plane request sleeps before it is handled."""
        self.peak = 0
        """The most requests that were in flight at once (reset it to measure afresh)."""
        self._in_flight = 0
        self._slow: list[float] = []
        self._state = _State()
        self._lock = threading.RLock()
        self._httpd = _Listener(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self  # type: ignore[attr-defined]  # handlers reach the app here
        self._thread: threading.Thread | None = None

    def slow_next(self, seconds: float) -> None:
        """Make the next data-plane request sleep ``seconds`` (instead of :attr:`delay`)."""
        with self._lock:
            self._slow.append(seconds)

    def _sleep(self) -> None:
        with self._lock:
            delay = self._slow.pop(0) if self._slow else self.delay
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        try:
            time.sleep(delay)  # the requests that overlap here were in flight at once
        finally:
            with self._lock:
                self._in_flight -= 1

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> PineconeTestServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # -- inspection (for tests) ----------------------------------------------------------

    def stored(self, namespace: str) -> dict[str, dict[str, Any]]:
        """What the index holds in a namespace: id -> {"values", "metadata"} (visible state)."""
        with self._lock:
            self._settle()
            space = self._state.namespaces.get(namespace, {})
            return {
                vid: {"values": s.values.tolist(), "metadata": dict(s.metadata)}
                for vid, s in space.items()
            }

    def calls(self, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(suffix)]

    def fail_next(
        self, suffix: str, status: int, message: str = "injected failure", *, after: int = 0
    ) -> None:
        """Fail a request whose path ends with ``suffix``, after letting ``after`` through."""
        self.failures.append([suffix, status, message, after])

    # -- request handling ----------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Message, raw: bytes) -> Any:
        url = urlsplit(target)
        query = parse_qs(url.query, keep_blank_values=True)
        body = json.loads(raw) if raw else None
        key_ok = headers.get("Api-Key") == self.api_key
        self.requests.append(
            Recorded(
                method,
                url.path,
                query,
                body,
                len(raw),
                headers.get("X-Pinecone-Api-Version"),
                key_ok,
            )
        )
        if not key_ok:
            raise RequestError(401, "Invalid API key")
        for i, (suffix, status, message, after) in enumerate(self.failures):
            if url.path.endswith(suffix):
                if after:
                    self.failures[i][3] = after - 1
                    break
                del self.failures[i]
                raise RequestError(status, message)
        self._sleep()
        route = {
            ("POST", "/vectors/upsert"): self._upsert,
            ("POST", "/query"): self._query,
            ("GET", "/vectors/fetch"): self._fetch,
            ("POST", "/vectors/fetch_by_metadata"): (
                self._fetch_by_metadata if self.metadata_endpoint else None
            ),
            ("POST", "/vectors/delete"): self._delete,
            ("POST", "/vectors/update"): self._update,
            ("GET", "/vectors/list"): self._list,
            ("POST", "/describe_index_stats"): self._stats,
        }.get((method, url.path))
        if route is None and method == "GET" and url.path.startswith("/indexes/"):
            return self._describe_index(unquote(url.path[len("/indexes/") :]))
        if route is None:
            raise RequestError(404, f"no route {method} {url.path}")
        if method == "POST" and len(raw) > MAX_UPSERT_BYTES:
            raise RequestError(413, "request body exceeds 2 MB")
        with self._lock:
            self._settle()
            return route(body if isinstance(body, dict) else {}, query)

    def _settle(self) -> None:
        now = time.monotonic()
        state = self._state
        while state.pending and state.pending[0][0] <= now:
            _, lsn, apply = state.pending.pop(0)
            apply()
            state.applied = lsn

    def _write(self, apply: Callable[[], None]) -> dict[str, str]:
        state = self._state
        state.lsn += 1
        if self.lag > 0:
            state.pending.append((time.monotonic() + self.lag, state.lsn, apply))
        else:
            apply()
            state.applied = state.lsn
        return {"x-pinecone-lsn-committed": str(state.lsn)} if self.lsn_headers else {}

    def _space(self, body: Mapping[str, Any], query: Mapping[str, list[str]]) -> str:
        ns = body["namespace"] if "namespace" in body else query.get("namespace", [""])[0]
        if not isinstance(ns, str):
            raise RequestError(400, "namespace must be a string")
        return "__default__" if ns == "" else ns

    def _vector(self, raw: Any) -> npt.NDArray[np.float32]:
        if not isinstance(raw, list) or not all(_number(v) for v in raw):
            raise RequestError(400, "values must be an array of numbers")
        if len(raw) != self.dimension:
            raise RequestError(
                400,
                f"Vector dimension {len(raw)} does not match the dimension of the index "
                f"{self.dimension}",
            )
        vec = np.asarray(raw, dtype=np.float64).astype(np.float32)
        if not np.isfinite(vec).all():
            raise RequestError(400, "vector values must be finite")
        return vec

    def _upsert(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise RequestError(400, "vectors must be a non-empty array")
        if len(vectors) > MAX_UPSERT_VECTORS:
            raise RequestError(400, f"at most {MAX_UPSERT_VECTORS} vectors per upsert request")
        ns = self._space(body, query)
        records: dict[str, _Stored] = {}
        for item in vectors:
            if not isinstance(item, dict):
                raise RequestError(400, "each vector is an object")
            vec = self._vector(item.get("values"))
            if not vec.any():
                raise RequestError(400, "Dense vectors must contain at least one non-zero value")
            records[_check_id(item.get("id"))] = _Stored(vec, _check_metadata(item.get("metadata")))

        def apply() -> None:
            self._state.namespaces.setdefault(ns, {}).update(records)

        return {"upsertedCount": len(vectors)}, self._write(apply)

    def _scores(
        self, matrix: npt.NDArray[np.float32], q: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float64]:
        x = matrix.astype(np.float64)
        v = q.astype(np.float64)
        if self.metric == "dotproduct":
            out: npt.NDArray[np.float64] = x @ v
        elif self.metric == "cosine":
            norms = np.linalg.norm(x, axis=1) * np.linalg.norm(v)
            out = (x @ v) / norms
        else:
            diff = x - v
            out = np.einsum("ij,ij->i", diff, diff)  # squared distance, as documented
        return out

    def _query(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        top_k = body.get("topK")
        if not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise RequestError(400, f"topK must be an integer in 1..{MAX_TOP_K}")
        ns = self._space(body, query)
        space = self._state.namespaces.get(ns, {})
        if "vector" in body:
            q = self._vector(body["vector"])
        elif "id" in body and body["id"] in space:
            q = space[body["id"]].values
        else:
            raise RequestError(400, "a query needs vector or the id of a stored vector")
        if self.metric == "cosine" and not q.any():
            raise RequestError(400, "a cosine query vector must not be all zeros")
        flt = body.get("filter")
        ids = [vid for vid, s in space.items() if flt is None or matches_filter(flt, s.metadata)]
        matches = []
        if ids:
            scores = self._scores(np.stack([space[i].values for i in ids]), q)
            order = sorted(
                range(len(ids)),
                key=lambda i: (scores[i] if self.metric == "euclidean" else -scores[i], ids[i]),
            )
            for i in order[:top_k]:
                stored = space[ids[i]]
                match: dict[str, Any] = {"id": ids[i], "score": float(scores[i])}
                match["values"] = stored.values.tolist() if body.get("includeValues") else []
                if body.get("includeMetadata") and stored.metadata:
                    match["metadata"] = stored.metadata
                matches.append(match)
        headers = (
            {"x-pinecone-lsn-reconciled": str(self._state.applied)} if self.lsn_headers else {}
        )
        answer: dict[str, Any] = {"matches": matches}
        answer["namespace"] = "" if ns == "__default__" else ns
        answer["usage"] = {"readUnits": 1 + len(space) // 1000}
        return answer, headers

    def _vectors(self, space: Mapping[str, _Stored], ids: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for vid in ids:
            stored = space.get(vid)
            if stored is not None:
                record: dict[str, Any] = {"id": vid, "values": stored.values.tolist()}
                if stored.metadata:
                    record["metadata"] = stored.metadata
                out[vid] = record
        return out

    def _fetch(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        ids = query.get("ids", [])
        if not ids:
            raise RequestError(400, "fetch needs ids")
        if len(ids) > MAX_IDS:
            raise RequestError(400, f"at most {MAX_IDS} ids per fetch")
        ns = self._space(body, query)
        vectors = self._vectors(self._state.namespaces.get(ns, {}), ids)
        return {"vectors": vectors, "namespace": ns, "usage": {"readUnits": 1}}

    def _page(self, ids: list[str], token: Any, limit: int) -> tuple[list[str], str | None]:
        """A page of the sorted ``ids``; the token holds the last id of the page before, so
        ids written or deleted between pages never shift the ones not yet listed."""
        start = 0
        if isinstance(token, str) and token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except ValueError as exc:
                raise RequestError(400, "invalid pagination token") from exc
            start = bisect.bisect_right(ids, after)
        page = ids[start : start + limit]
        if start + limit >= len(ids):
            return page, None
        return page, base64.urlsafe_b64encode(page[-1].encode()).decode()

    def _fetch_by_metadata(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        flt = body.get("filter")
        if not isinstance(flt, dict) or not flt:
            raise RequestError(400, "Empty filter provided for fetch by metadata request")
        limit = body.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise RequestError(400, "limit must be an integer in 1..10000")
        ns = self._space(body, query)
        space = self._state.namespaces.get(ns, {})
        ids = sorted(vid for vid, s in space.items() if matches_filter(flt, s.metadata))
        page, token = self._page(ids, body.get("paginationToken"), limit)
        answer: dict[str, Any] = {"vectors": self._vectors(space, page), "namespace": ns}
        answer["usage"] = {"readUnits": 1}
        if token:
            answer["pagination"] = {"next": token}
        return answer

    def _delete(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        ns = self._space(body, query)
        if ns not in self._state.namespaces:
            raise RequestError(404, "Namespace not found")
        ids, flt, everything = body.get("ids"), body.get("filter"), body.get("deleteAll")
        if sum(x is not None and x is not False for x in (ids, flt, everything)) != 1:
            raise RequestError(400, "delete takes exactly one of ids, filter or deleteAll")
        if ids is not None:
            if not isinstance(ids, list) or len(ids) > MAX_IDS:
                raise RequestError(400, f"ids must be an array of at most {MAX_IDS}")
            doomed = {_check_id(i) for i in ids}
        elif flt is not None:
            if not isinstance(flt, dict) or not flt:
                raise RequestError(400, "Delete with empty metadata filter is not allowed")
            space = self._state.namespaces[ns]
            doomed = {vid for vid, s in space.items() if matches_filter(flt, s.metadata)}
        else:
            doomed = set(self._state.namespaces[ns])

        def apply() -> None:
            space = self._state.namespaces.get(ns, {})
            for vid in doomed:
                space.pop(vid, None)
            if not space:
                self._state.namespaces.pop(ns, None)

        return {}, self._write(apply)

    def _update(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        ns = self._space(body, query)
        stored = self._state.namespaces.get(ns, {}).get(_check_id(body.get("id")))
        if stored is None:
            raise RequestError(404, "Vector not found")
        values = self._vector(body["values"]) if "values" in body else stored.values
        metadata = {**stored.metadata, **_check_metadata(body.get("setMetadata"))}

        def apply() -> None:
            self._state.namespaces[ns][body["id"]] = _Stored(values, metadata)

        return {"matchedRecords": 1}, self._write(apply)

    def _list(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        ns = self._space(body, query)
        prefix = query.get("prefix", [""])[0]
        limit = int(query.get("limit", ["100"])[0])
        if not 1 <= limit <= 100:
            raise RequestError(400, "limit must be in 1..100")
        ids = sorted(v for v in self._state.namespaces.get(ns, {}) if v.startswith(prefix))
        page, token = self._page(ids, query.get("paginationToken", [None])[0], limit)
        answer: dict[str, Any] = {"vectors": [{"id": v} for v in page], "namespace": ns}
        answer["usage"] = {"readUnits": 1}
        if token:
            answer["pagination"] = {"next": token}
        return answer

    def _stats(self, body: dict[str, Any], query: Mapping[str, list[str]]) -> Any:
        if body.get("filter"):
            raise RequestError(
                400, "Serverless indexes do not support describing index stats with a filter"
            )
        spaces = self._state.namespaces
        answer: dict[str, Any] = {
            "namespaces": {ns: {"vectorCount": len(s)} for ns, s in spaces.items()},
            "dimension": self.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(len(s) for s in spaces.values()),
            "vectorType": "dense",
        }
        if self.report_metric:
            answer["metric"] = self.metric
        return answer

    def _describe_index(self, name: str) -> Any:
        if name != self.name:
            raise RequestError(404, f"Resource {name} not found")
        field = {"type": "dense_vector", "dimension": self.dimension, "metric": self.metric}
        return {
            "name": self.name,
            "host": self.url,
            "status": {"ready": True, "state": "Ready"},
            "schema": {"fields": {"values": field}},
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
            "deletion_protection": "disabled",
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        app: PineconeTestServer = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers = 200, {}
        try:
            result = app.handle(self.command, self.path, self.headers, raw)
            if isinstance(result, tuple):
                result, headers = result
        except RequestError as failure:
            status = failure.status
            result = {"code": _GRPC_CODE.get(status, 2), "message": failure.message, "details": []}
        except (ValueError, KeyError, TypeError) as exc:  # malformed request
            status = 400
            result = {"code": 3, "message": f"bad request: {exc}", "details": []}
        data = json.dumps(result, allow_nan=False).encode()
        with contextlib.suppress(ConnectionError):  # the client gave up (timeout tests)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-pinecone-request-id", f"test-{id(raw):x}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = _serve  # noqa: N815  # names http.server calls


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[PineconeTestServer]:
    """A started server, stopped afterwards."""
    with PineconeTestServer(**kwargs) as server:
        yield server
