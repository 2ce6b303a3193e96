"""Pinecone backend: every collection is a namespace of one Pinecone index.

``edgevec.connect("pinecone", api_key=..., host="https://my-index-abc.svc.pinecone.io")`` (or
``index="my-index"``, resolved through Pinecone's control plane). Namespaces are Pinecone's tenant
boundary, so a collection maps to the namespace ``namespace_prefix + name``; a catalog namespace
(``namespace_prefix + "edgevec-catalog"``, a name no collection can have) holds one small record
per collection with its dimension, metric and embedder fingerprint. The sync API uses
``pinecone.Index``, the async API ``pinecone.AsyncIndex`` (what ``Pinecone.IndexAsyncio``
returns) natively.

All logic lives in pure code below: options, id and payload encoding, the filter compiler, vector
transforms, and *plans* — generators that yield the client calls (or sleeps) an operation needs
and receive their results. The sync and async shells only differ in how they run a plan, so
chunking, pagination, partial-failure reporting and read-your-writes are written once.

Mapping to edgevec's contracts (details in ``docs/backends/pinecone.md``):

* **Dimension and metric.** An index has one dimension ``D`` and one metric. A collection of
  dimension ``d <= D`` is stored zero-padded to ``D`` (padding changes no cosine, inner product or
  distance). A collection whose metric differs from the index's is served exactly where algebra
  allows: on a ``dotproduct`` index cosine uses unit vectors and l2 uses lifted vectors
  ``[a, ‖a‖², 1]`` queried with ``[2q, -1, 0]`` (re-scored exactly from the returned values); on a
  ``euclidean`` index cosine uses unit vectors (``cos = 1 - d²/2``). Other pairs are refused.
* **Ids** must be ASCII without NUL, at most 512 characters. Such ids are used unchanged (unless
  they start with ``~``); others become ``~q:`` + percent-encoded UTF-8 when that fits, else
  ``~h:`` + SHA-256 with the original id kept in the record's metadata.
* **Scores**: cosine and dotproduct are similarities; euclidean returns the *squared* distance
  (Pinecone's documentation), so edgevec's l2 score is ``-sqrt(raw)``.
* **Payloads** are flattened to dotted keys (``.``, ``%`` and a leading ``~``/``$`` escaped) so
  Pinecone stores what it can natively (strings, numbers, booleans, lists of strings); what it
  cannot (nulls, empty containers, lists holding non-strings, integers beyond ±2**53) travels in a
  JSON side record ``~m`` and in derived ``~``-keys that keep filters faithful.
* **Filters** compile to Pinecone's metadata filter language in negation normal form; see
  :func:`compile_filter`.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import string
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import quote, unquote

import httpx
import numpy as np
import numpy.typing as npt
import orjson
from pinecone import AsyncIndex, AsyncPinecone, Index, Pinecone
from pinecone.errors.exceptions import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    PineconeConnectionError,
    PineconeError,
    PineconeTimeoutError,
    PineconeTypeError,
    PineconeValueError,
    RateLimitError,
    ResponseParsingError,
    UnauthorizedError,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from edgevec.abase import AsyncBaseStore
from edgevec.aplanned import AsyncPlannedCollection
from edgevec.backends._endpoints import agree, check_plaintext, parse_endpoint
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
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
    InvalidVectorError,
    PartialWriteError,
)
from edgevec.filters import And, Cmp, Filter, Not, Or
from edgevec.planned import PlannedCollection
from edgevec.prepare import PreparedQuery, PreparedUpsert, check_collection_name
from edgevec.scores import l2_between, to_score
from edgevec.types import METRICS, CollectionSpec, Hit, Hits, Metric, Record

__all__ = [
    "CATALOG_NAMESPACE",
    "MAX_METADATA_BYTES",
    "MAX_REQUEST_BYTES",
    "AsyncPineconeCollection",
    "AsyncPineconeStore",
    "PineconeCollection",
    "PineconeOptions",
    "PineconeStore",
    "compile_filter",
    "decode_metadata",
    "encode_metadata",
    "map_error",
    "record_id",
    "vector_id",
]

T = TypeVar("T")

IndexMetric = Literal["cosine", "dotproduct", "euclidean"]

CATALOG_NAMESPACE = "edgevec-catalog"
"""Namespace (after the prefix) of the collection catalog; ``-`` keeps it off collection names."""
MAX_METADATA_BYTES = 40_000
"""Pinecone's limit is 40 KB of metadata per record; measured as compact JSON, with a margin."""
MAX_REQUEST_BYTES = 2_000_000 - 16_384
"""Pinecone's upsert limit is 2 MB per request; the margin covers the request envelope."""
MAX_IDS_PER_REQUEST = 1_000  # fetch and delete
MAX_FETCH_URL_BYTES = 8_000  # ids travel in the query string of GET /vectors/fetch
MAX_FILTER_VALUES = 10_000  # per $in / $nin operator
MAX_ID_CHARS = 512
LIST_PAGE = 100  # /vectors/list allows at most 100 per page

_SIDE = "~m"  # JSON side record: {"i": int keys, "x": {key: value}, "id": original id, "n": norm}
_EXISTS, _NUMERIC, _TAGS, _LOW, _HIGH = "~x.", "~n.", "~t.", "~lo.", "~hi."
_EXACT_INT = 2**53
_PLAIN_ID = re.compile(r"[\x01-\x7f]+")
_ID_SAFE = "".join(c for c in string.punctuation + " " if c != "%")
_UNESCAPE = re.compile(r"%([0-9A-F]{2})")
_METRIC_ALIASES = {"dot": "dotproduct", "l2": "euclidean"}
_NATIVE: dict[IndexMetric, Metric] = {"cosine": "cosine", "dotproduct": "dot", "euclidean": "l2"}
_POLL_START, _POLL_MAX = 0.05, 1.0

Vector = npt.NDArray[np.float32]


# --------------------------------------------------------------------------------- options


class PineconeOptions(BaseModel):
    """Options of ``edgevec.connect("pinecone", ...)``.

    Give the index's data-plane ``host`` (``https://`` is added when no scheme is given; plain
    ``http://`` only to a loopback address, such as a local test server), or its ``index`` name,
    resolved through the control plane (``controller_host`` overrides Pinecone's public API).
    """

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr
    host: str | None = None
    index: str | None = None
    controller_host: str | None = None
    metric: IndexMetric | None = None
    """The index's metric, when neither the data plane nor the control plane reports it.
    ``dot``/``l2`` are accepted for ``dotproduct``/``euclidean``."""
    namespace_prefix: str = ""
    """Prepended to every namespace, so several applications can share one index."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds per request attempt (the client retries 429/5xx up to 3 times with backoff)."""
    batch_size: int = Field(default=1000, ge=1, le=1000)
    """Records per upsert request at most; requests are also kept under 2 MB."""
    exact: bool = False
    """Declare that the index answers exactly (the loopback test server does); Pinecone's own
    indexes are approximate, so the default is ``False``."""
    read_your_writes: bool = False
    """After each write, wait until queries (or fetches) see it, up to ``consistency_timeout``."""
    consistency_timeout: float = Field(default=10.0, gt=0)

    @field_validator("metric", mode="before")
    @classmethod
    def _metric_alias(cls, value: object) -> object:
        return _METRIC_ALIASES.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> PineconeOptions:
        if (self.host is None) == (self.index is None):
            raise ValueError("give exactly one of host (the index's data-plane URL) or index")
        if self.host is not None:
            https_url(self.host, "host")
            if self.controller_host is not None:
                raise ValueError("controller_host only applies with index (a name to resolve)")
        if self.controller_host is not None:
            https_url(self.controller_host, "controller_host")
        prefix = self.namespace_prefix
        if not prefix.isascii() or "\x00" in prefix or len(prefix) > 400:
            raise ValueError("namespace_prefix must be ASCII without NUL, at most 400 characters")
        return self


def https_url(value: str, what: str = "host") -> str:
    """``value`` as a URL with an explicit scheme: ``https`` unless ``http`` to loopback.

    The API key goes with every request, so plain ``http`` is refused for any other host.
    """
    ep = parse_endpoint(value, what, schemes=("http", "https"), default_scheme="https", path=False)
    check_plaintext(ep, ep.scheme == "https", True, what)
    return ep.url


def _controller(opts: PineconeOptions) -> str | None:
    return (
        None if opts.controller_host is None else https_url(opts.controller_host, "controller_host")
    )


def _check_index(index: Index | AsyncIndex, url: str) -> None:
    """The constructed client must contact exactly the checked URL (the client rewrites some
    hosts, e.g. stacked or unknown schemes, before it sends the API key there)."""
    theirs = str(getattr(index, "host", ""))
    ep = parse_endpoint(url, "host", schemes=("http", "https"), default_scheme="https")
    try:
        parsed = httpx.URL(theirs)
        agree((ep.host, ep.port), (parsed.host, parsed.port), "host", "the Pinecone client")
        if theirs.rstrip("/") != url:
            raise ValueError(f"host: the Pinecone client would use {theirs!r}, not {url!r}")
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"cannot open the Pinecone index: {exc}") from None


# ------------------------------------------------------------------------------ id mapping


def vector_id(record: str) -> str:
    """The Pinecone vector id of an edgevec record id (deterministic, fixed forever)."""
    if _PLAIN_ID.fullmatch(record) and not record.startswith("~") and len(record) <= MAX_ID_CHARS:
        return record
    quoted = "~q:" + quote(record, safe=_ID_SAFE)
    if len(quoted) <= MAX_ID_CHARS:
        return quoted
    return "~h:" + hashlib.sha256(record.encode("utf-8")).hexdigest()


def record_id(vid: str, side: Mapping[str, Any]) -> str:
    """The edgevec id of a stored vector (``side`` is its decoded ``~m`` record)."""
    if vid.startswith("~q:"):
        return unquote(vid[3:], errors="strict")
    if vid.startswith("~h:"):
        original = side.get("id")
        if not isinstance(original, str):
            raise CorruptDataError(f"Pinecone vector {vid!r} lacks its original id")
        return original
    return vid


# ------------------------------------------------------------------------ payload encoding


def _escape(key: str) -> str:
    if not key:
        return "%"  # a lone '%' is never produced by escaping, so it can stand for ''
    out = key.replace("%", "%25").replace(".", "%2E")
    if out[0] in "~$":
        out = f"%{ord(out[0]):02X}{out[1:]}"
    return out


def _unescape(segment: str) -> str:
    if segment == "%":
        return ""
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), segment)


def field_key(path: str) -> str:
    """The metadata key of a dotted edgevec field path."""
    return ".".join(_escape(part) for part in path.split("."))


def _canon(value: int | float) -> str:
    """One spelling per number, so that ``3`` and ``3.0`` share a tag and ``2**53+1`` keeps its."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _tag(value: Any) -> str | None:
    """Type-tagged string of a scalar (``s:red``, ``n:3``, ``b:true``); ``None`` otherwise."""
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, str):
        return f"s:{value}"
    if isinstance(value, int | float):
        return f"n:{_canon(value)}"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Flat:
    """What one payload becomes: native metadata, derived filter keys and the side record."""

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}
        self.ints: list[str] = []
        self.extra: dict[str, Any] = {}

    def walk(self, obj: Mapping[str, Any], prefix: str) -> None:
        for key, value in obj.items():
            self.leaf(f"{prefix}{_escape(key)}", value)

    def leaf(self, key: str, value: Any) -> None:
        md = self.metadata
        if value is None:
            self.extra[key] = None
        elif isinstance(value, bool | str):
            md[key] = value
        elif isinstance(value, int):
            if abs(value) <= _EXACT_INT:
                md[key] = value
                md[_NUMERIC + key] = True
                self.ints.append(key)
            else:  # a double cannot hold it: exact in the tags, nearest double for ranges
                self.derived(key, [value])
                self.extra[key] = value
        elif isinstance(value, float):
            md[key] = value
            md[_NUMERIC + key] = True
        elif isinstance(value, Mapping):
            md[_EXISTS + key] = True
            if value:
                self.walk(value, f"{key}.")
            else:
                self.extra[key] = {}
        elif isinstance(value, list | tuple):
            if not value:
                self.extra[key] = []
            elif all(isinstance(e, str) for e in value):
                md[key] = list(value)
            else:
                self.derived(key, list(value))
                self.extra[key] = list(value)
        else:  # prepare_upsert admits JSON only
            raise InvalidInputError(f"payload value at {key!r} is not JSON: {value!r}")

    def derived(self, key: str, elements: list[Any]) -> None:
        md = self.metadata
        md[_EXISTS + key] = True
        tags = list(dict.fromkeys(t for t in map(_tag, elements) if t is not None))
        if tags:
            md[_TAGS + key] = tags
        numbers = [e for e in elements if _is_number(e)]
        if numbers:
            md[_NUMERIC + key] = True
            md[_LOW + key] = float(min(numbers))
            md[_HIGH + key] = float(max(numbers))


def encode_metadata(
    payload: Mapping[str, Any], *, original_id: str | None = None, norm: float | None = None
) -> dict[str, Any]:
    """The Pinecone metadata of a payload (plus the original id / vector norm when needed)."""
    flat = _Flat()
    flat.walk(payload, "")
    side: dict[str, Any] = {}
    if flat.ints:
        side["i"] = flat.ints
    if flat.extra:
        side["x"] = flat.extra
    if original_id is not None:
        side["id"] = original_id
    if norm is not None:
        side["n"] = norm
    if side:
        flat.metadata[_SIDE] = orjson.dumps(side).decode()
    return flat.metadata


def _side(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = (metadata or {}).get(_SIDE)
    if not isinstance(raw, str):
        return {}
    try:
        side = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptDataError(
            f"unreadable edgevec side record in Pinecone metadata: {exc}"
        ) from exc
    if not isinstance(side, dict):
        raise CorruptDataError("edgevec side record in Pinecone metadata is not an object")
    return side


def _put(payload: dict[str, Any], key: str, value: Any) -> None:
    parts = [_unescape(p) for p in key.split(".")]
    node = payload
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):  # metadata written by another tool: keep the flat key
            payload[key] = value
            return
        node = child
    node[parts[-1]] = value


def decode_metadata(metadata: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(payload, side record)`` of stored metadata: the payload exactly as it was written."""
    side = _side(metadata)
    ints = set(side.get("i", ()))
    payload: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if key.startswith("~"):
            continue
        if _is_number(value):  # Pinecone keeps every number as a double
            value = int(value) if key in ints else float(value)
        _put(payload, key, value)
    for key, value in side.get("x", {}).items():
        _put(payload, key, value)
    return payload, side


# --------------------------------------------------------------------------------- filters


def compile_filter(flt: Filter | None) -> dict[str, Any] | None:
    """Pinecone's metadata filter for an edgevec filter, in negation normal form.

    ``not`` is pushed to the leaves (De Morgan) and each negated leaf is rewritten so the result
    never depends on how Pinecone treats a missing field (it is documented as matching only
    present fields for ``$ne``): ``x != v`` becomes ``x missing or x $ne v``. Equality is
    strict by construction (tags such as ``n:3`` / ``s:3`` / ``b:true`` for values Pinecone
    cannot store natively); ranges read the number itself or the min/max of a number list;
    ``not (x < v)`` is "no number at x, or every number >= v". Raises
    :class:`FilterNotSupportedError` for an ``in`` list longer than Pinecone accepts.
    """
    if flt is None:
        return None
    return _compile(flt, negate=False)


def _compile(node: Filter, negate: bool) -> dict[str, Any]:
    if isinstance(node, Not):
        return _compile(node.arg, not negate)
    if isinstance(node, And | Or):
        conjunction = isinstance(node, And) != negate
        return _join("$and" if conjunction else "$or", [_compile(a, negate) for a in node.args])
    if isinstance(node, Cmp):
        return _leaf(node, negate)
    raise InvalidInputError(f"not a filter node: {node!r}")


def _join(op: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for part in parts:
        flat.extend(part[op] if set(part) == {op} else [part])
    return flat[0] if len(flat) == 1 else {op: flat}


def _leaf(cmp: Cmp, negate: bool) -> dict[str, Any]:
    key = field_key(cmp.field)
    op = cmp.op
    if op in ("ne", "nin"):
        op, negate = ("eq" if op == "ne" else "in"), not negate
    if op == "eq":
        return _membership(key, (cmp.value,), negate)
    if op == "in":
        if len(cmp.value) > MAX_FILTER_VALUES:
            raise FilterNotSupportedError(
                f"Pinecone accepts at most {MAX_FILTER_VALUES} values per $in/$nin; "
                f"{cmp.field!r} has {len(cmp.value)}"
            )
        return _membership(key, tuple(cmp.value), negate)
    if op == "exists":
        if negate:
            return {"$and": [{key: {"$exists": False}}, {_EXISTS + key: {"$exists": False}}]}
        return {"$or": [{key: {"$exists": True}}, {_EXISTS + key: {"$exists": True}}]}
    return _range(key, op, cmp.value, negate)


def _membership(key: str, values: Sequence[Any], negate: bool) -> dict[str, Any]:
    strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
    bools = list(dict.fromkeys(v for v in values if isinstance(v, bool)))
    # Numbers a double holds exactly may match a natively stored number; others only a tag.
    numbers = list(dict.fromkeys(float(v) for v in values if _is_number(v) and float(v) == v))
    tags = list(dict.fromkeys(t for t in map(_tag, values) if t is not None))
    positive: list[dict[str, Any]] = []
    negative: list[dict[str, Any]] = []
    for group in (strings, numbers):
        if len(group) == 1:
            positive.append({key: {"$eq": group[0]}})
            negative.append({key: {"$ne": group[0]}})
        elif group:
            positive.append({key: {"$in": group}})
            negative.append({key: {"$nin": group}})
    for flag in bools:
        positive.append({key: {"$eq": flag}})
        negative.append({key: {"$ne": flag}})
    tag_key = _TAGS + key
    if not negate:
        return _join("$or", [*positive, {tag_key: {"$in": tags}}])
    parts = []
    if negative:
        parts.append(_join("$or", [{key: {"$exists": False}}, _join("$and", negative)]))
    parts.append({"$or": [{tag_key: {"$exists": False}}, {tag_key: {"$nin": tags}}]})
    return _join("$and", parts)


_COMPLEMENT = {"lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}


def _range(key: str, op: str, value: int | float, negate: bool) -> dict[str, Any]:
    # "some number < v" is "min < v"; its negation "every number >= v" is "min >= v".
    side = _LOW if op in ("lt", "lte") else _HIGH
    test = _COMPLEMENT[op] if negate else op
    pin_op, bound = _bound(test, value)
    atoms: list[dict[str, Any]] = [{key: {pin_op: bound}}, {side + key: {pin_op: bound}}]
    if negate:
        atoms.insert(0, {_NUMERIC + key: {"$exists": False}})
    return {"$or": atoms}


def _bound(op: str, value: int | float) -> tuple[str, float]:
    """Operator and double bound equivalent to ``x op value`` for every double ``x``."""
    approx = float(value)
    if approx == value:
        return f"${op}", approx
    if op in ("lt", "lte"):  # x < v  <=>  x <= the largest double below v
        return "$lte", approx if approx < value else math.nextafter(approx, -math.inf)
    return "$gte", approx if approx > value else math.nextafter(approx, math.inf)


def render_filter(flt: Filter) -> str:
    """The filter Pinecone receives, as JSON with sorted keys."""
    return orjson.dumps(compile_filter(flt), option=orjson.OPT_SORT_KEYS).decode()


# ------------------------------------------------------------------------- vector spaces


Mode = Literal["native", "unit", "lift"]


@dataclass(frozen=True, slots=True)
class _IndexInfo:
    dimension: int
    metric: IndexMetric


@dataclass(frozen=True, slots=True)
class _Space:
    """How a collection's vectors live in the index: padding, normalisation or lifting."""

    dim: int
    index_dim: int
    metric: Metric
    index_metric: IndexMetric
    mode: Mode

    @classmethod
    def of(cls, spec: CollectionSpec, info: _IndexInfo) -> _Space:
        native = _NATIVE[info.metric]
        mode: Mode | None = None
        if spec.metric == native:
            mode = "native"
        elif spec.metric == "cosine" and info.metric in ("dotproduct", "euclidean"):
            mode = "unit"
        elif spec.metric == "l2" and info.metric == "dotproduct":
            mode = "lift"
        if mode is None:
            raise InvalidInputError(
                f"this Pinecone index scores with {info.metric!r}, which cannot serve a "
                f"{spec.metric!r} collection; create an index with metric "
                f"{'dotproduct' if spec.metric == 'dot' else spec.metric!r} (a dotproduct index "
                "serves all three metrics)"
            )
        room = info.dimension - (2 if mode == "lift" else 0)
        if spec.dim > room:
            extra = " (an l2 collection on a dotproduct index needs 2 spare dimensions)"
            raise InvalidInputError(
                f"collection {spec.name!r} has dim={spec.dim}, but the Pinecone index holds "
                f"{info.dimension}-dimensional vectors{extra if mode == 'lift' else ''}"
            )
        return cls(spec.dim, info.dimension, spec.metric, info.metric, mode)

    @property
    def rescore(self) -> bool:
        """Scores are recomputed from the returned values (lifted l2)."""
        return self.mode == "lift"

    def rows(self, mat: Vector) -> tuple[Vector, npt.NDArray[np.float64] | None]:
        """Stored rows ``(n, index_dim)`` for ``mat`` ``(n, dim)``, and the norms (unit mode)."""
        n = mat.shape[0]
        out = np.zeros((n, self.index_dim), dtype=np.float32)
        norms = None
        if self.mode == "unit":
            norms = np.linalg.norm(mat.astype(np.float64), axis=1)
            out[:, : self.dim] = mat / norms[:, None]
        else:
            out[:, : self.dim] = mat
        if self.mode == "lift":
            with np.errstate(over="ignore"):
                squared = np.einsum("ij,ij->i", mat.astype(np.float64), mat.astype(np.float64))
                out[:, -2] = squared.astype(np.float32)
            if not np.isfinite(out[:, -2]).all():
                bad = int(np.flatnonzero(~np.isfinite(out[:, -2]))[0])
                raise InvalidVectorError(
                    f"vectors[{bad}] is too long for l2 on a dotproduct index (‖v‖² overflows)"
                )
            out[:, -1] = 1.0
        elif not out.any(axis=1).all():
            bad = int(np.flatnonzero(~out.any(axis=1))[0])
            raise InvalidVectorError(f"vectors[{bad}] is all zeros, which Pinecone rejects")
        return out, norms

    def query(self, row: Vector) -> list[float]:
        out = np.zeros(self.index_dim, dtype=np.float32)
        if self.mode == "unit":
            out[: self.dim] = row / np.linalg.norm(row.astype(np.float64))
        elif self.mode == "lift":
            out[: self.dim] = 2.0 * row
            out[-2] = -1.0
        else:
            out[: self.dim] = row
        result: list[float] = out.tolist()
        return result

    def score(self, raw: float, row: Vector, values: Vector | None) -> float:
        if self.mode == "lift":
            if values is not None and values.shape[0] >= self.dim:
                return l2_between(values[: self.dim], row)
            squared = float(row.astype(np.float64) @ row.astype(np.float64)) - raw
            return to_score(squared, "squared_distance")
        if self.index_metric == "euclidean":
            return to_score(raw, "unit_squared" if self.mode == "unit" else "squared_distance")
        return to_score(raw, "similarity")

    def restore(self, values: Sequence[float], side: Mapping[str, Any]) -> Vector:
        vec = np.asarray(values[: self.dim], dtype=np.float32)
        if self.mode == "unit":
            norm = side.get("n")
            if isinstance(norm, int | float):
                vec = (vec.astype(np.float64) * float(norm)).astype(np.float32)
        return np.ascontiguousarray(vec)


# ------------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class _Call:
    """One client call: method name and keyword arguments (the same on Index and AsyncIndex)."""

    method: str
    kwargs: dict[str, Any]
    action: str
    missing_ok: bool = False
    """A 404 (Pinecone's answer for an absent namespace) yields ``None`` instead of raising."""


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


Step = _Call | _Sleep
Plan = Generator[Step, Any, T]


@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    vid: str
    body: dict[str, Any]
    size: int


def _chunks_by_size(rows: Sequence[_Row], max_count: int, max_bytes: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    size = 0
    for row in rows:
        if chunk and (len(chunk) >= max_count or size + row.size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row.size + 1
    if chunk:
        yield chunk


def _fetch_chunks(vids: Sequence[str]) -> Iterator[list[str]]:
    """Id lists for ``GET /vectors/fetch``: at most 1000 ids and a bounded query string."""
    chunk: list[str] = []
    length = 0
    for vid in vids:
        cost = len(quote(vid, safe="")) + 5  # "&ids="
        if chunk and (len(chunk) >= MAX_IDS_PER_REQUEST or length + cost > MAX_FETCH_URL_BYTES):
            yield chunk
            chunk, length = [], 0
        chunk.append(vid)
        length += cost
    if chunk:
        yield chunk


def _lsn(response: Any, kind: Literal["committed", "reconciled"]) -> int | None:
    info = getattr(response, "response_info", None)
    value = getattr(info, f"lsn_{kind}", None) if info is not None else None
    return value if isinstance(value, int) else None


def _plan_wait(what: str, timeout: float) -> Iterator[float]:
    """Drive a poll loop: each value is how long to sleep if the poll just made failed.

    The first poll happens at once and the last one at the deadline; a failed poll at or past
    the deadline raises :class:`BackendTimeoutError`.
    """
    deadline = time.monotonic() + timeout
    delay = _POLL_START
    while True:
        remaining = deadline - time.monotonic()
        yield max(min(delay, remaining), 0.0)
        if remaining <= 0:
            raise BackendTimeoutError(
                f"Pinecone acknowledged the write but {what} was not visible after {timeout:g} s "
                "(read_your_writes); it is likely to appear later"
            )
        delay = min(delay * 2, _POLL_MAX)


class _Store:
    """What both store shells share: options, the index description and the catalog."""

    def __init__(self, opts: PineconeOptions) -> None:
        self.opts = opts
        self.info: _IndexInfo | None = None
        self.reported_metric: IndexMetric | None = None  # from the control plane, by name
        self.catalog = opts.namespace_prefix + CATALOG_NAMESPACE

    def namespace(self, name: str) -> str:
        ns = self.opts.namespace_prefix + name
        if ns == "__default__":  # Pinecone's spelling of the default namespace
            raise InvalidInputError("collection name '__default__' is Pinecone's default namespace")
        return ns

    def capabilities(self) -> Capabilities:
        return PineconeStore.capabilities.narrowed(
            exact=self.opts.exact, max_batch=self.opts.batch_size
        )

    def plan_info(self) -> Plan[_IndexInfo]:
        if self.info is None:
            stats = yield _Call("describe_index_stats", {}, "describe the Pinecone index")
            self.info = self.index_info(stats)
        return self.info

    def index_info(self, stats: Any) -> _IndexInfo:
        dimension = getattr(stats, "dimension", None)
        if not isinstance(dimension, int) or dimension < 1:
            raise BackendError("the Pinecone index reports no dense dimension (a sparse index?)")
        reported = getattr(stats, "metric", None) or self.reported_metric
        configured = self.opts.metric
        if isinstance(reported, str) and reported not in _NATIVE:
            raise BackendError(f"the Pinecone index uses an unknown metric {reported!r}")
        if configured is not None and reported is not None and configured != reported:
            raise ConfigError(
                f"option metric={configured!r} contradicts the index, which reports {reported!r}"
            )
        metric = configured or reported
        if metric is None:
            raise ConfigError(
                "the Pinecone index does not report its metric: pass metric= "
                "('cosine', 'dotproduct' or 'euclidean')"
            )
        return _IndexInfo(dimension, metric)

    def catalog_row(self, spec: CollectionSpec, info: _IndexInfo) -> dict[str, Any]:
        metadata: dict[str, Any] = {"dim": spec.dim, "metric": spec.metric, "format": 1}
        if spec.fingerprint is not None:
            metadata["fingerprint"] = spec.fingerprint
        values = [0.0] * info.dimension
        values[0] = 1.0
        return {"id": spec.name, "values": values, "metadata": metadata}

    # -- plans ---------------------------------------------------------------------------

    def plan_list(self) -> Plan[list[str]]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = yield _Call(
                "list_paginated",
                {"namespace": self.catalog, "limit": LIST_PAGE, "pagination_token": token},
                "list edgevec collections",
                missing_ok=True,
            )
            if page is None:
                break
            names.extend(item.id for item in page.vectors if item.id)
            token = page.pagination.next if page.pagination is not None else None
            if not token:
                break
        return sorted(names)

    def _fetch_catalog(self, name: str) -> Plan[Any]:
        response = yield _Call(
            "fetch",
            {"ids": [name], "namespace": self.catalog},
            f"look up collection {name!r}",
            missing_ok=True,
        )
        return None if response is None else response.vectors.get(name)

    def plan_has(self, name: str) -> Plan[bool]:
        return (yield from self._fetch_catalog(name)) is not None

    def plan_create(self, spec: CollectionSpec) -> Plan[_Collection]:
        if spec.options:
            raise ConfigError(
                f"Pinecone collections take no options, got {', '.join(sorted(spec.options))}"
            )
        self.namespace(spec.name)
        info = yield from self.plan_info()
        coll = _Collection(self, spec, _Space.of(spec, info))
        yield _Call(
            "upsert",
            {"vectors": [self.catalog_row(spec, info)], "namespace": self.catalog},
            f"create collection {spec.name!r}",
        )
        if self.opts.read_your_writes:
            for delay in _plan_wait(f"collection {spec.name!r}", self.opts.consistency_timeout):
                if (yield from self._fetch_catalog(spec.name)) is not None:
                    break
                yield _Sleep(delay)
        return coll

    def plan_open(self, name: str) -> Plan[_Collection]:
        ns = self.namespace(name)
        info = yield from self.plan_info()
        row = yield from self._fetch_catalog(name)
        if row is not None:
            spec = spec_from_catalog(name, row.metadata)
        else:  # a namespace written by another tool opens with the index's own metric
            stats = yield _Call("describe_index_stats", {}, f"open collection {name!r}")
            summary = stats.namespaces.get(ns)
            if summary is None or not summary.vector_count:
                raise CollectionNotFoundError(f"no collection or Pinecone namespace named {ns!r}")
            spec = CollectionSpec(name, info.dimension, _NATIVE[info.metric])
        return _Collection(self, spec, _Space.of(spec, info))

    def plan_drop(self, name: str) -> Plan[None]:
        ns = self.namespace(name)
        yield _Call(
            "delete",
            {"delete_all": True, "namespace": ns},
            f"delete the records of {name!r}",
            missing_ok=True,
        )
        yield _Call(
            "delete",
            {"ids": [name], "namespace": self.catalog},
            f"drop collection {name!r}",
            missing_ok=True,
        )
        if self.opts.read_your_writes:
            for delay in _plan_wait(f"the drop of {name!r}", self.opts.consistency_timeout):
                gone = (yield from self._fetch_catalog(name)) is None
                page = yield _Call(
                    "list_paginated",
                    {"namespace": ns, "limit": 1},
                    f"check that {name!r} is empty",
                    missing_ok=True,
                )
                if gone and (page is None or not page.vectors):
                    break
                yield _Sleep(delay)


def spec_from_catalog(name: str, metadata: Mapping[str, Any] | None) -> CollectionSpec:
    md = metadata or {}
    dim, metric, fingerprint = md.get("dim"), md.get("metric"), md.get("fingerprint")
    if not isinstance(dim, int | float) or isinstance(dim, bool) or metric not in METRICS:
        raise CorruptDataError(f"catalog record of collection {name!r} is unreadable: {md!r}")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise CorruptDataError(f"catalog record of collection {name!r} has a bad fingerprint")
    return CollectionSpec(name, int(dim), metric, {}, fingerprint)


class _Collection:
    """Everything a collection does, as plans over one namespace."""

    def __init__(self, store: _Store, spec: CollectionSpec, space: _Space) -> None:
        self.store = store
        self.opts = store.opts
        self.spec = spec
        self.space = space
        self.ns = store.namespace(spec.name)
        self.capabilities = store.capabilities()

    # -- writes --------------------------------------------------------------------------

    def rows(self, batch: PreparedUpsert) -> list[_Row]:
        """Request bodies for every record, validated before anything is sent."""
        stored, norms = self.space.rows(batch.vectors)
        values = stored.tolist()
        out: list[_Row] = []
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
            out.append(_Row(rid, vid, body, len(orjson.dumps(body))))
        return out

    def upsert(self, batch: PreparedUpsert) -> Plan[None]:
        rows = self.rows(batch)
        written: list[str] = []
        committed: int | None = None
        for chunk in _chunks_by_size(rows, self.opts.batch_size, MAX_REQUEST_BYTES):
            try:
                response = yield _Call(
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
            lsn = _lsn(response, "committed")
            if lsn is not None:
                committed = lsn if committed is None else max(committed, lsn)
        if self.opts.read_your_writes and rows:
            yield from self.plan_wait_upserted(rows, committed)

    def plan_wait_upserted(self, rows: list[_Row], committed: int | None) -> Plan[None]:
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
            for delay in _plan_wait(what, timeout):
                response = yield _Call("query", probe, "check that the upsert is visible")
                reconciled = _lsn(response, "reconciled")
                if reconciled is None:
                    break  # no positions reported after all: compare records instead
                if reconciled >= committed:
                    return
                yield _Sleep(delay)
        pending = {r.vid: r.body for r in rows}
        for delay in _plan_wait(what, timeout - (time.monotonic() - start)):
            for chunk in _fetch_chunks(list(pending)):
                response = yield _Call(
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
            yield _Sleep(delay)

    def delete_ids(self, ids: list[str]) -> Plan[None]:
        vids = list(dict.fromkeys(vector_id(i) for i in ids))
        for start in range(0, len(vids), MAX_IDS_PER_REQUEST):
            chunk = vids[start : start + MAX_IDS_PER_REQUEST]
            yield _Call(
                "delete",
                {"ids": chunk, "namespace": self.ns},
                f"delete {len(chunk)} records from {self.spec.name!r}",
                missing_ok=True,
            )
        if self.opts.read_your_writes:
            for delay in _plan_wait(
                f"the deletion in {self.spec.name!r}", self.opts.consistency_timeout
            ):
                left = 0
                for chunk in _fetch_chunks(vids):
                    response = yield _Call(
                        "fetch",
                        {"ids": chunk, "namespace": self.ns},
                        "check that the delete is visible",
                        missing_ok=True,
                    )
                    left += 0 if response is None else len(response.vectors)
                if not left:
                    return
                yield _Sleep(delay)

    def delete_filter(self, flt: Filter) -> Plan[None]:
        compiled = compile_filter(flt)
        probe = {"filter": compiled, "namespace": self.ns, "limit": 1}
        if self.opts.read_your_writes:  # a delete it could not confirm must not start at all
            yield from self.metadata_page(probe, f"delete by filter from {self.spec.name!r}")
        yield _Call(
            "delete",
            {"filter": compiled, "namespace": self.ns},
            f"delete by filter from {self.spec.name!r}",
            missing_ok=True,
        )
        if self.opts.read_your_writes:
            for delay in _plan_wait(
                f"the deletion in {self.spec.name!r}", self.opts.consistency_timeout
            ):
                page = yield from self.metadata_page(probe, "check that the delete is visible")
                if page is None or not page.vectors:
                    return
                yield _Sleep(delay)

    # -- reads ---------------------------------------------------------------------------

    def query(self, q: PreparedQuery) -> Plan[list[Hits]]:
        if q.params:
            raise InvalidInputError(
                f"Pinecone queries take no params, got {', '.join(sorted(q.params))}"
            )
        compiled = compile_filter(q.filter)
        with_values = q.include_vectors or self.space.rescore
        out: list[Hits] = []
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
            response = yield _Call("query", kwargs, f"query {self.spec.name!r}")
            out.append(self.hits(response.matches, row, q))
        return out

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
        stored: dict[str, Any] = {}
        for chunk in _fetch_chunks(list(dict.fromkeys(vids))):
            response = yield _Call(
                "fetch",
                {"ids": chunk, "namespace": self.ns},
                f"get records of {self.spec.name!r}",
                missing_ok=True,
            )
            if response is not None:
                stored.update(response.vectors)
        records = []
        for rid, vid in zip(ids, vids, strict=True):
            vec = stored.get(vid)
            if vec is None:
                continue
            payload, side = decode_metadata(vec.metadata)
            vector = self.space.restore(vec.values, side) if include_vectors else None
            records.append(Record(rid, vector, payload))
        return records

    def count(self, flt: Filter | None) -> Plan[int]:
        if flt is None:
            stats = yield _Call("describe_index_stats", {}, f"count {self.spec.name!r}")
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
        page = yield _Call("fetch_by_metadata", kwargs, action, missing_ok=True)
        if page is not None:
            return page
        stats = yield _Call("describe_index_stats", {}, action)
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


# ---------------------------------------------------------------------------------- errors


def map_error(exc: BaseException, action: str) -> EdgevecError | None:
    """The edgevec error for a Pinecone client exception, or ``None`` for one we do not know.

    Messages carry the action, the HTTP status and the server's short message, never request
    headers (which hold the API key).
    """
    if isinstance(exc, UnauthorizedError | ForbiddenError):
        return AuthenticationError(
            f"could not {action}: Pinecone refused the API key (HTTP {exc.status_code})"
        )
    if isinstance(exc, NotFoundError):
        return CollectionNotFoundError(f"could not {action}: {exc}")
    if isinstance(exc, PayloadTooLargeError):
        return BackendError(f"could not {action}: request too large: {exc}")
    if isinstance(exc, RateLimitError):
        return BackendUnavailableError(f"could not {action}: rate limited: {exc}")
    if isinstance(exc, ApiError):
        status = exc.status_code
        if status in (408, 504):
            return BackendTimeoutError(f"could not {action}: {exc}")
        if status in (502, 503):
            return BackendUnavailableError(f"could not {action}: {exc}")
        return BackendError(f"could not {action}: {exc}")
    if isinstance(exc, PineconeTimeoutError):
        return BackendTimeoutError(f"could not {action}: timed out ({exc})")
    if isinstance(exc, PineconeConnectionError):
        return BackendUnavailableError(f"could not {action}: Pinecone unreachable ({exc})")
    if isinstance(exc, ResponseParsingError):
        return BackendError(f"could not {action}: unexpected response from Pinecone ({exc})")
    if isinstance(exc, PineconeValueError | PineconeTypeError):
        return InvalidInputError(f"could not {action}: the Pinecone client refused it: {exc}")
    if isinstance(exc, PineconeError):
        return BackendError(f"could not {action}: {exc}")
    if isinstance(exc, RuntimeError):  # a closed client
        return BackendUnavailableError(f"could not {action}: {exc}")
    return None


def _failed(exc: Exception, call: _Call) -> None:
    """Return ``None`` for a tolerated 404, else raise the mapped error (chained)."""
    if call.missing_ok and isinstance(exc, NotFoundError):
        return None
    err = map_error(exc, call.action)
    if err is None:
        raise exc
    raise err from exc


def _client_kwargs(opts: PineconeOptions, host: str) -> dict[str, Any]:
    return {
        "host": host,
        "api_key": opts.api_key.get_secret_value(),
        "timeout": opts.timeout,
        "source_tag": "edgevec",
    }


def _dense_metric(model: Any) -> IndexMetric | None:
    """The metric of an index description's dense vector field, if it has one."""
    fields = getattr(getattr(model, "schema", None), "fields", None) or {}
    for field in fields.values():
        metric = getattr(field, "metric", None)
        if getattr(field, "dimension", None) and metric in _NATIVE:
            return metric  # type: ignore[no-any-return]  # checked against _NATIVE
    return None


def _host_of(model: Any, name: str) -> str:
    host = getattr(model, "host", None)
    if not isinstance(host, str) or not host:
        raise BackendUnavailableError(f"Pinecone index {name!r} has no host yet (not ready?)")
    try:
        return https_url(host, "index host")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# ------------------------------------------------------------------------------ sync shell


def _drive(index: Index, plan: Plan[T]) -> T:
    """Run a plan against the sync client."""
    try:
        step = next(plan)
        while True:
            try:
                if isinstance(step, _Sleep):
                    time.sleep(step.seconds)
                    result: Any = None
                else:
                    try:
                        result = getattr(index, step.method)(**step.kwargs)
                    except Exception as exc:
                        _failed(exc, step)
                        result = None
            except EdgevecError as err:
                step = plan.throw(err)
                continue
            step = plan.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


class PineconeCollection(PlannedCollection):
    """A Pinecone namespace behind the sync API."""

    backend: ClassVar[str] = "pinecone"

    def __init__(self, store: PineconeStore, core: _Collection) -> None:
        super().__init__(core.spec, core.capabilities, core, store._run)

    def _upsert(self, batch: PreparedUpsert) -> None:
        # One plan for the whole batch: chunks follow Pinecone's count *and* byte limits, and a
        # failure part-way names what was written.
        self._run(self.planner.upsert(batch))


class PineconeStore(BaseStore):
    """Collections as namespaces of one Pinecone index, through ``pinecone.Index``."""

    backend: ClassVar[str] = "pinecone"
    capabilities: ClassVar[Capabilities] = Capabilities(
        exact=False,
        native_async=True,
        max_batch=1000,
        persistent=True,
        namespaces=True,
        exact_int_bits=53,
    )
    Options = PineconeOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, PineconeOptions)
        super().__init__(options)
        self.opts = options
        self._core = _Store(options)
        host = https_url(options.host) if options.host is not None else self._resolve()
        try:
            self._index = Index(**_client_kwargs(options, host))
        except PineconeError as exc:
            raise ConfigError(f"cannot open the Pinecone index: {exc}") from exc
        _check_index(self._index, host)

    def _resolve(self) -> str:
        assert self.opts.index is not None
        action = f"resolve Pinecone index {self.opts.index!r}"
        try:
            control = Pinecone(
                api_key=self.opts.api_key.get_secret_value(),
                host=_controller(self.opts),
                timeout=self.opts.timeout,
                source_tag="edgevec",
            )
            try:
                model = control.indexes.describe(self.opts.index)
            finally:
                control.close()
        except Exception as exc:
            _failed(exc, _Call("describe", {}, action))
            raise  # unreachable: _failed raises for anything but a tolerated 404
        self._core.reported_metric = _dense_metric(model)
        return _host_of(model, self.opts.index)

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncPineconeStore:
        """The native async store (``pinecone.AsyncIndex``), not this one in worker threads."""
        assert isinstance(options, PineconeOptions)
        return AsyncPineconeStore(options)

    def _run(self, plan: Plan[T]) -> T:
        return _drive(self._index, plan)

    def _list_collections(self) -> list[str]:
        return self._run(self._core.plan_list())

    def _has_collection(self, name: str) -> bool:
        return self._run(self._core.plan_has(check_collection_name(name)))

    def _create(self, spec: CollectionSpec) -> PineconeCollection:
        return PineconeCollection(self, self._run(self._core.plan_create(spec)))

    def _open(self, name: str) -> PineconeCollection:
        return PineconeCollection(self, self._run(self._core.plan_open(name)))

    def _drop(self, name: str) -> None:
        self._run(self._core.plan_drop(name))

    def _close(self) -> None:
        self._index.close()


# ----------------------------------------------------------------------------- async shell


async def _adrive(index: AsyncIndex, plan: Plan[T]) -> T:
    """Run a plan against the async client (the twin of :func:`_drive`)."""
    try:
        step = next(plan)
        while True:
            try:
                if isinstance(step, _Sleep):
                    await asyncio.sleep(step.seconds)
                    result: Any = None
                else:
                    try:
                        result = await getattr(index, step.method)(**step.kwargs)
                    except Exception as exc:
                        _failed(exc, step)
                        result = None
            except EdgevecError as err:
                step = plan.throw(err)
                continue
            step = plan.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


class AsyncPineconeCollection(AsyncPlannedCollection):
    """A Pinecone namespace behind the async API (``pinecone.AsyncIndex``, no threads)."""

    backend: ClassVar[str] = "pinecone"

    def __init__(self, store: AsyncPineconeStore, core: _Collection) -> None:
        super().__init__(core.spec, core.capabilities, core, store._run)

    async def _upsert(self, batch: PreparedUpsert) -> None:
        await self._run(self.planner.upsert(batch))


class AsyncPineconeStore(AsyncBaseStore):
    """Async twin of :class:`PineconeStore` over ``pinecone.AsyncIndex``.

    With ``index=`` the host is resolved on first use (through ``AsyncPinecone``), so opening
    the store does no I/O.
    """

    backend: ClassVar[str] = "pinecone"
    capabilities: ClassVar[Capabilities] = PineconeStore.capabilities
    Options = PineconeOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, PineconeOptions)
        super().__init__(options)
        self.opts = options
        self._core = _Store(options)
        self._index: AsyncIndex | None = None
        if options.host is not None:
            self._index = self._open_index(https_url(options.host))

    def _open_index(self, host: str) -> AsyncIndex:
        try:
            index = AsyncIndex(**_client_kwargs(self.opts, host))
        except PineconeError as exc:
            raise ConfigError(f"cannot open the Pinecone index: {exc}") from exc
        _check_index(index, host)
        return index

    async def _client(self) -> AsyncIndex:
        if self._index is None:
            assert self.opts.index is not None
            action = f"resolve Pinecone index {self.opts.index!r}"
            try:
                async with AsyncPinecone(
                    api_key=self.opts.api_key.get_secret_value(),
                    host=_controller(self.opts),
                    timeout=self.opts.timeout,
                    source_tag="edgevec",
                ) as control:
                    model = await control.indexes.describe(self.opts.index)
            except Exception as exc:
                _failed(exc, _Call("describe", {}, action))
                raise  # unreachable: _failed raises for anything but a tolerated 404
            self._core.reported_metric = _dense_metric(model)
            self._index = self._open_index(_host_of(model, self.opts.index))
        return self._index

    async def _run(self, plan: Plan[T]) -> T:
        return await _adrive(await self._client(), plan)

    async def _list_collections(self) -> list[str]:
        return await self._run(self._core.plan_list())

    async def _has_collection(self, name: str) -> bool:
        return await self._run(self._core.plan_has(check_collection_name(name)))

    async def _create(self, spec: CollectionSpec) -> AsyncPineconeCollection:
        return AsyncPineconeCollection(self, await self._run(self._core.plan_create(spec)))

    async def _open(self, name: str) -> AsyncPineconeCollection:
        return AsyncPineconeCollection(self, await self._run(self._core.plan_open(name)))

    async def _drop(self, name: str) -> None:
        await self._run(self._core.plan_drop(name))

    async def _close(self) -> None:
        if self._index is not None:
            await self._index.close()
