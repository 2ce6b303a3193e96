"""Milvus backend: a server, Zilliz Cloud or Milvus Lite (``uri="./edge.db"``), one code path.

Schema of every collection: ``id`` (VARCHAR primary key, the caller's str id unchanged),
``vector`` (FLOAT_VECTOR), ``payload`` (JSON, returned as written) and ``payload_terms`` (JSON,
derived from the payload on every write; filters run against it). The derived column exists
because Milvus' expression language cannot state edgevec's filter semantics directly: Milvus Lite
compares JSON values with Python ``==`` (so ``true == 1``), no engine has a type test, ``x == v``
does not look inside lists, and a comparison on a missing JSON key is *unknown*, so
``not (x < 3)`` drops records without ``x`` although edgevec says they match. For each dotted
path of a payload (nested objects walked, list elements flattened, keys holding a ``.`` skipped
since no filter path can name them) ``payload_terms`` holds, under keys hashed from the path:

* ``x_<h>``: ``true`` when the value is present, not null and not an empty list (``exists``);
* ``e_<h>``: the scalar elements as type-tagged strings, ``"s:red"``, ``"n:3"``, ``"b:true"``
  (``eq``/``in`` become ``json_contains``/``json_contains_any`` on strings: strict by construction,
  ``3`` and ``3.0`` share the tag ``n:3``);
* ``lo_<h>`` / ``hi_<h>``: the smallest and largest number (bools excluded), since "any element
  < v" is "min < v".

Filters are compiled in negation normal form, and every negated atom is guarded by an ``exists``
test, so no result depends on how an engine treats missing keys. User text only ever reaches an
expression inside a quoted, escaped string literal; field paths are hashed, never spliced. Data
written to the collection by other clients lacks ``payload_terms`` and is invisible to filters.

Reads see this process's acknowledged writes: requests use the consistency level ``Session`` by
default, which waits only for the timestamp of the last write pymilvus saw from this process to
the collection (a server answers deletes without one, see :func:`cover_delete`). ``Strong`` waits
for the server's next time tick on every read (0.2-0.4 s measured) and buys only the visibility
of other processes' writes. On Milvus Lite every write is followed by
``flush()``: its write-ahead log is not fsynced until then, and a search over unflushed rows is
brute force in Python (measured 370 ms vs 28 ms at 20k x 128). On a server, flush is rate-limited
and not needed for durability (the log is), so it is skipped.

Milvus Lite's engine runs each request on a worker thread without locking the collection: two
writes can share sequence numbers, a write can land in a memtable that a concurrent flush already
froze, and concurrent flushes fail (``current_seq is monotonic``) after storing the data; a
concurrent ``create_collection`` of the same name fails halfway. edgevec therefore serialises, per
``.db`` within the process, every write, delete, flush and collection DDL; reads run concurrently.
On a server only DDL is serialised (per uri and database), so that concurrent
``create_collection(..., exist_ok=True)`` calls agree on one collection.

Async uses ``AsyncMilvusClient`` for data operations. DDL (create, drop, describe, load) runs the
sync ``MilvusClient`` in a worker thread, because ``AsyncMilvusClient.create_collection`` fails
against Milvus Lite with ``UNIMPLEMENTED`` (after half-creating the collection).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pymilvus import (  # type: ignore[import-untyped]  # pymilvus ships no py.typed
    AsyncMilvusClient,
    DataType,
    MilvusClient,
)
from pymilvus.client import ts_utils  # type: ignore[import-untyped]
from pymilvus.client.connection_manager import (  # type: ignore[import-untyped]
    ConnectionConfig,
)
from pymilvus.exceptions import (  # type: ignore[import-untyped]
    CollectionNotExistException,
    ConnectError,
    ConnectionConfigException,
    MilvusException,
    MilvusUnavailableException,
)

from edgevec.abase import AsyncBaseCollection, AsyncBaseStore
from edgevec.backends._endpoints import Endpoint, agree, check_plaintext, parse_endpoint
from edgevec.base import BaseCollection, BaseStore
from edgevec.capabilities import Capabilities
from edgevec.config import parse_options
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigError,
    EdgevecError,
    InvalidInputError,
)
from edgevec.filters import And, Cmp, Filter, Not, Or
from edgevec.prepare import PreparedQuery, PreparedUpsert, check_collection_name, check_existing
from edgevec.scores import Reported, to_score
from edgevec.search_params import SearchParams
from edgevec.types import CollectionSpec, Hit, Hits, Metric, Record

__all__ = [
    "AsyncMilvusCollection",
    "AsyncMilvusStore",
    "MilvusCollection",
    "MilvusIndexOptions",
    "MilvusOptions",
    "MilvusStore",
    "compile_filter",
    "ids_filter",
    "payload_terms",
    "quote",
]

ID, VECTOR, PAYLOAD, TERMS = "id", "vector", "payload", "payload_terms"
META_PROPERTY = "edgevec.meta"
"""Collection property holding edgevec's metadata (metric, index options, fingerprint) as JSON."""
MAX_ID_BYTES = 512
MAX_TOPK = 16_384  # Milvus' limit on limit + offset
QUERY_CHUNK = 1_000  # vectors per search request and ids per ``id in [...]`` expression

_METRIC_TO_MILVUS: dict[Metric, str] = {"cosine": "COSINE", "dot": "IP", "l2": "L2"}
_METRIC_FROM_MILVUS: dict[str, Metric] = {v: k for k, v in _METRIC_TO_MILVUS.items()}

T = TypeVar("T")

IndexType = Literal["FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX"]
Consistency = Literal["Strong", "Bounded", "Session", "Eventually"]


# --------------------------------------------------------------------------- options


class MilvusIndexOptions(BaseModel):
    """Per-collection index options (``create_collection(..., index="hnsw", ef=128)``).

    ``FLAT`` is the default because it is exact: results equal the numpy oracle.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: IndexType = "FLAT"
    m: int = Field(default=16, ge=2, le=2048)
    """HNSW: graph degree (Milvus ``M``)."""
    ef_construction: int = Field(default=200, ge=1, le=65_536)
    """HNSW: build beam (Milvus ``efConstruction``)."""
    ef: int = Field(default=64, ge=1, le=32_768)
    """HNSW: search beam; raised to ``k`` when smaller (Milvus requires ``ef >= k``)."""
    nlist: int = Field(default=128, ge=1, le=65_536)
    """IVF_FLAT: number of clusters."""
    nprobe: int = Field(default=16, ge=1, le=65_536)
    """IVF_FLAT: clusters searched per query."""

    @field_validator("index", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class MilvusOptions(MilvusIndexOptions):
    """Options of ``edgevec.connect("milvus", ...)``; the index options are collection defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str
    """``http(s)://host:port`` of a server or Zilliz Cloud, or a Milvus Lite file ``./edge.db``."""
    token: SecretStr | None = None
    """API key or ``user:password``. Never in the uri: one with ``user:pass@`` is refused."""
    db_name: str = ""
    tls: bool | None = None
    """``None``: TLS for ``https://``; plain ``http://`` only to loopback unless ``False``."""
    ca_pem_path: str | None = None
    server_name: str | None = None
    """TLS server name override (SNI), for endpoints reached by IP or through a proxy."""
    timeout: float = Field(default=10.0, gt=0, le=3600)
    """Seconds per request, retries included (pymilvus otherwise retries for minutes)."""
    consistency_level: Consistency = "Session"
    """``Session``: reads see this process's writes at ``Bounded`` cost. ``Strong`` also shows
    other processes' writes at once but waits for the server's time tick (~0.3 s) on every read;
    ``Bounded``/``Eventually`` may not show a write to the next read."""
    flush: Literal["auto", "always", "never"] = "auto"
    """Flush after writes: ``auto`` does on Milvus Lite only (see the module docstring)."""

    @model_validator(mode="after")
    def _check_uri(self) -> MilvusOptions:
        if is_lite(self.uri):
            return self
        ep = server_endpoint(self)
        if self.tls is None and ep.scheme != "https" and not ep.loopback:
            raise ValueError(
                "plain-text uri to a remote host: use https://, or set tls=false to send data "
                "unencrypted (never credentials: a token needs TLS to a remote host)"
            )
        check_plaintext(ep, self.use_tls(), self.token is not None, "Milvus uri")
        return self

    @property
    def lite(self) -> bool:
        return is_lite(self.uri)

    def use_tls(self) -> bool:
        if self.tls is not None:
            return self.tls
        return not self.lite and server_endpoint(self).scheme == "https"

    def flush_writes(self) -> bool:
        return self.flush == "always" or (self.flush == "auto" and self.lite)


def is_lite(uri: str) -> bool:
    """pymilvus' own rule: a uri ending in ``.db`` is a Milvus Lite data directory."""
    return uri.endswith(".db")


def server_endpoint(opts: MilvusOptions) -> Endpoint:
    """The server uri, checked as pymilvus' own ``ConnectionConfig.from_uri`` reads it (the
    parser ``MilvusClient`` builds its gRPC address with), so both agree on the host."""
    ep = parse_endpoint(opts.uri, "uri", schemes=("http", "https", "tcp"), default_scheme="https")
    try:
        address = ConnectionConfig.from_uri(ep.url).address
    except ConnectionConfigException:
        raise ValueError("uri is not one pymilvus accepts") from None
    host, _, port = address.rpartition(":")
    agree((ep.host, ep.port), (host, int(port) if port.isdigit() else None), "uri", "pymilvus")
    return ep


def client_kwargs(opts: MilvusOptions) -> dict[str, Any]:
    """Keyword arguments for ``MilvusClient`` / ``AsyncMilvusClient``."""
    uri = opts.uri if opts.lite else server_endpoint(opts).url
    kw: dict[str, Any] = {"uri": uri, "db_name": opts.db_name, "timeout": opts.timeout}
    if opts.token is not None:
        kw["token"] = opts.token.get_secret_value()
    if opts.lite:
        Path(opts.uri).parent.mkdir(parents=True, exist_ok=True)
        return kw
    kw["secure"] = opts.use_tls()
    if opts.ca_pem_path:
        kw["ca_pem_path"] = opts.ca_pem_path
    if opts.server_name:
        kw["server_name"] = opts.server_name
    return kw


def index_options(
    defaults: MilvusOptions, overrides: Mapping[str, Any], name: str
) -> MilvusIndexOptions:
    merged = {**defaults.model_dump(include=set(MilvusIndexOptions.model_fields)), **overrides}
    return parse_options(MilvusIndexOptions, merged, f"Milvus index options for {name!r}")


# --------------------------------------------------------------------------- expressions

_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def quote(text: str) -> str:
    """``text`` as a double-quoted Milvus string literal.

    Escapes only what both grammars (the server's ANTLR + ``strconv.Unquote`` and Milvus Lite's
    tokenizer) read the same way: backslash, double quote, CR and LF. Everything else is literal.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"string is not valid Unicode (lone surrogate): {text!r}") from exc
    return '"' + text.translate(_ESCAPE) + '"'


@functools.lru_cache(maxsize=8192)
def path_key(path: str) -> str:
    """A fixed-width, identifier-safe key for a dotted path (80-bit BLAKE2b)."""
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
    return digest


def _number_tag(value: float) -> str:
    # Equal numbers get equal tags: integral floats print as ints, so 3 and 3.0 are both "n:3".
    if isinstance(value, float) and value.is_integer():
        return f"n:{int(value)}"
    return f"n:{value!r}"


def term(value: object) -> str:
    """The type-tagged string for a scalar filter value or payload element."""
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, int | float):
        return _number_tag(value)
    if isinstance(value, str):
        return "s:" + value
    raise InvalidInputError(f"not a scalar filter value: {value!r}")


def payload_terms(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``payload_terms`` column for ``payload`` (see the module docstring)."""
    out: dict[str, Any] = {}
    _collect_terms(payload, "", out)
    return out


def _collect_terms(obj: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for k, value in obj.items():
        if value is None or not k or "." in k:
            continue
        path = prefix + k
        h = path_key(path)
        elems = value if isinstance(value, list) else (value,)
        if not elems:
            continue
        out["x_" + h] = True
        tags: dict[str, None] = {}
        nums: list[int | float] = []
        for e in elems:
            if isinstance(e, bool | str):
                tags[term(e)] = None
            elif isinstance(e, int | float):
                tags[term(e)] = None
                nums.append(e)
        if tags:
            out["e_" + h] = list(tags)
        if nums:
            out["lo_" + h] = min(nums)
            out["hi_" + h] = max(nums)
        if isinstance(value, Mapping):
            _collect_terms(value, path + ".", out)


def _ref(kind: str, path: str) -> str:
    return f'{TERMS}["{kind}_{path_key(path)}"]'


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


# Range atoms: (column, operator when positive, operator when negated). "Any element < v" is
# "min < v"; its negation, for records that have numbers, is "min >= v".
_RANGE = {
    "lt": ("lo", "<", ">="),
    "lte": ("lo", "<=", ">"),
    "gt": ("hi", ">", "<="),
    "gte": ("hi", ">=", "<"),
}


def compile_filter(flt: Filter) -> str:
    """The Milvus boolean expression for ``flt`` over the ``payload_terms`` column."""
    return _compile(flt, negate=False)


def _compile(node: Filter, negate: bool) -> str:
    if isinstance(node, And | Or):
        joiner = " and " if isinstance(node, And) != negate else " or "
        return "(" + joiner.join(_compile(a, negate) for a in node.args) + ")"
    if isinstance(node, Not):
        return _compile(node.arg, not negate)
    if not isinstance(node, Cmp):
        raise InvalidInputError(f"not a filter node: {node!r}")
    op, path = node.op, node.field
    if op == "exists":
        test = f"exists {_ref('x', path)}"
        return f"(not ({test}))" if negate else f"({test})"
    if op in ("eq", "ne", "in", "nin"):
        ref = _ref("e", path)
        if op in ("eq", "ne"):
            atom = f"json_contains({ref}, {quote(term(node.value))})"
        else:
            tags = dict.fromkeys(term(v) for v in node.value)
            atom = f"json_contains_any({ref}, [{', '.join(quote(t) for t in tags)}])"
        if negate != (op in ("ne", "nin")):
            return f"(not (exists {ref}) or not {atom})"
        return f"({atom})"
    column, positive, negative = _RANGE[op]
    ref = _ref(column, path)
    value = _number(node.value)
    if negate:
        return f"(not (exists {ref}) or {ref} {negative} {value})"
    return f"({ref} {positive} {value})"


def ids_filter(ids: Iterable[str]) -> str:
    """``id in [...]`` with every id escaped (pymilvus' own ``get``/``delete`` do not escape)."""
    return f"{ID} in [{', '.join(quote(i) for i in dict.fromkeys(ids))}]"


def _chunks(items: Any, size: int) -> Iterator[Any]:
    """Slices of a list or an array, at most ``size`` long."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------- schema and results


def collection_meta(spec: CollectionSpec, opts: MilvusIndexOptions) -> str:
    meta = {
        "v": 1,
        "metric": spec.metric,
        "options": opts.model_dump(),
        "fingerprint": spec.fingerprint,
    }
    return orjson.dumps(meta).decode()


def build_schema(dim: int) -> Any:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID, DataType.VARCHAR, is_primary=True, max_length=MAX_ID_BYTES)
    schema.add_field(VECTOR, DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field(PAYLOAD, DataType.JSON)
    schema.add_field(TERMS, DataType.JSON)
    return schema


def index_spec(opts: MilvusIndexOptions, metric: Metric) -> dict[str, Any]:
    """Arguments of ``IndexParams.add_index`` for the vector field."""
    params: dict[str, Any] = {}
    if opts.index == "HNSW":
        params = {"M": opts.m, "efConstruction": opts.ef_construction}
    elif opts.index == "IVF_FLAT":
        params = {"nlist": opts.nlist}
    return {
        "field_name": VECTOR,
        "index_name": VECTOR,  # named, so reopening can describe it on any server version
        "index_type": opts.index,
        "metric_type": _METRIC_TO_MILVUS[metric],
        "params": params,
    }


def search_params(
    opts: MilvusIndexOptions, metric: Metric, k: int, asked: SearchParams
) -> dict[str, Any]:
    """Milvus search parameters for one query; ``asked`` holds only what the collection's
    capabilities honour (see :func:`capabilities_of`)."""
    params: dict[str, Any] = {}
    if opts.index == "HNSW":
        params["ef"] = max(asked.ef or opts.ef, k)
    elif opts.index == "IVF_FLAT":
        params["nprobe"] = min(opts.nprobe, opts.nlist)
    return {"metric_type": _METRIC_TO_MILVUS[metric], "params": params}


def capabilities_of(opts: MilvusIndexOptions) -> Capabilities:
    """FLAT is exact; HNSW honours ``ef`` per query. ``exact`` is not offered on an ANN index:
    probing every IVF list is not exhaustive on Milvus Lite, which builds its own list count
    (measured: 18 of 20 hits with ``nprobe=nlist``)."""
    ann = frozenset({"ef"}) if opts.index == "HNSW" else frozenset()
    return MilvusStore.capabilities.narrowed(exact=opts.index == "FLAT", search_params=ann)


MAX_EF = 32_768


def widened(opts: MilvusIndexOptions, current: Mapping[str, Any]) -> dict[str, Any] | None:
    """Search parameters exploring 4x more of an ANN index, or ``None`` when already exhaustive.

    A filtered HNSW/IVF search can return fewer than ``k`` hits although ``k`` records match (the
    beam or the probed clusters hold too few of them; Milvus Lite's HNSW does this on narrow
    filters). The collection then retries wider, as the FAISS backend widens its beam.
    """
    params = dict(current["params"])
    if opts.index == "HNSW" and int(params.get("ef", opts.ef)) < MAX_EF:
        params["ef"] = min(4 * int(params.get("ef", opts.ef)), MAX_EF)
    elif opts.index == "IVF_FLAT" and int(params.get("nprobe", opts.nprobe)) < opts.nlist:
        params["nprobe"] = min(4 * int(params.get("nprobe", opts.nprobe)), opts.nlist)
    else:
        return None
    return {**current, "params": params}


def short(hits: Sequence[Hits], want: int) -> bool:
    return any(len(h) < want for h in hits)


def spec_from_description(
    name: str, desc: Mapping[str, Any], index: Mapping[str, Any]
) -> tuple[CollectionSpec, MilvusIndexOptions]:
    """Rebuild a collection's spec from ``describe_collection`` and ``describe_index``.

    The dimension comes from the schema; metric and options from edgevec's collection property,
    falling back to the index (Milvus Lite keeps no index parameters).
    """
    fields = {f["name"]: f for f in desc.get("fields", [])}
    missing = {ID, VECTOR, PAYLOAD, TERMS} - set(fields)
    if missing:
        absent = ", ".join(sorted(missing))
        raise ConfigError(f"collection {name!r} was not created by edgevec: no field(s) {absent}")
    dim = int(fields[VECTOR].get("params", {}).get("dim", 0))
    raw = (desc.get("properties") or {}).get(META_PROPERTY)
    meta: dict[str, Any] = orjson.loads(raw) if raw else {}
    milvus_metric = str(index.get("metric_type", "")).upper()
    metric = meta.get("metric") or _METRIC_FROM_MILVUS.get(milvus_metric)
    if metric not in _METRIC_TO_MILVUS:
        raise ConfigError(f"collection {name!r} uses metric {milvus_metric!r}, which edgevec lacks")
    options = meta.get("options") or {"index": index.get("index_type", "FLAT")}
    try:
        opts = MilvusIndexOptions.model_validate(options)
    except ValueError as exc:
        raise ConfigError(
            f"collection {name!r} has index options edgevec cannot use: {exc}"
        ) from None
    spec = CollectionSpec(name, dim, metric, opts.model_dump(), meta.get("fingerprint"))
    return spec, opts


def build_rows(batch: PreparedUpsert) -> list[dict[str, Any]]:
    return [
        {ID: rid, VECTOR: vec, PAYLOAD: payload, TERMS: payload_terms(payload)}
        for rid, vec, payload in zip(batch.ids, batch.vectors, batch.payloads, strict=True)
    ]


def output_fields(include_payload: bool, include_vectors: bool) -> list[str]:
    fields = [ID]
    if include_payload:
        fields.append(PAYLOAD)
    if include_vectors:
        fields.append(VECTOR)
    return fields


def _vector(value: Any) -> Any:
    return None if value is None else np.asarray(value, dtype=np.float32)


_REPORTED: dict[Metric, Reported] = {
    "cosine": "similarity",
    "dot": "similarity",
    "l2": "squared_distance",
}
"""COSINE and IP are already similarities; L2 is the *squared* distance."""


def parse_hits(
    result: Iterable[Iterable[Mapping[str, Any]]], metric: Metric, q: PreparedQuery
) -> list[Hits]:
    out = []
    for row in result:
        hits = []
        for h in row:
            entity = h.get("entity") or {}
            hits.append(
                Hit(
                    str(h["id"]),
                    to_score(h["distance"], _REPORTED[metric]),
                    dict(entity.get(PAYLOAD) or {}) if q.include_payload else {},
                    _vector(entity.get(VECTOR)) if q.include_vectors else None,
                )
            )
        out.append(Hits(hits))
    return out


def parse_records(
    rows: Iterable[Mapping[str, Any]], ids: Sequence[str], include_vectors: bool
) -> list[Record]:
    found = {str(r[ID]): r for r in rows}
    return [
        Record(
            rid,
            _vector(found[rid].get(VECTOR)) if include_vectors else None,
            dict(found[rid].get(PAYLOAD) or {}),
        )
        for rid in ids
        if rid in found
    ]


def parse_count(rows: Sequence[Mapping[str, Any]]) -> int:
    return int(rows[0]["count(*)"]) if rows else 0


# --------------------------------------------------------------------------- errors

_AUTH_WORDS = (
    "auth check failure",
    "unauthenticated",
    "authenticat",
    "permission denied",
    "credential",
    "invalid token",
    "privilege",
)


def _status_name(exc: BaseException) -> str:
    code: Any = getattr(exc, "code", None)
    if callable(code):  # grpc.RpcError.code() -> grpc.StatusCode
        try:
            code = code()
        except Exception:  # a half-built RpcError has no code: treat it as unknown
            code = None
    return str(getattr(code, "name", "")) if code is not None else ""


def translate_error(exc: BaseException, what: str, secret: SecretStr | None = None) -> EdgevecError:
    """The most specific edgevec error for a pymilvus / gRPC failure (never carrying the token)."""
    if isinstance(exc, MilvusException):
        message = str(exc.message)
        code = exc.code
    else:
        details = getattr(exc, "details", None)
        message = str(details() if callable(details) else exc)
        code = None
    if secret is not None and secret.get_secret_value():
        message = message.replace(secret.get_secret_value(), "**********")
    status = _status_name(exc)
    text = f"Milvus {what} failed: {message}"
    lower = message.lower()
    if (
        status in ("UNAUTHENTICATED", "PERMISSION_DENIED")
        or code == 1800  # merr.ErrNeedAuthenticate
        or any(w in lower for w in _AUTH_WORDS)
    ):
        return AuthenticationError(text)
    if isinstance(exc, ConnectionConfigException) and "local milvus" in lower:
        return BackendUnavailableError(
            f"{text} (is the .db directory held by another process? Milvus Lite allows one)"
        )
    if (
        status == "UNAVAILABLE"
        or isinstance(exc, ConnectError | MilvusUnavailableException)
        or (code == 2 and not status)
    ):
        return BackendUnavailableError(text)
    if status == "DEADLINE_EXCEEDED" or "deadline_exceeded" in lower or "retry timeout" in lower:
        return BackendTimeoutError(text)
    if isinstance(exc, CollectionNotExistException) or code == 100:
        return CollectionNotFoundError(text)
    return BackendError(text)


_CLIENT_ERRORS = (MilvusException, grpc.RpcError)


# --------------------------------------------------------------------- per-process engine state

_registry_lock = threading.Lock()
_lite_refs: dict[str, int] = {}
_engine_locks: dict[tuple[str, str], threading.RLock] = {}

LITE_UNSAFE = frozenset({"upsert", "delete", "flush"})
"""Client methods Milvus Lite's engine cannot run concurrently on one ``.db`` (module docstring)."""


def engine_lock(opts: MilvusOptions) -> threading.RLock:
    """The process-wide lock of one engine: a ``.db`` directory, or a server's uri and database.

    Re-entrant, so DDL that holds it can make writes that take it again.
    """
    key = (os.path.abspath(opts.uri), "") if opts.lite else (opts.uri, opts.db_name)
    with _registry_lock:
        return _engine_locks.setdefault(key, threading.RLock())


def blocking_call(
    opts: MilvusOptions, lock: threading.RLock, what: str, fn: Any, *args: Any, **kwargs: Any
) -> Any:
    """``fn(*args, **kwargs)`` on a sync client with edgevec's timeout and error translation,
    serialised by ``lock`` where Milvus Lite needs it (``LITE_UNSAFE``)."""
    serial = opts.lite and getattr(fn, "__name__", "") in LITE_UNSAFE
    with lock if serial else contextlib.nullcontext():
        try:
            return fn(*args, timeout=opts.timeout, **kwargs)
        except _CLIENT_ERRORS as exc:
            raise translate_error(exc, what, opts.token) from exc


Call = Callable[..., Any]
"""A :func:`blocking_call` bound to a store: ``call(what, fn, *args, **kwargs)``."""


def create_collection(
    call: Call, client: Any, defaults: MilvusOptions, spec: CollectionSpec
) -> tuple[CollectionSpec, MilvusIndexOptions]:
    """Create, index and load ``spec``'s collection; the caller holds the engine lock.

    The base class checked that the name was free, but a concurrent create may have taken it
    since: then the collection it made is opened (if its dim and metric are the ones asked for),
    as ``exist_ok=True`` wants, rather than failing halfway through Milvus' own create.
    """
    if call("has collection", client.has_collection, spec.name):
        found, opts = open_collection(call, client, spec.name)
        check_existing(found, spec.dim, spec.metric)
        return found, opts
    opts = index_options(defaults, spec.options, spec.name)
    spec = CollectionSpec(spec.name, spec.dim, spec.metric, opts.model_dump(), spec.fingerprint)
    index = client.prepare_index_params()
    index.add_index(**index_spec(opts, spec.metric))
    call(
        "create collection",
        client.create_collection,
        spec.name,
        schema=build_schema(spec.dim),
        consistency_level=defaults.consistency_level,
        properties={META_PROPERTY: collection_meta(spec, opts)},
    )
    # sync=False: pymilvus' wait for the index polls every 0.5 s through AllocTimestamp,
    # which Milvus Lite lacks; the index of an empty collection is ready once acknowledged.
    call("create index", client.create_index, spec.name, index, sync=False)
    call("load collection", client.load_collection, spec.name)
    return spec, opts


def cover_delete(call: Call, client: Any, opts: MilvusOptions, name: str) -> None:
    """Make this process's ``Session`` reads wait for a delete it just made.

    Session reads wait for the last write timestamp pymilvus recorded for the collection, but a
    Milvus 2.3 server answers a delete with timestamp 0 (measured on 2.3.5), so the next read could
    still return the deleted records. A timestamp allocated now is later than the delete; recorded
    as the collection's last write (pymilvus keeps the largest), it covers it. Milvus Lite applies
    every request in order and has no timestamp oracle, so it needs none.
    """
    if opts.lite or opts.consistency_level != "Session":
        return
    handler = client._get_connection()  # pymilvus has no public call for AllocTimestamp
    ts = call("delete", handler.alloc_timestamp)
    ts_utils.update_collection_ts(name, ts, handler.server_address, opts.db_name)


def open_collection(
    call: Call, client: Any, name: str
) -> tuple[CollectionSpec, MilvusIndexOptions]:
    """Describe and load an existing collection; the caller holds the engine lock."""
    desc = call("describe collection", client.describe_collection, name)
    index = call("describe index", client.describe_index, name, VECTOR)
    spec, opts = spec_from_description(name, desc, index or {})
    call("load collection", client.load_collection, name)
    return spec, opts


def _lite_acquire(uri: str) -> str:
    path = os.path.abspath(uri)  # the key milvus_lite's server manager uses
    with _registry_lock:
        _lite_refs[path] = _lite_refs.get(path, 0) + 1
    return path


def _lite_release(path: str) -> None:
    """Stop the in-process Milvus Lite server once its last store closed, freeing the ``.db`` lock
    so another process can open it."""
    with _registry_lock:
        left = _lite_refs.get(path, 0) - 1
        if left > 0:
            _lite_refs[path] = left
            return
        _lite_refs.pop(path, None)
    try:
        from milvus_lite.server_manager import (  # type: ignore[import-untyped]
            server_manager_instance,
        )
    except ImportError:  # pragma: no cover - pymilvus found a server without milvus-lite?
        return
    server_manager_instance.release_server(path)


# --------------------------------------------------------------------------- sync shell


class MilvusCollection(BaseCollection):
    """One Milvus collection over the sync ``MilvusClient``."""

    backend: ClassVar[str] = "milvus"

    def __init__(self, store: MilvusStore, spec: CollectionSpec, opts: MilvusIndexOptions) -> None:
        super().__init__(spec, capabilities_of(opts))
        self._store = store
        self.opts = opts

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self._store._call(what, fn, self.name, *args, **kwargs)

    def _upsert(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):
            self._call("upsert", self._store.client.upsert, build_rows(chunk))
        self._after_write()

    def _after_write(self) -> None:
        if self._store.opts.flush_writes():
            self._call("flush", self._store.client.flush)

    def _query(self, q: PreparedQuery) -> list[Hits]:
        expr = compile_filter(q.filter) if q.filter is not None else ""
        out: list[Hits] = []
        for part in _chunks(q.vectors, QUERY_CHUNK):
            params: dict[str, Any] | None = search_params(self.opts, self.metric, q.k, q.params)
            hits = self._search(part, q, expr, params)
            allowed: int | None = None
            while q.filter is not None and short(hits, q.k):
                params = widened(self.opts, params or {})
                if params is None:
                    break
                if allowed is None:
                    allowed = self._count(q.filter)
                    if not short(hits, min(q.k, allowed)):
                        break
                hits = self._search(part, q, expr, params)
            out.extend(hits)
        return out

    def _search(self, part: Any, q: PreparedQuery, expr: str, params: Any) -> list[Hits]:
        result = self._call(
            "search",
            self._store.client.search,
            data=list(part),
            filter=expr,
            limit=q.k,
            output_fields=output_fields(q.include_payload, q.include_vectors),
            search_params=params,
            anns_field=VECTOR,
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_hits(result, self.metric, q)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        rows: list[Mapping[str, Any]] = []
        fields = output_fields(True, include_vectors)
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            rows.extend(
                self._call(
                    "get",
                    self._store.client.query,
                    filter=ids_filter(part),
                    output_fields=fields,
                    consistency_level=self._store.opts.consistency_level,
                )
            )
        return parse_records(rows, ids, include_vectors)

    def _delete_ids(self, ids: list[str]) -> None:
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            self._call("delete", self._store.client.delete, filter=ids_filter(part))
        self._after_delete()

    def _delete_filter(self, flt: Filter) -> None:
        self._call("delete", self._store.client.delete, filter=compile_filter(flt))
        self._after_delete()

    def _after_delete(self) -> None:
        self._after_write()
        cover_delete(self._store._call, self._store.client, self._store.opts, self.name)

    def _count(self, flt: Filter | None) -> int:
        rows = self._call(
            "count",
            self._store.client.query,
            filter=compile_filter(flt) if flt is not None else "",
            output_fields=["count(*)"],
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_count(rows)

    def _explain(self, flt: Filter) -> str:
        return compile_filter(flt)


class MilvusStore(BaseStore):
    """Collections in a Milvus server, Zilliz Cloud, or a Milvus Lite ``.db`` directory."""

    backend: ClassVar[str] = "milvus"
    capabilities: ClassVar[Capabilities] = Capabilities(
        native_async=True, max_batch=1000, max_k=MAX_TOPK, persistent=True
    )
    Options = MilvusOptions

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, MilvusOptions):
            raise ConfigError(f"MilvusStore needs MilvusOptions, got {type(options).__name__}")
        super().__init__(options)
        self.opts = options
        self._serial = engine_lock(options)
        self._lite_path = _lite_acquire(options.uri) if options.lite else None
        try:
            self._client: Any = _connect(MilvusClient, options)
        except BaseException:
            self._release_lite()
            raise

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncMilvusStore:
        """The native async store (``AsyncMilvusClient`` for data, sync client for DDL)."""
        if not isinstance(options, MilvusOptions):
            raise ConfigError(f"MilvusStore needs MilvusOptions, got {type(options).__name__}")
        return AsyncMilvusStore(options)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return blocking_call(self.opts, self._serial, what, fn, *args, **kwargs)

    def _list_collections(self) -> list[str]:
        return sorted(self._call("list collections", self.client.list_collections))

    def _has_collection(self, name: str) -> bool:
        return bool(
            self._call("has collection", self.client.has_collection, check_collection_name(name))
        )

    def _create(self, spec: CollectionSpec) -> MilvusCollection:
        with self._serial:
            spec, opts = create_collection(self._call, self.client, self.opts, spec)
        return MilvusCollection(self, spec, opts)

    def _open(self, name: str) -> MilvusCollection:
        with self._serial:
            spec, opts = open_collection(self._call, self.client, name)
        return MilvusCollection(self, spec, opts)

    def _drop(self, name: str) -> None:
        with self._serial:
            self._call("drop collection", self.client.drop_collection, name)

    @property
    def client(self) -> Any:
        """The ``MilvusClient`` (for what edgevec does not wrap); closed stores have none."""
        if self._client is None:
            raise BackendUnavailableError("this Milvus store is closed")
        return self._client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self._release_lite()

    def _release_lite(self) -> None:
        path, self._lite_path = self._lite_path, None
        if path is not None:
            _lite_release(path)


def _connect(factory: Any, opts: MilvusOptions) -> Any:
    try:
        return factory(**client_kwargs(opts))
    except _CLIENT_ERRORS as exc:
        # The uri is safe to show: it cannot hold credentials (refused when validated).
        raise translate_error(exc, f"connect to {opts.uri}", opts.token) from exc


# --------------------------------------------------------------------------- async shell


class AsyncMilvusCollection(AsyncBaseCollection):
    """Async twin of :class:`MilvusCollection`: data operations through ``AsyncMilvusClient``."""

    backend: ClassVar[str] = "milvus"

    def __init__(
        self, store: AsyncMilvusStore, spec: CollectionSpec, opts: MilvusIndexOptions
    ) -> None:
        super().__init__(spec, capabilities_of(opts))
        self._store = store
        self.opts = opts

    async def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._store._acall(what, method, self.name, *args, **kwargs)

    async def _upsert(self, batch: PreparedUpsert) -> None:
        for chunk in batch.chunks(self.capabilities.max_batch):
            await self._call("upsert", "upsert", build_rows(chunk))
        await self._after_write()

    async def _after_write(self) -> None:
        if self._store.opts.flush_writes():
            await self._call("flush", "flush")

    async def _query(self, q: PreparedQuery) -> list[Hits]:
        expr = compile_filter(q.filter) if q.filter is not None else ""
        out: list[Hits] = []
        for part in _chunks(q.vectors, QUERY_CHUNK):
            params: dict[str, Any] | None = search_params(self.opts, self.metric, q.k, q.params)
            hits = await self._search(part, q, expr, params)
            allowed: int | None = None
            while q.filter is not None and short(hits, q.k):
                params = widened(self.opts, params or {})
                if params is None:
                    break
                if allowed is None:
                    allowed = await self._count(q.filter)
                    if not short(hits, min(q.k, allowed)):
                        break
                hits = await self._search(part, q, expr, params)
            out.extend(hits)
        return out

    async def _search(self, part: Any, q: PreparedQuery, expr: str, params: Any) -> list[Hits]:
        result = await self._call(
            "search",
            "search",
            data=list(part),
            filter=expr,
            limit=q.k,
            output_fields=output_fields(q.include_payload, q.include_vectors),
            search_params=params,
            anns_field=VECTOR,
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_hits(result, self.metric, q)

    async def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        rows: list[Mapping[str, Any]] = []
        fields = output_fields(True, include_vectors)
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            rows.extend(
                await self._call(
                    "get",
                    "query",
                    filter=ids_filter(part),
                    output_fields=fields,
                    consistency_level=self._store.opts.consistency_level,
                )
            )
        return parse_records(rows, ids, include_vectors)

    async def _delete_ids(self, ids: list[str]) -> None:
        for part in _chunks(list(dict.fromkeys(ids)), QUERY_CHUNK):
            await self._call("delete", "delete", filter=ids_filter(part))
        await self._after_delete()

    async def _delete_filter(self, flt: Filter) -> None:
        await self._call("delete", "delete", filter=compile_filter(flt))
        await self._after_delete()

    async def _after_delete(self) -> None:
        await self._after_write()
        client, _ = await self._store._clients()
        await asyncio.to_thread(
            cover_delete, self._store._call, client, self._store.opts, self.name
        )

    async def _count(self, flt: Filter | None) -> int:
        rows = await self._call(
            "count",
            "query",
            filter=compile_filter(flt) if flt is not None else "",
            output_fields=["count(*)"],
            consistency_level=self._store.opts.consistency_level,
        )
        return parse_count(rows)

    def _explain(self, flt: Filter) -> str:
        return compile_filter(flt)


class AsyncMilvusStore(AsyncBaseStore):
    """Async Milvus store. Both clients are created on first use, off the event loop."""

    backend: ClassVar[str] = "milvus"
    capabilities: ClassVar[Capabilities] = MilvusStore.capabilities

    def __init__(self, options: MilvusOptions) -> None:
        super().__init__(options)
        self.opts = options
        self._serial = engine_lock(options)
        self._sync: Any = None
        self._async: Any = None
        self._lite_path: str | None = None
        self._closed = False
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.opts!r}>"

    async def _clients(self) -> tuple[Any, Any]:
        if self._closed:
            raise BackendUnavailableError("this Milvus store is closed")
        if self._async is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._async is None:
                    await asyncio.to_thread(self._open_clients)
        return self._sync, self._async

    def _open_clients(self) -> None:
        # The sync client starts Milvus Lite (blocking) and serves DDL; the async one then only
        # reads its config, its channel is opened lazily on the event loop.
        if self.opts.lite and self._lite_path is None:
            self._lite_path = _lite_acquire(self.opts.uri)
        try:
            self._sync = _connect(MilvusClient, self.opts)
            self._async = _connect(AsyncMilvusClient, self.opts)
        except BaseException:
            if self._sync is not None:
                self._sync.close()
                self._sync = None
            self._release_lite()
            raise

    async def _acall(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.opts.lite and method in LITE_UNSAFE:
            # Serialised with every other writer of the .db in this process, sync stores too:
            # a thread holds the lock, so a cancelled task cannot leave it held.
            return await self._ddl(what, method, *args, **kwargs)
        _, aclient = await self._clients()
        try:
            return await getattr(aclient, method)(*args, timeout=self.opts.timeout, **kwargs)
        except _CLIENT_ERRORS as exc:
            raise translate_error(exc, what, self.opts.token) from exc

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return blocking_call(self.opts, self._serial, what, fn, *args, **kwargs)

    async def _ddl(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A sync-client call in a worker thread: DDL, and Milvus Lite's serialised writes."""
        client, _ = await self._clients()
        return await asyncio.to_thread(self._call, what, getattr(client, method), *args, **kwargs)

    async def _serialised(self, step: Callable[[Any], T]) -> T:
        """``step(sync_client)`` in a worker thread holding the engine lock (DDL)."""
        client, _ = await self._clients()

        def locked() -> T:
            with self._serial:
                return step(client)

        return await asyncio.to_thread(locked)

    async def _list_collections(self) -> list[str]:
        return sorted(await self._ddl("list collections", "list_collections"))

    async def _has_collection(self, name: str) -> bool:
        return bool(
            await self._ddl("has collection", "has_collection", check_collection_name(name))
        )

    async def _create(self, spec: CollectionSpec) -> AsyncMilvusCollection:
        spec, opts = await self._serialised(
            lambda client: create_collection(self._call, client, self.opts, spec)
        )
        return AsyncMilvusCollection(self, spec, opts)

    async def _open(self, name: str) -> AsyncMilvusCollection:
        spec, opts = await self._serialised(
            lambda client: open_collection(self._call, client, name)
        )
        return AsyncMilvusCollection(self, spec, opts)

    async def _drop(self, name: str) -> None:
        await self._serialised(
            lambda client: self._call("drop collection", client.drop_collection, name)
        )

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        aclient, self._async = self._async, None
        client, self._sync = self._sync, None
        if aclient is not None:
            await aclient.close()
        if client is not None:
            await asyncio.to_thread(client.close)
        if self._lite_path is not None:
            await asyncio.to_thread(self._release_lite)

    def _release_lite(self) -> None:
        path, self._lite_path = self._lite_path, None
        if path is not None:
            _lite_release(path)
