"""Qdrant backend: a server (REST or gRPC) or Qdrant's own local mode, through one code path.

``edgevec.connect("qdrant", url="https://qdrant.example.com:6333", api_key=...)`` talks to a
server; ``location=":memory:"`` (the default) and ``path="./dir"`` run qdrant-client's local mode,
Qdrant's reference implementation in pure Python. Either way the same ``QdrantClient`` /
``AsyncQdrantClient`` methods are called with the same arguments.

Everything that is not I/O lives in pure functions below: option handling, id mapping, the filter
compiler, request building and response parsing, error mapping. A hook builds a :class:`_Call`
(client method name, keyword arguments, parser) and the sync and async shells only differ in
whether they ``await`` it, so the two APIs cannot drift apart.

Mapping to edgevec's contracts:

* **Ids**: Qdrant point ids must be unsigned ints or UUIDs, so the caller's ``str`` id becomes
  ``uuid5(ID_NAMESPACE, id)``; the original id travels in the payload under :data:`RESERVED_KEY`
  and is stripped from what callers see.
* **Scores**: Qdrant returns cosine similarity and inner product as they are, and the *distance*
  ``‖a-b‖`` (square-rooted, ascending) for Euclid; edgevec's l2 score is its negation.
* **Cosine vectors** are unit-normalised by Qdrant on write; the norm is kept next to the id so
  ``get`` and ``include_vectors`` return what was written (as the FAISS backend does).
* **Filters** compile to ``models.Filter``; where Qdrant's own operators differ from edgevec's
  semantics they are rewritten faithfully (see :func:`compile_filter`).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from urllib3.util import parse_url  # qdrant-client's own URL parser

from edgevec.abase import AsyncBaseStore
from edgevec.aplanned import AsyncPlannedCollection
from edgevec.backends._endpoints import Endpoint, agree, check_plaintext, parse_endpoint
from edgevec.backends._local import DirLock
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.config import parse_options
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigError,
    CorruptDataError,
    EdgevecError,
    FilterNotSupportedError,
    InvalidInputError,
)
from edgevec.filters import And, Cmp, Filter, Not, Or, double_range
from edgevec.planned import PlannedCollection
from edgevec.prepare import PreparedQuery, PreparedUpsert, check_collection_name
from edgevec.scores import Reported, to_score
from edgevec.types import CollectionSpec, Hit, Hits, Metric, Record

if TYPE_CHECKING:
    from edgevec.vectors import Matrix

__all__ = [
    "ID_NAMESPACE",
    "RESERVED_KEY",
    "AsyncQdrantCollection",
    "AsyncQdrantStore",
    "QdrantCollection",
    "QdrantCollectionOptions",
    "QdrantOptions",
    "QdrantStore",
    "compile_filter",
    "point_id",
]

T = TypeVar("T")

ID_NAMESPACE = uuid.UUID("6f1c3f9e-5d2a-5b8e-9a47-2c0e8d1b7a35")
"""The one namespace of ``uuid5`` point ids; fixed forever, or existing data becomes unreachable."""

RESERVED_KEY = "__edgevec__"
"""Payload key of ``{"id": original id, "norm": float (cosine only)}``; callers cannot use it."""

_METRIC_TO_DISTANCE: dict[Metric, models.Distance] = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "l2": models.Distance.EUCLID,
}
_DISTANCE_TO_METRIC = {d: m for m, d in _METRIC_TO_DISTANCE.items()}
# Qdrant reports Euclid as the distance ‖a-b‖ (root taken); Cosine and Dot as similarities.
_REPORTED: dict[Metric, Reported] = {"cosine": "similarity", "dot": "similarity", "l2": "distance"}
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_LOCAL_NOT_FOUND = re.compile(r"Collection .* not found")
_QUERY_PARAMS = frozenset({"exact", "hnsw_ef"})
_EXACT_INT = 2**53  # every int up to this size is exactly a double

PayloadIndexType = Literal["keyword", "integer", "float", "bool", "datetime", "uuid"]


# --------------------------------------------------------------------------------- options


class QdrantCollectionOptions(BaseModel):
    """Per-collection options: ``create_collection(..., payload_indexes={"color": "keyword"})``.

    They are saved in the collection's Qdrant metadata, so ``collection(name)`` restores them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    payload_indexes: dict[str, PayloadIndexType] = Field(default_factory=dict)
    """Field path -> Qdrant index type, created with the collection (a server needs them for fast
    filtering). edgevec compiles numeric ``==``/``in`` to ranges, so index numeric fields as
    ``float`` (it covers ints too); an ``integer`` index ignores float values. Local mode has no
    payload indexes and skips them."""
    exact: bool | None = None
    """Exact (brute-force) search on a server; ``None`` takes the store's ``exact``."""
    hnsw_ef: int | None = Field(default=None, ge=1)
    """HNSW search beam on a server; ``None`` keeps the server's default."""
    hnsw_m: int | None = Field(default=None, ge=0)
    ef_construct: int | None = Field(default=None, ge=4)
    on_disk: bool | None = None
    """Keep vectors on disk (memory-mapped) on a server."""


class QdrantOptions(BaseModel):
    """Options of ``edgevec.connect("qdrant", ...)``.

    Give ``url`` for a server, or ``path`` / ``location=":memory:"`` for local mode (the default).
    A URL without a scheme gets ``https://``: TLS is on unless asked off (``https=False`` or an
    explicit ``http://``), and an API key is never sent in clear text to a non-loopback host.
    """

    model_config = ConfigDict(extra="forbid")

    location: Literal[":memory:"] | None = None
    path: str | None = None
    url: str | None = None
    api_key: SecretStr | None = None
    https: bool | None = None
    """TLS for a URL without a scheme (default on); must agree with an explicit scheme."""
    grpc_port: int = Field(default=6334, ge=1, le=65_535)
    prefer_grpc: bool = False
    timeout: float = Field(default=10.0, gt=0)
    """Seconds per request; qdrant-client rounds it up to a whole second."""
    exact: bool = False
    """Default for collections on a server: exact search instead of HNSW (local mode is exact)."""
    batch_size: int = Field(default=256, ge=1, le=10_000)
    """Points per upsert request (Qdrant's REST body limit is 32 MiB by default)."""
    check_compatibility: bool = False
    """Ask the server for its version on connect (one extra request; a mismatch only warns)."""

    @model_validator(mode="after")
    def _one_target(self) -> QdrantOptions:
        given = [k for k in ("location", "path", "url") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of location, path or url, not {' and '.join(given)}")
        if self.url is None:
            for key in ("api_key", "https"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key} only applies with url (local mode has no network)")
        else:
            server_url(self)  # raises ValueError with the reason
        return self

    @property
    def local(self) -> bool:
        return self.url is None


def server_endpoint(opts: QdrantOptions) -> Endpoint:
    """The server URL, checked as qdrant-client itself parses it (urllib3's ``parse_url``), so
    the host judged loopback or remote here is the host the client contacts."""
    assert opts.url is not None
    default = "http" if opts.https is False else "https"
    ep = parse_endpoint(opts.url, "url", schemes=("http", "https"), default_scheme=default)
    theirs = parse_url(ep.url)
    agree((ep.host, ep.port), (theirs.host, theirs.port), "url", "qdrant-client (urllib3)")
    if opts.https is not None and opts.https != (ep.scheme == "https"):
        raise ValueError(f"https={opts.https} contradicts the {ep.scheme}:// url")
    check_plaintext(ep, ep.scheme == "https", opts.api_key is not None, "Qdrant url")
    return ep


def server_url(opts: QdrantOptions) -> str:
    """The URL handed to qdrant-client, always with an explicit scheme (TLS unless opted out)."""
    return server_endpoint(opts).url


def _check_client(client: QdrantClient | AsyncQdrantClient, opts: QdrantOptions) -> None:
    """Re-check, on the constructed client, the hosts its REST and gRPC channels will use.

    qdrant-client joins the url's path onto the base URL (``//host`` there would change the
    host) and keeps its own copy of host and port for gRPC.
    """
    if opts.url is None:
        return
    ep = server_endpoint(opts)
    remote = client._client
    try:
        rest = httpx.URL(getattr(remote, "rest_uri", ""))
        agree((ep.host, ep.port), (rest.host, rest.port), "url", "qdrant-client's REST base URL")
        grpc_host = getattr(remote, "_host", None)
        agree((ep.host, None), (grpc_host, None), "url", "qdrant-client's gRPC target")
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"invalid config for backend 'qdrant': {exc}") from None


def _path_lock(path: str) -> DirLock:
    # qdrant-client locks the folder itself, but on finding it taken it raises without closing
    # its lock file (a ResourceWarning later); our lock first gives a clean error instead.
    return DirLock(
        path,
        ".edgevec.lock",
        f"Qdrant storage {path} is in use by another store; local mode allows one client per "
        "folder (use a Qdrant server for shared access)",
    )


def client_kwargs(opts: QdrantOptions) -> dict[str, Any]:
    """Keyword arguments for ``QdrantClient`` and ``AsyncQdrantClient`` alike."""
    if opts.path is not None:
        # Calls are serialised by the store's lock, so SQLite's same-thread guard only gets in
        # the way of stores used from worker threads.
        return {"path": opts.path, "force_disable_check_same_thread": True}
    if opts.url is None:
        return {"location": ":memory:"}
    return {
        "url": server_url(opts),
        "api_key": None if opts.api_key is None else opts.api_key.get_secret_value(),
        "prefer_grpc": opts.prefer_grpc,
        "grpc_port": opts.grpc_port,
        "timeout": math.ceil(opts.timeout),
        "check_compatibility": opts.check_compatibility,
    }


def _capabilities(opts: QdrantOptions, exact: bool) -> Capabilities:
    return QdrantStore.capabilities.narrowed(
        max_batch=opts.batch_size,
        exact=exact or opts.local,
        persistent=opts.path is not None or opts.url is not None,
    )


# ------------------------------------------------------------------------------ id mapping


def point_id(record_id: str) -> str:
    """The Qdrant point id (a UUID string) of an edgevec record id."""
    return str(uuid.uuid5(ID_NAMESPACE, record_id))


def _check_reserved(batch: PreparedUpsert) -> None:
    for rid, payload in zip(batch.ids, batch.payloads, strict=True):
        if RESERVED_KEY in payload:
            raise InvalidInputError(
                f"payload of {rid!r} uses {RESERVED_KEY!r}, a key the Qdrant backend reserves"
            )


# --------------------------------------------------------------------------------- filters


def payload_key(path: str) -> str:
    """A dotted edgevec field path as a Qdrant JSON path (unusual keys quoted)."""
    parts = path.split(".")
    if parts[0] == RESERVED_KEY:
        raise FilterNotSupportedError(f"field {RESERVED_KEY!r} is reserved by the Qdrant backend")
    out = []
    for part in parts:
        if _PLAIN_KEY.fullmatch(part):
            out.append(part)
        elif '"' in part or "\\" in part:
            # Qdrant's path grammar has no escapes inside a quoted key.
            raise FilterNotSupportedError(
                f"Qdrant cannot address payload key {part!r} (it contains a quote or backslash)"
            )
        else:
            out.append(f'"{part}"')
    return ".".join(out)


def _equals(key: str, value: Any) -> models.Condition:
    if isinstance(value, bool | str):
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))
    # MatchValue only matches integers stored as integers (3.0 is not 3), and never floats;
    # a closed range compares every stored number numerically and skips bools, as edgevec does.
    in_range = models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    if isinstance(value, int) and abs(value) > _EXACT_INT:
        # Range bounds are doubles: beyond 2**53 the int itself is matched exactly, and the
        # range is kept only for the float equal to it, if there is one.
        exact = models.FieldCondition(key=key, match=models.MatchValue(value=value))
        return models.Filter(should=[exact, in_range]) if float(value) == value else exact
    return in_range


def _any_of(key: str, values: Sequence[Any]) -> models.Condition:
    strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
    # Keyed by kind as well: True == 1 in Python, but not in edgevec.
    others = list({(isinstance(v, bool), v): v for v in values if not isinstance(v, str)}.values())
    conds: list[models.Condition] = []
    if strings:
        conds.append(models.FieldCondition(key=key, match=models.MatchAny(any=strings)))
    conds.extend(_equals(key, v) for v in others)  # MatchAny takes no bools and no floats
    return conds[0] if len(conds) == 1 else models.Filter(should=conds)


def _negate(cond: models.Condition) -> models.Condition:
    """``must_not`` of ``cond``, cancelling a double negation (``not exists`` is ``is_empty``)."""
    if (
        isinstance(cond, models.Filter)
        and isinstance(cond.must_not, list)
        and len(cond.must_not) == 1
        and not cond.must
        and not cond.should
        and cond.min_should is None
    ):
        return cond.must_not[0]
    return models.Filter(must_not=[cond])


def _condition(node: Filter) -> models.Condition:
    if isinstance(node, And):
        return models.Filter(must=[_condition(a) for a in node.args])
    if isinstance(node, Or):
        return models.Filter(should=[_condition(a) for a in node.args])
    if isinstance(node, Not):
        return _negate(_condition(node.arg))
    if not isinstance(node, Cmp):
        raise InvalidInputError(f"not a filter node: {node!r}")
    key = payload_key(node.field)
    op, value = node.op, node.value
    if op == "eq":
        return _equals(key, value)
    if op == "in":
        return _any_of(key, value)
    if op in ("ne", "nin"):
        # must_not of the positive test: absent fields match, as edgevec's ne/nin require.
        # MatchExcept would not do: it needs the field present and, for a list, is satisfied by
        # any one element outside the set.
        return _negate(_equals(key, value) if op == "ne" else _any_of(key, value))
    if op == "exists":
        # IsEmpty: the key is missing, null or []; exactly edgevec's "not exists".
        return _negate(models.IsEmptyCondition(is_empty=models.PayloadField(key=key)))
    bound_op, bound = double_range(op, value)  # bounds are doubles: 2**53 + 1 must not round
    return models.FieldCondition(key=key, range=models.Range(**{bound_op: bound}))


def compile_filter(flt: Filter | None) -> models.Filter | None:
    """The Qdrant filter for an edgevec filter, with the same semantics.

    * ``eq`` / ``in`` on a number become closed ranges (``gte == lte == v``): Qdrant's
      ``MatchValue`` has no float variant and would not match ``3.0`` for ``3``.
    * ``eq`` on a string or bool is ``MatchValue``; ``in`` on strings is ``MatchAny``, the other
      values of a mixed list are OR-ed equalities.
    * ``ne`` / ``nin`` / ``not`` are ``must_not``, so records lacking the field match.
    * ``lt lte gt gte`` are ``Range``, which only matches numbers (not bools).
    * ``exists`` is ``must_not: is_empty``.

    Qdrant's range bounds are doubles, and a server reads stored integers as doubles for ranges,
    so the store refuses payload ints beyond ±2**53 (``exact_int_bits=53``) and a bound no double
    holds is rewritten to its neighbouring double (:func:`edgevec.filters.double_range`).
    """
    if flt is None:
        return None
    cond = _condition(flt)
    return cond if isinstance(cond, models.Filter) else models.Filter(must=[cond])


def _compile(flt: Filter) -> models.Filter:
    compiled = compile_filter(flt)
    assert compiled is not None  # only None for no filter
    return compiled


def render_filter(flt: Filter) -> str:
    """The JSON Qdrant receives for ``flt`` (what ``explain`` shows)."""
    return _compile(flt).model_dump_json(exclude_none=True, by_alias=True)


# ------------------------------------------------------------------------ requests/responses


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One client call, built without I/O: run by the sync shell, awaited by the async one."""

    method: str
    kwargs: dict[str, Any]
    parse: Callable[[Any], T]
    action: str
    """What was being done, for error messages."""


def _ignore(_: Any) -> None:
    return None


def _split_payload(payload: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(caller payload, edgevec's reserved entry)``."""
    user = dict(payload or {})
    meta = user.pop(RESERVED_KEY, None)
    return user, meta if isinstance(meta, dict) else {}


def _vector_out(raw: Any, meta: Mapping[str, Any]) -> Matrix:
    if not isinstance(raw, list):
        raise BackendError("point has named or sparse vectors; edgevec uses the default vector")
    vec = np.asarray(raw, dtype=np.float64)
    norm = meta.get("norm")
    if isinstance(norm, int | float):
        # Cosine: scale to the written length. Qdrant returns the unit vector, except local mode
        # reopened from ``path=``, which hands back the vector as written (qdrant-client 1.20
        # persists it un-normalised and does not renormalise on load); this covers both.
        length = float(np.linalg.norm(vec))
        if length > 0.0:
            vec = vec * (norm / length)
    return np.ascontiguousarray(vec, dtype=np.float32)


class _Translator:
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

    def upsert(self, batch: PreparedUpsert) -> _Call[None]:
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
        return _Call("upsert", kwargs, _ignore, self._where("upsert"))

    def _search_params(self, params: Mapping[str, Any]) -> models.SearchParams | None:
        unknown = set(params) - _QUERY_PARAMS
        if unknown:
            raise InvalidInputError(
                f"unknown Qdrant query params {sorted(unknown)}; valid: {sorted(_QUERY_PARAMS)}"
            )
        if self.local:  # local mode is always exact, and warns about search params
            return None
        exact = params.get("exact", self.exact)
        hnsw_ef = params.get("hnsw_ef", self.hnsw_ef)
        if not exact and hnsw_ef is None:
            return None
        return models.SearchParams(exact=bool(exact), hnsw_ef=None if exact else hnsw_ef)

    def query(self, q: PreparedQuery) -> _Call[list[Hits]]:
        search = self._search_params(q.params)
        qfilter = compile_filter(q.filter)
        with_payload: bool | models.PayloadSelectorInclude = (
            True if q.include_payload else models.PayloadSelectorInclude(include=[RESERVED_KEY])
        )
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

        return _Call("query_batch_points", kwargs, parse, self._where("query"))

    def _score(self, raw: float) -> float:
        return to_score(raw, _REPORTED[self.metric])

    def _hits(self, points: Sequence[models.ScoredPoint], q: PreparedQuery) -> Hits:
        hits = []
        for p in points:
            user, meta = _split_payload(p.payload)
            hits.append(
                Hit(
                    str(meta.get("id", p.id)),
                    self._score(p.score),
                    user if q.include_payload else {},
                    _vector_out(p.vector, meta) if q.include_vectors else None,
                )
            )
        return Hits(hits)

    def explain(self, flt: Filter) -> str:
        return render_filter(flt)

    def get(self, ids: list[str], include_vectors: bool) -> _Call[list[Record]]:
        kwargs = {
            "collection_name": self.name,
            "ids": list(dict.fromkeys(point_id(i) for i in ids)),
            "with_payload": True,
            "with_vectors": include_vectors,
        }

        def parse(points: list[models.Record]) -> list[Record]:
            found: dict[str, Record] = {}
            for p in points:
                user, meta = _split_payload(p.payload)
                rid = str(meta.get("id", p.id))
                vec = _vector_out(p.vector, meta) if include_vectors else None
                found[rid] = Record(rid, vec, user)
            return [found[i] for i in ids if i in found]

        return _Call("retrieve", kwargs, parse, self._where("get"))

    def delete_ids(self, ids: list[str]) -> _Call[None]:
        selector = models.PointIdsList(points=[point_id(i) for i in ids])
        kwargs = {"collection_name": self.name, "points_selector": selector, "wait": True}
        return _Call("delete", kwargs, _ignore, self._where("delete"))

    def delete_filter(self, flt: Filter) -> _Call[None]:
        selector = models.FilterSelector(filter=_compile(flt))
        kwargs = {"collection_name": self.name, "points_selector": selector, "wait": True}
        return _Call("delete", kwargs, _ignore, self._where("delete"))

    def count(self, flt: Filter | None) -> _Call[int]:
        kwargs = {"collection_name": self.name, "count_filter": compile_filter(flt), "exact": True}

        def parse(result: models.CountResult) -> int:
            return int(result.count)

        return _Call("count", kwargs, parse, self._where("count"))


# ---------------------------------------------------------------------- store-level requests


def _list_call() -> _Call[list[str]]:
    def parse(resp: models.CollectionsResponse) -> list[str]:
        return sorted(c.name for c in resp.collections)

    return _Call("get_collections", {}, parse, "list Qdrant collections")


def _exists_call(name: str) -> _Call[bool]:
    return _Call(
        "collection_exists", {"collection_name": name}, bool, f"look up Qdrant collection {name!r}"
    )


def _drop_call(name: str) -> _Call[None]:
    return _Call(
        "delete_collection", {"collection_name": name}, _ignore, f"drop Qdrant collection {name!r}"
    )


def collection_options(spec: CollectionSpec) -> QdrantCollectionOptions:
    """Validate ``create_collection``'s keyword options; :class:`ConfigError` names the bad key."""
    opts = parse_options(
        QdrantCollectionOptions, spec.options, f"Qdrant options for collection {spec.name!r}"
    )
    try:
        for field in opts.payload_indexes:
            payload_key(field)
    except FilterNotSupportedError as exc:
        raise ConfigError(f"payload_indexes: {exc}") from None
    return opts


def plan_create(
    spec: CollectionSpec, local: bool
) -> tuple[CollectionSpec, QdrantCollectionOptions, list[_Call[None]]]:
    """Validated options, the spec as stored, and the calls that create the collection."""
    opts = collection_options(spec)
    spec = CollectionSpec(spec.name, spec.dim, spec.metric, opts.model_dump(), spec.fingerprint)
    hnsw = None
    if opts.hnsw_m is not None or opts.ef_construct is not None:
        hnsw = models.HnswConfigDiff(m=opts.hnsw_m, ef_construct=opts.ef_construct)
    vectors = models.VectorParams(
        size=spec.dim, distance=_METRIC_TO_DISTANCE[spec.metric], on_disk=opts.on_disk
    )
    meta = {"options": opts.model_dump(), "fingerprint": spec.fingerprint, "format": 1}
    create = {
        "collection_name": spec.name,
        "vectors_config": vectors,
        "hnsw_config": hnsw,
        "metadata": {"edgevec": meta},
    }
    calls = [_Call("create_collection", create, _ignore, f"create Qdrant collection {spec.name!r}")]
    if not local:  # local mode has no payload indexes (and warns that they do nothing)
        for field, kind in opts.payload_indexes.items():
            kwargs = {
                "collection_name": spec.name,
                "field_name": payload_key(field),
                "field_schema": models.PayloadSchemaType(kind),
                "wait": True,
            }
            calls.append(
                _Call("create_payload_index", kwargs, _ignore, f"index {field!r} of {spec.name!r}")
            )
    return spec, opts, calls


def _info_call(name: str) -> _Call[tuple[CollectionSpec, QdrantCollectionOptions]]:
    def parse(info: models.CollectionInfo) -> tuple[CollectionSpec, QdrantCollectionOptions]:
        return spec_from_info(name, info)

    return _Call(
        "get_collection", {"collection_name": name}, parse, f"open Qdrant collection {name!r}"
    )


def spec_from_info(
    name: str, info: models.CollectionInfo
) -> tuple[CollectionSpec, QdrantCollectionOptions]:
    """Rebuild a collection's spec from Qdrant's description of it (and edgevec's metadata)."""
    params = info.config.params.vectors
    if not isinstance(params, models.VectorParams):
        raise BackendError(
            f"Qdrant collection {name!r} has named vectors (or none); edgevec needs one unnamed "
            "dense vector"
        )
    metric = _DISTANCE_TO_METRIC.get(params.distance)
    if metric is None:
        raise BackendError(
            f"Qdrant collection {name!r} uses distance {params.distance.value}, which edgevec "
            "does not support (cosine, dot, l2)"
        )
    meta = (info.config.metadata or {}).get("edgevec")
    fingerprint = None
    opts = QdrantCollectionOptions()
    if meta is not None:  # collections made by other tools have none: defaults apply
        try:
            opts = QdrantCollectionOptions.model_validate(meta["options"])
            fingerprint = meta.get("fingerprint")
        except (TypeError, KeyError, ValidationError) as exc:
            raise CorruptDataError(
                f"edgevec metadata of Qdrant collection {name!r} is unreadable: {exc}"
            ) from exc
    spec = CollectionSpec(name, params.size, metric, opts.model_dump(), fingerprint)
    return spec, opts


# ---------------------------------------------------------------------------------- errors


def _grpc_status(exc: BaseException) -> str | None:
    """The status name of a gRPC error (duck-typed: grpcio ships no type information)."""
    if not any(
        c.__name__ == "RpcError" and c.__module__.split(".")[0] == "grpc" for c in type(exc).__mro__
    ):
        return None
    code = getattr(exc, "code", None)
    status = code() if callable(code) else None
    return str(getattr(status, "name", "UNKNOWN"))


def _rest_detail(exc: UnexpectedResponse) -> str:
    try:
        detail = str(json.loads(exc.content)["status"]["error"])
    except (ValueError, KeyError, TypeError):
        detail = exc.content[:200].decode("utf-8", "replace")
    return detail[:300]


def map_error(exc: BaseException, action: str) -> EdgevecError | None:
    """The edgevec error for a client exception, or ``None`` if it is not one we know.

    Messages carry the action, status and the server's own short message; never the request
    headers (which hold the API key).
    """
    if isinstance(exc, UnexpectedResponse):
        status, detail = exc.status_code, _rest_detail(exc)
        message = f"could not {action}: HTTP {status}: {detail}"
        if status in (401, 403):
            return AuthenticationError(message)
        if status == 404:
            return CollectionNotFoundError(message)
        if status in (408, 504):
            return BackendTimeoutError(message)
        if status in (429, 502, 503):
            return BackendUnavailableError(message)
        return BackendError(message)
    if isinstance(exc, ResourceExhaustedResponse):
        return BackendUnavailableError(
            f"could not {action}: rate limited, retry after {exc.retry_after_s} s"
        )
    if isinstance(exc, ResponseHandlingException):
        source = exc.source
        if isinstance(source, httpx.TimeoutException):
            return BackendTimeoutError(f"could not {action}: timed out ({type(source).__name__})")
        if isinstance(source, httpx.TransportError):
            return BackendUnavailableError(
                f"could not {action}: Qdrant unreachable ({type(source).__name__}: {source})"
            )
        return BackendError(f"could not {action}: {type(source).__name__}: {source}")
    status_name = _grpc_status(exc)
    if status_name is not None:
        details = getattr(exc, "details", None)
        text = str(details() if callable(details) else "")[:300]
        message = f"could not {action}: gRPC {status_name}: {text}"
        if status_name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return AuthenticationError(message)
        if status_name == "NOT_FOUND":
            return CollectionNotFoundError(message)
        if status_name == "DEADLINE_EXCEEDED":
            return BackendTimeoutError(message)
        if status_name in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"):
            return BackendUnavailableError(message)
        return BackendError(message)
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeoutError(f"could not {action}: timed out")
    if isinstance(exc, httpx.TransportError):
        return BackendUnavailableError(f"could not {action}: {type(exc).__name__}: {exc}")
    # Local mode signals with builtin exceptions.
    if isinstance(exc, ValueError) and _LOCAL_NOT_FOUND.fullmatch(str(exc)):
        return CollectionNotFoundError(f"could not {action}: {exc}")
    if isinstance(exc, RuntimeError):  # closed client, or storage locked by another client
        return BackendUnavailableError(f"could not {action}: {exc}")
    if isinstance(exc, ValueError):
        return BackendError(f"could not {action}: {exc}")
    return None


@contextlib.contextmanager
def _mapped_errors(action: str) -> Iterator[None]:
    """Translate client exceptions into edgevec's tree, chained (usable around ``await`` too)."""
    try:
        yield
    except EdgevecError:
        raise
    except Exception as exc:
        err = map_error(exc, action)
        if err is None:
            raise
        raise err from exc


# ------------------------------------------------------------------------------ sync shell


class QdrantCollection(PlannedCollection):
    """A Qdrant collection behind the sync API."""

    backend: ClassVar[str] = "qdrant"

    def __init__(
        self, store: QdrantStore, spec: CollectionSpec, opts: QdrantCollectionOptions
    ) -> None:
        tr = _Translator(spec, opts, store.opts)
        super().__init__(spec, _capabilities(store.opts, tr.exact), tr, store._run)

    def _upsert(self, batch: PreparedUpsert) -> None:
        _check_reserved(batch)  # the whole batch, before its first chunk is sent
        super()._upsert(batch)


class QdrantStore(BaseStore):
    """Collections in a Qdrant server or in Qdrant's local mode, through ``QdrantClient``."""

    backend: ClassVar[str] = "qdrant"
    capabilities: ClassVar[Capabilities] = Capabilities(
        native_async=True, max_batch=256, persistent=True, exact_int_bits=53
    )
    Options = QdrantOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, QdrantOptions)
        super().__init__(options)
        self.opts = options
        # Local mode is not thread-safe; a server client is, and should not be serialised.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if options.local else contextlib.nullcontext()
        )
        self._path_lock = None if options.path is None else _path_lock(options.path)
        try:
            with _mapped_errors("open Qdrant"):
                self._client = QdrantClient(**client_kwargs(options))
            _check_client(self._client, options)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._path_lock is not None:
            self._path_lock.release()

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncQdrantStore:
        """The native async store (``AsyncQdrantClient``), not this one in worker threads."""
        assert isinstance(options, QdrantOptions)
        return AsyncQdrantStore(options)

    def _run(self, call: _Call[T]) -> T:
        with self._lock, _mapped_errors(call.action):
            raw = getattr(self._client, call.method)(**call.kwargs)
        return call.parse(raw)

    def _list_collections(self) -> list[str]:
        return self._run(_list_call())

    def _has_collection(self, name: str) -> bool:
        return self._run(_exists_call(check_collection_name(name)))

    def _create(self, spec: CollectionSpec) -> QdrantCollection:
        spec, opts, calls = plan_create(spec, self.opts.local)
        for call in calls:
            self._run(call)
        return QdrantCollection(self, spec, opts)

    def _open(self, name: str) -> QdrantCollection:
        spec, opts = self._run(_info_call(name))
        return QdrantCollection(self, spec, opts)

    def _drop(self, name: str) -> None:
        self._run(_drop_call(name))

    def _close(self) -> None:
        try:
            with self._lock, _mapped_errors("close Qdrant"):
                self._client.close()
        finally:
            self._release()


# ----------------------------------------------------------------------------- async shell


class AsyncQdrantCollection(AsyncPlannedCollection):
    """A Qdrant collection behind the async API (``AsyncQdrantClient``, no worker threads)."""

    backend: ClassVar[str] = "qdrant"

    def __init__(
        self, store: AsyncQdrantStore, spec: CollectionSpec, opts: QdrantCollectionOptions
    ) -> None:
        tr = _Translator(spec, opts, store.opts)
        super().__init__(spec, _capabilities(store.opts, tr.exact), tr, store._run)

    async def _upsert(self, batch: PreparedUpsert) -> None:
        _check_reserved(batch)
        await super()._upsert(batch)


class AsyncQdrantStore(AsyncBaseStore):
    """Async twin of :class:`QdrantStore` over ``AsyncQdrantClient``.

    In local mode the client computes on the event loop thread (qdrant-client's local engine is
    synchronous Python): fine for tests and small data, use a server for real load.
    """

    backend: ClassVar[str] = "qdrant"
    capabilities: ClassVar[Capabilities] = QdrantStore.capabilities
    Options = QdrantOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, QdrantOptions)
        super().__init__(options)
        self.opts = options
        self._path_lock = None if options.path is None else _path_lock(options.path)
        try:
            with _mapped_errors("open Qdrant"):
                self._client = AsyncQdrantClient(**client_kwargs(options))
            _check_client(self._client, options)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._path_lock is not None:
            self._path_lock.release()

    async def _run(self, call: _Call[T]) -> T:
        with _mapped_errors(call.action):
            raw = await getattr(self._client, call.method)(**call.kwargs)
        return call.parse(raw)

    async def _list_collections(self) -> list[str]:
        return await self._run(_list_call())

    async def _has_collection(self, name: str) -> bool:
        return await self._run(_exists_call(check_collection_name(name)))

    async def _create(self, spec: CollectionSpec) -> AsyncQdrantCollection:
        spec, opts, calls = plan_create(spec, self.opts.local)
        for call in calls:
            await self._run(call)
        return AsyncQdrantCollection(self, spec, opts)

    async def _open(self, name: str) -> AsyncQdrantCollection:
        spec, opts = await self._run(_info_call(name))
        return AsyncQdrantCollection(self, spec, opts)

    async def _drop(self, name: str) -> None:
        await self._run(_drop_call(name))

    async def _close(self) -> None:
        try:
            with _mapped_errors("close Qdrant"):
                await self._client.close()
        finally:
            self._release()
