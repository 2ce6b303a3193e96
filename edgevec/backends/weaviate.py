"""Weaviate backend: a self-hosted server or Weaviate Cloud, through weaviate-client v4.

``edgevec.connect("weaviate", url="http://localhost:8080")`` talks REST (schema) and gRPC (data)
to one Weaviate; the sync API uses ``WeaviateClient``, the async API ``WeaviateAsyncClient``
natively. Every operation is written once, as a *plan*: a generator that yields client calls
(:class:`_Call`) and receives their results. The sync shell runs a plan, the async shell awaits
it; planning, filter compilation, result parsing and error mapping are shared and free of I/O.

How edgevec's contracts map to Weaviate (``docs/backends/weaviate.md`` has the long form):

* **Collections** are Weaviate classes named ``Edgevec_`` + :func:`encode_name` (a lowercase,
  reversible escape: ``items`` -> ``Edgevec_items``, ``My_Coll`` -> ``Edgevec__my___coll``).
  Weaviate class and property names must be unique *ignoring case*, so the encoding never relies
  on case. Dimension, metric, options and embedder fingerprint are kept as JSON in the class
  ``description``; vectors are self-provided (no vectorizer module) under the named vector
  ``default`` with the collection's distance (``cosine``, ``dot``, ``l2-squared``).
* **Ids**: object uuids are ``uuid5(ID_NAMESPACE, id)`` (the namespace the Qdrant backend uses
  too); the caller's id is stored in the ``ev_id`` property and returned unchanged.
* **Payloads** are stored verbatim as JSON in the ``ev_payload`` property, so nested payloads
  come back exactly as written. Filters run on properties derived from the payload on every write:
  for each dotted path of scalar values ``ps_<path>`` (text[], strings), ``pn_<path>`` (number[],
  floats and the ints a double holds exactly), ``pi_<path>`` (int[], the other ints, beyond 2**53)
  and ``pb_<path>`` (boolean[]), with ``<path>`` escaped by :func:`encode_name`; ``ev_paths``
  (text[]) lists every path that is present, non-null and not an empty list. Keeping the kinds
  apart makes ``3``, ``"3"`` and ``True`` distinct, as edgevec requires, while ``3 == 3.0``. New
  paths add properties to the class (``POST /v1/schema/{class}/properties``) before the write.
* **Filters** become ``weaviate.classes.query.Filter`` trees (:func:`compile_where`), see there.
* **Scores**: Weaviate returns distances. cosine: ``1 - d``; dot: Weaviate's distance is the
  negative inner product, so ``-d``; l2: the distance is squared Euclidean, so ``-sqrt(d)``.
* **Deadlines**: weaviate-client retries gRPC calls that fail with ``UNAVAILABLE``, sleeping
  1, 2, 4, ... 32 s (about a minute) before it gives up. edgevec owns the deadline instead: the
  gRPC channel the client opens is wrapped (:class:`_FailFastParams`) so an ``UNAVAILABLE`` call
  fails at once and every RPC's timeout is clipped to what is left of the operation's
  ``timeout``; REST calls use the same ``timeout`` and no transport retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import re
import time
import uuid
from collections.abc import Collection, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
import httpx
import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from weaviate import WeaviateAsyncClient, WeaviateClient
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter as WFilter
from weaviate.classes.query import FilterReturn, MetadataQuery
from weaviate.config import ConnectionConfig
from weaviate.connect.base import ConnectionParams, ProtocolParams
from weaviate.exceptions import (
    InsufficientPermissionsError,
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateClosedClientError,
    WeaviateConnectionError,
    WeaviateInsertManyAllFailedError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)

from edgevec import scores
from edgevec.abase import AsyncBaseStore
from edgevec.aplanned import AsyncPlannedCollection
from edgevec.backends._endpoints import Endpoint, agree, check_plaintext, parse_endpoint
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.config import parse_options
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    EdgevecError,
    FilterNotSupportedError,
    InvalidInputError,
    PartialWriteError,
)
from edgevec.filters import OPS, And, Cmp, Filter, Not, Or
from edgevec.planned import PlannedCollection
from edgevec.prepare import PreparedQuery, PreparedUpsert, check_collection_name
from edgevec.scores import Reported
from edgevec.types import CollectionSpec, Hit, Hits, Metric, Record

if TYPE_CHECKING:
    from weaviate.config import GrpcConfig

__all__ = [
    "CLASS_PREFIX",
    "ID_NAMESPACE",
    "MAX_PROPERTY_NAME",
    "AsyncWeaviateCollection",
    "AsyncWeaviateStore",
    "Endpoints",
    "WeaviateCollection",
    "WeaviateCollectionOptions",
    "WeaviateOptions",
    "WeaviateStore",
    "class_name",
    "client_kwargs",
    "collection_name",
    "compile_where",
    "decode_name",
    "encode_name",
    "endpoints",
    "map_error",
    "object_properties",
    "object_uuid",
    "parse_version",
    "property_name",
    "property_path",
    "render_where",
    "to_client_filter",
    "to_score",
]

T = TypeVar("T")

ID_NAMESPACE = uuid.UUID("6f1c3f9e-5d2a-5b8e-9a47-2c0e8d1b7a35")
"""Namespace of the ``uuid5`` object ids (the Qdrant backend's too); fixed forever."""
CLASS_PREFIX = "Edgevec_"
"""Every class edgevec creates starts with this; others are not listed as collections."""
VECTOR_NAME = "default"
PROP_ID, PROP_PAYLOAD, PROP_PATHS = "ev_id", "ev_payload", "ev_paths"
ALL_TOKEN = "*"  # noqa: S105  # a filter token, not a password
"""In every object's ``ev_paths`` (never a path token): the filter that matches everything."""
Kind = Literal["s", "n", "i", "b"]
KINDS: dict[str, DataType] = {
    "s": DataType.TEXT_ARRAY,
    "n": DataType.NUMBER_ARRAY,
    "i": DataType.INT_ARRAY,
    "b": DataType.BOOL_ARRAY,
}
MAX_PROPERTY_NAME = 231  # Weaviate: /^[_A-Za-z][_0-9A-Za-z]{0,230}$/
MIN_NOT_VERSION = (1, 33, 0)  # the Not operator (and ContainsNone) arrived in Weaviate 1.33
MAX_RESULTS = 10_000  # Weaviate's QUERY_MAXIMUM_RESULTS default: limit of a search or delete
ID_CHUNK = 1_000

_DISTANCES: dict[Metric, VectorDistances] = {
    "cosine": VectorDistances.COSINE,
    "dot": VectorDistances.DOT,
    "l2": VectorDistances.L2_SQUARED,
}
_METRICS = {d.value: m for m, d in _DISTANCES.items()}
_NEGATING_OPS = frozenset({"not", "ne", "nin"})
_CLOUD_DOMAINS = (".weaviate.cloud", ".weaviate.network")


# --------------------------------------------------------------------------------- names


def encode_name(text: str) -> str:
    """``text`` as lowercase ``[a-z0-9_]``, reversibly (:func:`decode_name`).

    ``a-z 0-9`` stay, ``_`` -> ``__``, ``A-Z`` -> ``_`` + lowercase, ``.`` -> ``_9``, any other
    character -> ``_0<hex code point>_``. Case is never relied on, because Weaviate treats class
    and property names that differ only in case as the same name.
    """
    out: list[str] = []
    for ch in text:
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            out.append(ch)
        elif ch == "_":
            out.append("__")
        elif "A" <= ch <= "Z":
            out.append("_" + ch.lower())
        elif ch == ".":
            out.append("_9")
        else:
            out.append(f"_0{ord(ch):x}_")
    return "".join(out)


def decode_name(text: str) -> str | None:
    """The inverse of :func:`encode_name`; ``None`` if ``text`` is not one of its outputs."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "_":
            if not ("a" <= ch <= "z" or "0" <= ch <= "9"):
                return None
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "_":
            out.append("_")
        elif "a" <= nxt <= "z":
            out.append(nxt.upper())
        elif nxt == "9":
            out.append(".")
        elif nxt == "0":
            end = text.find("_", i + 2)
            digits = text[i + 2 : end]
            if end < 0 or not digits or any(c not in "0123456789abcdef" for c in digits):
                return None
            code = int(digits, 16)
            if code > 0x10FFFF:
                return None
            out.append(chr(code))
            i = end + 1
            continue
        else:
            return None
        i += 2
    decoded = "".join(out)
    return decoded if encode_name(decoded) == text else None  # only canonical spellings


def class_name(name: str) -> str:
    """The Weaviate class of edgevec collection ``name``."""
    return CLASS_PREFIX + encode_name(check_collection_name(name))


def collection_name(weaviate_class: str) -> str | None:
    """The edgevec collection held by a Weaviate class; ``None`` if edgevec did not make it."""
    if not weaviate_class.startswith(CLASS_PREFIX):
        return None
    name = decode_name(weaviate_class[len(CLASS_PREFIX) :])
    if name is None:
        return None
    try:
        return check_collection_name(name)
    except InvalidInputError:
        return None


def property_name(path: str, kind: Kind) -> str:
    """The derived filter property of ``kind`` (str, number, big int, bool) at ``path``."""
    return f"p{kind}_{encode_name(path)}"


def property_path(prop: str) -> tuple[str, str] | None:
    """``(path, kind)`` of a derived property name, or ``None`` for any other property."""
    if len(prop) < 3 or prop[0] != "p" or prop[1] not in KINDS or prop[2] != "_":
        return None
    path = decode_name(prop[3:])
    return None if path is None else (path, prop[1])


def object_uuid(record_id: str) -> str:
    """The Weaviate object uuid of an edgevec record id."""
    return str(uuid.uuid5(ID_NAMESPACE, record_id))


def _text_term(value: str) -> str:
    # Text arrays use "field" tokenization, which trims surrounding whitespace: the bars keep
    # "red " and "red" apart. Filters wrap their values the same way.
    return f"|{value}|"


# -------------------------------------------------------------------------------- options


class WeaviateCollectionOptions(BaseModel):
    """Per-collection options: ``create_collection(..., index="flat")``. Saved with the class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Literal["hnsw", "flat"] | None = None
    """Vector index; ``None`` takes the store's ``index``. ``flat`` is brute force (exact)."""
    ef: int | None = Field(default=None, ge=-1)
    """HNSW search beam (``-1``: Weaviate's dynamic ef); ``None`` keeps Weaviate's default."""
    ef_construction: int | None = Field(default=None, ge=4)
    max_connections: int | None = Field(default=None, ge=4)


class WeaviateOptions(BaseModel):
    """Options of ``edgevec.connect("weaviate", ...)``.

    ``url`` is the REST endpoint; without a scheme it gets ``https://``, except for loopback hosts
    (``http://``). Weaviate Cloud hosts (``*.weaviate.cloud``) get their gRPC endpoint
    (``grpc-<host>:443``) automatically; elsewhere gRPC is the same host on port 50051.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = "http://localhost:8080"
    api_key: SecretStr | None = None
    grpc_host: str | None = None
    grpc_port: int | None = Field(default=None, ge=1, le=65_535)
    tls: bool | None = None
    """TLS for REST and gRPC; ``None``: from the url's scheme (https unless loopback)."""
    timeout: float = Field(default=10.0, gt=0, le=3600)
    """Deadline in seconds of each operation (an upsert chunk, a query batch, a count, ...),
    retries included: weaviate-client's own back-off is switched off."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Objects per gRPC batch request."""
    index: Literal["hnsw", "flat"] = "hnsw"
    """Vector index of new collections: ``hnsw`` (approximate, Weaviate's default) or ``flat``."""

    @model_validator(mode="after")
    def _check_endpoints(self) -> WeaviateOptions:
        endpoints(self)  # raises ValueError with the reason
        return self


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the client connects: REST and gRPC host, port and TLS."""

    http_host: str
    http_port: int
    grpc_host: str
    grpc_port: int
    secure: bool


def endpoints(opts: WeaviateOptions) -> Endpoints:
    """Resolve ``url``, ``tls`` and the gRPC options; ``ValueError`` names the problem.

    Hosts are kept as they are written in a URL (IPv6 in brackets), the form weaviate-client
    pastes into its REST URL and gRPC target; :func:`client_kwargs` re-checks both.
    """
    ep = parse_endpoint(
        opts.url, "url", schemes=("http", "https"), default_scheme="https", path=False
    )
    if "://" in opts.url:
        secure = ep.scheme == "https"
        if opts.tls is not None and opts.tls != secure:
            raise ValueError(f"tls={opts.tls} contradicts the {ep.scheme}:// url")
    else:
        secure = opts.tls if opts.tls is not None else not ep.loopback
    credentials = opts.api_key is not None
    check_plaintext(ep, secure, credentials, "Weaviate url")
    host = ep.url_host
    port = ep.port or (443 if secure else 80)
    cloud = ep.host.endswith(_CLOUD_DOMAINS)
    if opts.grpc_host is not None:
        grpc = _grpc_endpoint(opts.grpc_host)
        check_plaintext(grpc, secure, credentials, "Weaviate grpc_host")
        grpc_host = grpc.url_host
    elif ep.host.endswith(".weaviate.network"):
        ident, domain = host.split(".", 1)
        grpc_host = f"{ident}.grpc.{domain}"
    else:
        grpc_host = f"grpc-{host}" if cloud else host
    grpc_port = opts.grpc_port or (443 if cloud else 50051)
    if grpc_host == host and grpc_port == port:
        raise ValueError("REST and gRPC need different ports on the same host (set grpc_port)")
    return Endpoints(host, port, grpc_host, grpc_port, secure)


def _grpc_endpoint(text: str) -> Endpoint:
    """``grpc_host`` is a bare host name or address (its port is ``grpc_port``)."""
    bare = f"[{text}]" if text.count(":") > 1 and not text.startswith("[") else text
    grpc = parse_endpoint(bare, "grpc_host", schemes=("https",), default_scheme="https", path=False)
    if "://" in text or grpc.port is not None or bare.endswith(":"):
        raise ValueError("grpc_host must be a bare host name or address (set grpc_port apart)")
    return grpc


def _collection_options(spec: CollectionSpec, store: WeaviateOptions) -> WeaviateCollectionOptions:
    opts = parse_options(
        WeaviateCollectionOptions, spec.options, f"Weaviate options for collection {spec.name!r}"
    )
    return opts if opts.index is not None else opts.model_copy(update={"index": store.index})


# ------------------------------------------------------------------------ deadline and gRPC

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "edgevec_weaviate_deadline", default=None
)


class _DeadlineError(Exception):
    """The operation's deadline passed before an RPC could be sent."""


class _FailFastError(Exception):
    """An RPC failed with ``UNAVAILABLE``. Raised in place of the gRPC error, which
    weaviate-client would retry with back-off for about a minute; it holds that error."""

    def __init__(self, error: Any) -> None:
        details = error.details() if callable(getattr(error, "details", None)) else error
        super().__init__(f"gRPC UNAVAILABLE: {details}")
        self.error = error


def _clip(timeout: float | None) -> float | None:
    """An RPC timeout no later than the current operation's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlineError
    return left if timeout is None else min(timeout, left)


class _CallDetails(grpc.ClientCallDetails):  # type: ignore[misc]  # grpc is untyped
    def __init__(self, base: Any, timeout: float | None) -> None:
        self.method = base.method
        self.timeout = timeout
        self.metadata = base.metadata
        self.credentials = base.credentials
        self.wait_for_ready = base.wait_for_ready
        self.compression = base.compression


class _FailFastInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Sync channels: clip timeouts to the deadline, fail at once on ``UNAVAILABLE``."""

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        outcome = continuation(_CallDetails(details, _clip(details.timeout)), request)
        if outcome.code() == grpc.StatusCode.UNAVAILABLE:
            raise _FailFastError(outcome)
        return outcome


class _FailFastAioCallable:
    """One async unary method: same clipping and fail-fast, as a coroutine."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __call__(self, request: Any, *, timeout: float | None = None, **kwargs: Any) -> Any:
        return self._call(request, timeout, kwargs)

    async def _call(self, request: Any, timeout: float | None, kwargs: dict[str, Any]) -> Any:
        try:
            return await self._inner(request, timeout=_clip(timeout), **kwargs)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise _FailFastError(exc) from exc
            raise


class _FailFastAioChannel(grpc.aio.Channel):  # type: ignore[misc]
    """An async channel whose unary methods fail fast (aio channels take interceptors only when
    they are built, and weaviate-client builds its own)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aenter__(self) -> _FailFastAioChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        await self._inner.close(grace)

    def get_state(self, try_to_connect: bool = False) -> Any:
        return self._inner.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: Any) -> None:
        await self._inner.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._inner.channel_ready()

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _FailFastAioCallable(self._inner.unary_unary(*args, **kwargs))

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.unary_stream(*args, **kwargs)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream_unary(*args, **kwargs)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream_stream(*args, **kwargs)


class _FailFastParams(ConnectionParams):
    """Connection parameters whose gRPC channels fail fast and respect edgevec's deadline.

    ``ConnectionParams._grpc_channel`` is where weaviate-client builds every channel; the check
    below turns a client release that renames it into a clear import error.
    """

    def _grpc_channel(
        self,
        proxies: dict[str, str],
        grpc_msg_size: int | None,
        is_async: bool,
        grpc_config: GrpcConfig | None = None,
    ) -> Any:
        channel = super()._grpc_channel(proxies, grpc_msg_size, is_async, grpc_config)
        if is_async:
            return _FailFastAioChannel(channel)
        return grpc.intercept_channel(channel, _FailFastInterceptor())


if not callable(getattr(ConnectionParams, "_grpc_channel", None)):  # pragma: no cover
    raise ImportError(
        "this weaviate-client has no ConnectionParams._grpc_channel, which edgevec wraps to bound "
        'retries; install a supported version: pip install "edgevec[weaviate]"'
    )


def _check_params(params: ConnectionParams, ep: Endpoints) -> None:
    """The REST URL and gRPC target weaviate-client builds must name the hosts checked."""
    try:
        rest = httpx.URL(params._http_url)
        agree((ep.http_host, ep.http_port), (rest.host, rest.port), "url", "weaviate-client")
        grpc = httpx.URL(f"grpc://{params._grpc_target}")
        checked = (ep.grpc_host, ep.grpc_port)
        agree(checked, (grpc.host, grpc.port), "grpc_host", "weaviate-client's gRPC target")
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"invalid config for backend 'weaviate': {exc}") from None


def client_kwargs(opts: WeaviateOptions) -> dict[str, Any]:
    """Keyword arguments of ``WeaviateClient`` and ``WeaviateAsyncClient`` alike."""
    ep = endpoints(opts)
    params = _FailFastParams(
        http=ProtocolParams(host=ep.http_host, port=ep.http_port, secure=ep.secure),
        grpc=ProtocolParams(host=ep.grpc_host, port=ep.grpc_port, secure=ep.secure),
    )
    _check_params(params, ep)
    timeout = Timeout(query=opts.timeout, insert=opts.timeout, init=opts.timeout)
    config = AdditionalConfig(
        timeout=timeout,
        # httpx would retry failed connects itself; edgevec's callers own retries.
        connection=ConnectionConfig(
            session_pool_max_retries=0, session_pool_timeout=math.ceil(opts.timeout)
        ),
    )
    auth = None if opts.api_key is None else Auth.api_key(opts.api_key.get_secret_value())
    return {
        "connection_params": params,
        "auth_client_secret": auth,
        "additional_config": config,
        # The init checks ping gRPC and ask pypi.org for the latest client version.
        "skip_init_checks": True,
    }


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.35.2"`` -> ``(1, 35, 2)``; a ``v`` prefix and pre-release suffixes are ignored."""
    nums = [
        int(m.group()) if (m := _LEADING_DIGITS.match(part)) else 0
        for part in text.lstrip("v").split(".")[:3]
    ]
    nums += [0] * (3 - len(nums))
    return nums[0], nums[1], nums[2]


_LEADING_DIGITS = re.compile(r"\d+")


def _capabilities(
    opts: WeaviateOptions, index: str | None, version: tuple[int, ...]
) -> Capabilities:
    ops = OPS if version >= MIN_NOT_VERSION else OPS - _NEGATING_OPS
    return WeaviateStore.capabilities.narrowed(
        max_batch=opts.batch_size, exact=index == "flat", filter_ops=ops
    )


# -------------------------------------------------------------------------------- payloads


def object_properties(
    record_id: str, payload: Mapping[str, Any], needed: dict[str, DataType] | None = None
) -> dict[str, Any]:
    """The Weaviate properties of one record (see the module docstring).

    Derived properties are added to ``needed`` (name -> data type) so the caller can create the
    ones the class lacks. A path whose property name would exceed Weaviate's 231 characters gets
    only its ``ev_paths`` token: ``exists`` works on it, comparisons raise before any request.
    """
    tokens: list[str] = [ALL_TOKEN]
    terms: dict[str, dict[Any, None]] = {}
    _walk(payload, "", tokens, terms)
    props: dict[str, Any] = {
        PROP_ID: record_id,
        PROP_PAYLOAD: orjson.dumps(payload).decode(),
        PROP_PATHS: tokens,
    }
    for name, values in terms.items():
        if values:
            props[name] = list(values)
        if needed is not None:
            needed[name] = KINDS[name[1]]
    return props


def _walk(
    obj: Mapping[str, Any], prefix: str, tokens: list[str], terms: dict[str, dict[Any, None]]
) -> None:
    for key, value in obj.items():
        # Keys holding a "." cannot be named by a filter path (F("a.b") walks into "a").
        if value is None or not key or "." in key:
            continue
        path = prefix + key
        elems = value if isinstance(value, list) else (value,)
        if not elems:
            continue
        enc = encode_name(path)
        tokens.append(enc)
        for e in elems:
            kind: Kind
            term: Any
            if isinstance(e, bool):
                kind, term = "b", e
            elif isinstance(e, int | float):
                kind, term = _number_term(e)
                if len(f"pn_{enc}") <= MAX_PROPERTY_NAME:  # numbers need both properties
                    terms.setdefault(f"pn_{enc}", {})
                    terms.setdefault(f"pi_{enc}", {})
            elif isinstance(e, str):
                kind, term = "s", _text_term(e)
            else:  # objects, nested lists, nulls in lists: present, equal to no scalar
                continue
            name = f"p{kind}_{enc}"
            if len(name) <= MAX_PROPERTY_NAME:
                terms.setdefault(name, {})[term] = None
        if isinstance(value, Mapping):
            _walk(value, path + ".", tokens, terms)


def _property(name: str, data_type: DataType) -> Property:
    if data_type == DataType.TEXT_ARRAY:
        return Property(
            name=name,
            data_type=data_type,
            tokenization=Tokenization.FIELD,
            index_filterable=True,
            index_searchable=False,
        )
    return Property(name=name, data_type=data_type, index_filterable=True)


def _fixed_properties() -> list[Property]:
    return [
        Property(
            name=PROP_ID,
            data_type=DataType.TEXT,
            tokenization=Tokenization.FIELD,
            index_filterable=False,
            index_searchable=False,
        ),
        Property(
            name=PROP_PAYLOAD,
            data_type=DataType.TEXT,
            index_filterable=False,
            index_searchable=False,
        ),
        _property(PROP_PATHS, DataType.TEXT_ARRAY),
    ]


# --------------------------------------------------------------------------------- filters

Where = bool | dict[str, Any]
"""A compiled filter: Weaviate's ``where`` JSON (documented REST form), or a constant."""

_RANGE_OPERATORS = {
    "lt": "LessThan",
    "lte": "LessThanEqual",
    "gt": "GreaterThan",
    "gte": "GreaterThanEqual",
}


def _number_term(value: float) -> tuple[Kind, float]:
    """Where a number is stored: doubles hold every float and every int they represent exactly;
    other ints (beyond 2**53) go to the int64 property, so they compare exactly."""
    if isinstance(value, float) or float(value) == value or not _INT64_MIN <= value <= _INT64_MAX:
        return "n", float(value)  # ints beyond int64 (JSON allows up to 2**64) are rounded
    return "i", value


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _typed_value(value: Any) -> tuple[Kind, Any]:
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"filter value is not valid Unicode: {value!r}") from exc
        return "s", _text_term(value)
    return _number_term(value)


_ARRAY_KEYS = {
    "s": "valueTextArray",
    "n": "valueNumberArray",
    "i": "valueIntArray",
    "b": "valueBooleanArray",
}


def _range_bounds(op: str, value: float) -> tuple[tuple[str, float], tuple[str, int] | None]:
    """``x <op> value`` as ``(op, bound)`` on the double property and on the int64 property
    (whose ints are all beyond 2**53); ``None`` where no int64 can satisfy it."""
    below = op in ("lt", "lte")
    if isinstance(value, int):
        if float(value) == value:
            return (op, float(value)), (op, value)
        # No double equals value: compare with the nearest double on the right side of it.
        nearest = float(value)
        if below:
            lo = nearest if nearest < value else math.nextafter(nearest, -math.inf)
            return ("lte", lo), (op, value)
        hi = nearest if nearest > value else math.nextafter(nearest, math.inf)
        return ("gte", hi), (op, value)
    if below:
        bound = math.ceil(value) - 1 if op == "lt" else math.floor(value)
        if bound < _INT64_MIN:
            return (op, value), None
        return (op, value), ("lte", min(bound, _INT64_MAX))
    bound = math.floor(value) + 1 if op == "gt" else math.ceil(value)
    if bound > _INT64_MAX:
        return (op, value), None
    return (op, value), ("gte", max(bound, _INT64_MIN))


def compile_where(flt: Filter, known: Collection[str]) -> tuple[Where, set[str]]:
    """The Weaviate filter for ``flt`` over the derived properties, and the properties it needed
    that are not in ``known`` (the class's properties as last seen).

    * ``eq`` / ``in`` are ``ContainsAny`` on the property of the value's kind: ``ps_``,
      ``pb_``, and for a number the one it would be stored in (``pn_`` holds every float and
      every int a double represents, so ``3 == 3.0``; ``pi_`` the other ints, compared exactly).
      A property the class lacks holds no value: that atom is *false*.
    * ``lt lte gt gte`` are ranges on ``pn_`` or ``pi_`` (any numeric element, never a bool or a
      string), each with a bound exact for its type (an int between two doubles compares with
      the nearest double on the correct side, a float bound on ``pi_`` is rounded inwards).
    * ``exists`` is ``ContainsAny`` of the path's token in ``ev_paths``.
    * ``ne`` / ``nin`` / ``not`` are Weaviate's ``Not`` (1.33+): the complement over all
      objects, so records lacking the field match, as edgevec's semantics say.
    * Constants are folded: a filter that is always false is answered without a request.

    Weaviate's ``NotEqual`` is not used: on arrays and absent properties it is not the negation
    of ``Equal`` that edgevec's ``ne`` is.
    """
    missing: set[str] = set()

    def atom(prop: str, operator: str, key: str, value: Any) -> Where:
        if prop not in known:
            missing.add(prop)
            return False
        return {"operator": operator, "path": [prop], key: value}

    def typed(field: str, kind: Kind) -> str:
        prop = property_name(field, kind)
        if len(prop) > MAX_PROPERTY_NAME:
            raise FilterNotSupportedError(
                f"field {field!r} is too long for a Weaviate property name ({len(prop)} > "
                f"{MAX_PROPERTY_NAME} characters); only 'exists' can filter on it"
            )
        return prop

    def any_of(field: str, values: tuple[Any, ...]) -> Where:
        groups: dict[str, dict[Any, None]] = {}
        for v in values:
            kind, term = _typed_value(v)
            groups.setdefault(kind, {})[term] = None
        parts = [
            atom(typed(field, cast(Kind, kind)), "ContainsAny", _ARRAY_KEYS[kind], list(terms))
            for kind, terms in groups.items()
        ]
        return _or(parts)

    def walk(node: Filter) -> Where:
        if isinstance(node, And):
            return _and([walk(a) for a in node.args])
        if isinstance(node, Or):
            return _or([walk(a) for a in node.args])
        if isinstance(node, Not):
            return _not(walk(node.arg))
        if not isinstance(node, Cmp):
            raise InvalidInputError(f"not a filter node: {node!r}")
        op, field, value = node.op, node.field, node.value
        if op == "exists":
            token = encode_name(field)
            return {"operator": "ContainsAny", "path": [PROP_PATHS], "valueTextArray": [token]}
        if op in ("eq", "ne", "in", "nin"):
            positive = any_of(field, value if op in ("in", "nin") else (value,))
            return positive if op in ("eq", "in") else _not(positive)
        (double_op, double), integer = _range_bounds(op, value)
        parts = [atom(typed(field, "n"), _RANGE_OPERATORS[double_op], "valueNumber", double)]
        if integer is not None:
            parts.append(
                atom(typed(field, "i"), _RANGE_OPERATORS[integer[0]], "valueInt", integer[1])
            )
        return _or(parts)

    return walk(flt), missing


def _and(parts: list[Where]) -> Where:
    if any(p is False for p in parts):
        return False
    kept = [p for p in parts if p is not True]
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else {"operator": "And", "operands": kept}


def _or(parts: list[Where]) -> Where:
    if any(p is True for p in parts):
        return True
    kept = [p for p in parts if p is not False]
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else {"operator": "Or", "operands": kept}


def _not(part: Where) -> Where:
    if isinstance(part, bool):
        return not part
    if part["operator"] == "Not":
        inner: Where = part["operands"][0]
        return inner
    return {"operator": "Not", "operands": [part]}


_MATCH_ALL: dict[str, Any] = {
    "operator": "ContainsAny",
    "path": [PROP_PATHS],
    "valueTextArray": [ALL_TOKEN],
}


def to_client_filter(where: dict[str, Any]) -> FilterReturn:
    """The ``weaviate.classes.query.Filter`` of a compiled ``where`` tree."""
    operator = where["operator"]
    if operator in ("And", "Or", "Not"):
        operands = [to_client_filter(w) for w in where["operands"]]
        if operator == "And":
            return WFilter.all_of(operands)
        if operator == "Or":
            return WFilter.any_of(operands)
        return WFilter.not_(operands[0])
    prop = WFilter.by_property(where["path"][0])
    if operator == "ContainsAny":
        key = next(k for k in where if k.startswith("value"))
        return prop.contains_any(where[key])
    value = where["valueNumber"] if "valueNumber" in where else where["valueInt"]
    if operator == "LessThan":
        return prop.less_than(value)
    if operator == "LessThanEqual":
        return prop.less_or_equal(value)
    if operator == "GreaterThan":
        return prop.greater_than(value)
    return prop.greater_or_equal(value)


def render_where(where: Where) -> str:
    """What ``explain`` shows: the ``where`` JSON Weaviate receives, or a constant."""
    if isinstance(where, bool):
        return f"{str(where).lower()} (constant: answered without a Weaviate filter)"
    return orjson.dumps(where).decode()


# ---------------------------------------------------------------------------------- scores


_REPORTED: dict[Metric, Reported] = {
    "cosine": "cosine_distance",
    "dot": "negated",
    "l2": "squared_distance",
}


def to_score(distance: float, metric: Metric) -> float:
    """edgevec's score from a Weaviate distance (see the module docstring)."""
    return scores.to_score(distance, _REPORTED[metric])


# ---------------------------------------------------------------------------------- errors


def _batch_error(
    collection: str, errors: Mapping[str, str], ids: Sequence[str]
) -> PartialWriteError:
    shown = "; ".join(f"{rid!r}: {msg}" for rid, msg in list(errors.items())[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return PartialWriteError(
        f"Weaviate rejected {len(errors)} of {len(ids)} records written to collection "
        f"{collection!r}, the others were written: {shown}{more}",
        [i for i in ids if i not in errors],
        errors,
    )


def _rpc_status(exc: BaseException | None) -> str | None:
    """The gRPC status name of ``exc`` or of an error it was raised from."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, _FailFastError):
            return "UNAVAILABLE"
        if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
            code = exc.code()
            return str(getattr(code, "name", code))
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _redact(text: str, secret: SecretStr | None) -> str:
    if secret is not None and secret.get_secret_value():
        text = text.replace(secret.get_secret_value(), "**********")
    return text


_NOT_FOUND_WORDS = ("could not find class", "not found in schema", "class not found")


def map_error(
    exc: BaseException, action: str, secret: SecretStr | None = None
) -> EdgevecError | None:
    """The edgevec error for a weaviate-client, gRPC or httpx failure; ``None`` if unknown.

    Messages carry the action and the server's short message, never headers or the API key.
    """
    text = _redact(str(getattr(exc, "message", "") or exc), secret)[:500]
    message = f"could not {action}: {text}" if text else f"could not {action}"
    if isinstance(exc, _DeadlineError | asyncio.TimeoutError | TimeoutError):
        return BackendTimeoutError(f"could not {action}: the deadline passed")
    if isinstance(exc, WeaviateInsertManyAllFailedError):
        return PartialWriteError(message, (), {})
    if isinstance(exc, InsufficientPermissionsError):
        return AuthenticationError(message)
    if isinstance(exc, UnexpectedStatusCodeError):
        http = exc.status_code
        if http in (401, 403):
            return AuthenticationError(message)
        if http == 404:
            return CollectionNotFoundError(message)
        if http == 422 and "already exists" in text:
            return CollectionExistsError(message)
        if http in (408, 504):
            return BackendTimeoutError(message)
        if http in (429, 502, 503):
            return BackendUnavailableError(message)
        return BackendError(message)
    if isinstance(exc, WeaviateTimeoutError | httpx.TimeoutException):
        return BackendTimeoutError(message)
    if isinstance(exc, WeaviateConnectionError | WeaviateClosedClientError | httpx.TransportError):
        return BackendUnavailableError(message)
    if isinstance(exc, WeaviateStartUpError):
        cause = exc.__cause__
        if isinstance(cause, WeaviateConnectionError | httpx.TransportError | OSError):
            return BackendUnavailableError(message)
        return BackendError(message)
    status = _rpc_status(exc)
    if isinstance(exc, WeaviateBaseError | _FailFastError) or status is not None:
        lower = text.lower()
        if status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return AuthenticationError(message)
        if status == "DEADLINE_EXCEEDED" or "deadline exceeded" in lower:
            return BackendTimeoutError(message)
        if status in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"):
            return BackendUnavailableError(message)
        if status == "NOT_FOUND" or any(w in lower for w in _NOT_FOUND_WORDS):
            return CollectionNotFoundError(message)
        return BackendError(message)
    return None


@contextlib.contextmanager
def _mapped_errors(action: str, secret: SecretStr | None) -> Iterator[None]:
    """Translate client exceptions into edgevec's tree, chained (usable around ``await`` too)."""
    try:
        yield
    except EdgevecError:
        raise
    except Exception as exc:
        err = map_error(exc, action, secret)
        if err is None:
            raise
        raise err from exc


# ----------------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class _Call:
    """One client call, built without I/O: ``method`` is a dotted attribute path on the client
    (``collection`` is ``None``) or on the handle of Weaviate class ``collection``."""

    method: str
    kwargs: dict[str, Any]
    action: str
    collection: str | None = None


Plan = Generator[_Call, Any, T]


def _describe(spec: CollectionSpec, opts: WeaviateCollectionOptions) -> str:
    meta = {
        "edgevec": 1,
        "dim": spec.dim,
        "metric": spec.metric,
        "options": opts.model_dump(),
        "fingerprint": spec.fingerprint,
    }
    return orjson.dumps(meta).decode()


def plan_create(
    spec: CollectionSpec, store: WeaviateOptions
) -> Plan[tuple[CollectionSpec, WeaviateCollectionOptions]]:
    opts = _collection_options(spec, store)
    spec = CollectionSpec(spec.name, spec.dim, spec.metric, opts.model_dump(), spec.fingerprint)
    distance = _DISTANCES[spec.metric]
    index = (
        Configure.VectorIndex.flat(distance_metric=distance)
        if opts.index == "flat"
        else Configure.VectorIndex.hnsw(
            distance_metric=distance,
            ef=opts.ef,
            ef_construction=opts.ef_construction,
            max_connections=opts.max_connections,
        )
    )
    kwargs = {
        "name": class_name(spec.name),
        "description": _describe(spec, opts),
        "properties": _fixed_properties(),
        "vector_config": Configure.Vectors.self_provided(
            name=VECTOR_NAME, vector_index_config=index
        ),
    }
    yield _Call("collections.create", kwargs, f"create Weaviate collection {spec.name!r}")
    return spec, opts


def _config_call(name: str) -> _Call:
    return _Call("config.get", {"simple": True}, f"read collection {name!r}", class_name(name))


def spec_from_config(
    name: str, config: Any
) -> tuple[CollectionSpec, WeaviateCollectionOptions, set[str]]:
    """Spec, options and property names of a class from its (simple) Weaviate config."""
    try:
        meta = orjson.loads(config.description or "")
        if not isinstance(meta, dict) or meta.get("edgevec") != 1:
            raise ValueError("no edgevec metadata")
        opts = WeaviateCollectionOptions.model_validate(meta["options"])
        dim, metric = int(meta["dim"]), meta["metric"]
        if metric not in _DISTANCES:
            raise ValueError(f"unknown metric {metric!r}")
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"Weaviate class {class_name(name)!r} was not created by edgevec or its description "
            f"was changed ({exc}); edgevec keeps dimension and metric there"
        ) from None
    vectors = config.vector_config or {}
    index = getattr(vectors.get(VECTOR_NAME), "vector_index_config", None)
    distance = getattr(getattr(index, "distance_metric", None), "value", None)
    if distance is not None and _METRICS.get(distance) != metric:
        raise ConfigError(
            f"Weaviate class {class_name(name)!r} uses distance {distance!r} but its edgevec "
            f"metadata says {metric!r}"
        )
    spec = CollectionSpec(name, dim, metric, opts.model_dump(), meta.get("fingerprint"))
    return spec, opts, {p.name for p in config.properties}


def plan_open(name: str) -> Plan[tuple[CollectionSpec, WeaviateCollectionOptions, set[str]]]:
    config = yield _config_call(name)
    return spec_from_config(name, config)


def plan_list() -> Plan[list[str]]:
    configs = yield _Call("collections.list_all", {"simple": True}, "list Weaviate collections")
    names = (collection_name(c) for c in configs)
    return sorted(n for n in names if n is not None)


def plan_exists(name: str) -> Plan[bool]:
    found = yield _Call(
        "collections.exists", {"name": class_name(name)}, f"look up collection {name!r}"
    )
    return bool(found)


def plan_drop(name: str) -> Plan[None]:
    yield _Call("collections.delete", {"name": class_name(name)}, f"drop collection {name!r}")


class _Core:
    """Planning and parsing for one collection; holds the class's property names as last seen
    (refreshed when a write or filter needs one it does not list)."""

    __slots__ = ("cls", "metric", "name", "props")

    def __init__(self, spec: CollectionSpec, props: set[str]) -> None:
        self.name = spec.name
        self.cls = class_name(spec.name)
        self.metric: Metric = spec.metric
        self.props = set(props)

    def _call(self, method: str, kwargs: dict[str, Any], verb: str) -> _Call:
        return _Call(method, kwargs, f"{verb} in collection {self.name!r}", self.cls)

    def _refresh(self) -> Plan[None]:
        config = yield _config_call(self.name)
        self.props = {p.name for p in config.properties}

    def _ensure_properties(self, needed: Mapping[str, DataType]) -> Plan[None]:
        if all(n in self.props for n in needed):
            return
        yield from self._refresh()  # another client may have added them meanwhile
        for name in sorted(n for n in needed if n not in self.props):
            try:
                yield self._call(
                    "config.add_property", {"prop": _property(name, needed[name])}, "add property"
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
        if q.params:
            raise InvalidInputError(
                f"unknown Weaviate query params {sorted(q.params)}; Weaviate takes none per "
                "query (set ef on the collection)"
            )
        where = yield from self.where(q.filter)
        if where is False:
            return [Hits() for _ in range(len(q.vectors))]
        filters = None if where is True else to_client_filter(where)
        props = [PROP_ID, PROP_PAYLOAD] if q.include_payload else [PROP_ID]
        out: list[Hits] = []
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
            result = yield self._call("query.near_vector", kwargs, "query")
            out.append(self._hits(result.objects, q))
        return out

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
            for obj in result.objects:
                rid, payload, vector = _unpack(obj, True, include_vectors)
                found[rid] = Record(rid, vector, payload)
        return [found[i] for i in ids if i in found]

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
            yield from self._delete(_MATCH_ALL if where is True else where)

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


def _resolve(target: Any, method: str) -> Any:
    for part in method.split("."):
        target = getattr(target, part)
    return target


# ------------------------------------------------------------------------------ sync shell


class WeaviateCollection(PlannedCollection):
    """A Weaviate collection behind the sync API."""

    backend: ClassVar[str] = "weaviate"
    planner: _Core

    def __init__(
        self,
        store: WeaviateStore,
        spec: CollectionSpec,
        opts: WeaviateCollectionOptions,
        props: set[str],
    ) -> None:
        caps = _capabilities(store.opts, opts.index, store.version)
        super().__init__(spec, caps, _Core(spec, props), store._run)

    def _upsert(self, batch: PreparedUpsert) -> None:
        """Every chunk is sent; the rejections of all of them make one error."""
        errors: dict[str, str] = {}
        cause: BaseException | None = None
        for chunk in batch.chunks(self.capabilities.max_batch):
            rejected, exc = self._run(self.planner.upsert(chunk))
            errors.update(rejected)
            cause = cause or exc
        if errors:
            raise _batch_error(self.name, errors, batch.ids) from cause


class WeaviateStore(BaseStore):
    """Collections in one Weaviate (self-hosted or Weaviate Cloud) through ``WeaviateClient``."""

    backend: ClassVar[str] = "weaviate"
    capabilities: ClassVar[Capabilities] = Capabilities(
        native_async=True, max_batch=500, max_k=MAX_RESULTS, persistent=True, exact=False
    )
    Options = WeaviateOptions

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, WeaviateOptions):
            raise ConfigError(f"WeaviateStore needs WeaviateOptions, got {type(options).__name__}")
        super().__init__(options)
        self.opts = options
        self._handles: dict[str, Any] = {}
        self._client = WeaviateClient(**client_kwargs(options))
        try:
            with _mapped_errors("connect to Weaviate", options.api_key):
                self._client.connect()
                meta = self._client.get_meta()
        except BaseException:
            self._client.close()
            raise
        self.version = parse_version(str(meta.get("version", "")))

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncWeaviateStore:
        """The native async store (``WeaviateAsyncClient``), not this one in worker threads."""
        if not isinstance(options, WeaviateOptions):
            raise ConfigError(f"WeaviateStore needs WeaviateOptions, got {type(options).__name__}")
        return AsyncWeaviateStore(options)

    def _exec(self, call: _Call) -> Any:
        target: Any = self._client
        if call.collection is not None:
            target = self._handles.get(call.collection)
            if target is None:
                target = self._handles[call.collection] = self._client.collections.use(
                    call.collection
                )
        with _mapped_errors(call.action, self.opts.api_key):
            return _resolve(target, call.method)(**call.kwargs)

    def _run(self, plan: Plan[T]) -> T:
        """Run ``plan`` to its end within the deadline; errors go back into the plan."""
        token = _DEADLINE.set(time.monotonic() + self.opts.timeout)
        try:
            call = next(plan)
            while True:
                try:
                    result = self._exec(call)
                except EdgevecError as err:
                    call = plan.throw(err)
                else:
                    call = plan.send(result)
        except StopIteration as stop:
            return cast(T, stop.value)
        finally:
            _DEADLINE.reset(token)

    def _list_collections(self) -> list[str]:
        return self._run(plan_list())

    def _has_collection(self, name: str) -> bool:
        return self._run(plan_exists(check_collection_name(name)))

    def _create(self, spec: CollectionSpec) -> WeaviateCollection:
        spec, opts = self._run(plan_create(spec, self.opts))
        props = {p.name for p in _fixed_properties()}
        return WeaviateCollection(self, spec, opts, props)

    def _open(self, name: str) -> WeaviateCollection:
        spec, opts, props = self._run(plan_open(name))
        return WeaviateCollection(self, spec, opts, props)

    def _drop(self, name: str) -> None:
        self._handles.pop(class_name(name), None)
        self._run(plan_drop(name))

    def _close(self) -> None:
        with _mapped_errors("close Weaviate", self.opts.api_key):
            self._client.close()


# ----------------------------------------------------------------------------- async shell


class AsyncWeaviateCollection(AsyncPlannedCollection):
    """A Weaviate collection behind the async API (``WeaviateAsyncClient``, no worker threads)."""

    backend: ClassVar[str] = "weaviate"
    planner: _Core

    def __init__(
        self,
        store: AsyncWeaviateStore,
        spec: CollectionSpec,
        opts: WeaviateCollectionOptions,
        props: set[str],
        version: tuple[int, ...],
    ) -> None:
        caps = _capabilities(store.opts, opts.index, version)
        super().__init__(spec, caps, _Core(spec, props), store._run)

    async def _upsert(self, batch: PreparedUpsert) -> None:
        """Every chunk is sent; the rejections of all of them make one error."""
        errors: dict[str, str] = {}
        cause: BaseException | None = None
        for chunk in batch.chunks(self.capabilities.max_batch):
            rejected, exc = await self._run(self.planner.upsert(chunk))
            errors.update(rejected)
            cause = cause or exc
        if errors:
            raise _batch_error(self.name, errors, batch.ids) from cause


class AsyncWeaviateStore(AsyncBaseStore):
    """Async twin of :class:`WeaviateStore`; connects on first use, on the running event loop."""

    backend: ClassVar[str] = "weaviate"
    capabilities: ClassVar[Capabilities] = WeaviateStore.capabilities
    Options = WeaviateOptions

    def __init__(self, options: BaseModel) -> None:
        if not isinstance(options, WeaviateOptions):
            raise ConfigError(f"WeaviateStore needs WeaviateOptions, got {type(options).__name__}")
        super().__init__(options)
        self.opts = options
        self.version: tuple[int, ...] = (0, 0, 0)
        self._client: WeaviateAsyncClient | None = None
        self._lock: asyncio.Lock | None = None
        self._handles: dict[str, Any] = {}
        self._closed = False

    async def _connected(self) -> WeaviateAsyncClient:
        if self._closed:
            raise BackendUnavailableError("this Weaviate store is closed")
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                client = WeaviateAsyncClient(**client_kwargs(self.opts))
                try:
                    with _mapped_errors("connect to Weaviate", self.opts.api_key):
                        await asyncio.wait_for(client.connect(), self.opts.timeout)
                        meta = await asyncio.wait_for(client.get_meta(), self.opts.timeout)
                except BaseException:
                    await client.close()
                    raise
                self.version = parse_version(str(meta.get("version", "")))
                self._client = client
        return self._client

    async def _exec(self, call: _Call) -> Any:
        client = await self._connected()
        target: Any = client
        if call.collection is not None:
            target = self._handles.get(call.collection)
            if target is None:
                target = self._handles[call.collection] = client.collections.use(call.collection)
        with _mapped_errors(call.action, self.opts.api_key):
            return await _resolve(target, call.method)(**call.kwargs)

    async def _drive(self, plan: Plan[T]) -> T:
        token = _DEADLINE.set(time.monotonic() + self.opts.timeout)
        try:
            call = next(plan)
            while True:
                try:
                    result = await self._exec(call)
                except EdgevecError as err:
                    call = plan.throw(err)
                else:
                    call = plan.send(result)
        except StopIteration as stop:
            return cast(T, stop.value)
        finally:
            _DEADLINE.reset(token)

    async def _run(self, plan: Plan[T]) -> T:
        """Run ``plan`` within the deadline; the whole operation is cancelled when it passes."""
        try:
            return await asyncio.wait_for(self._drive(plan), self.opts.timeout)
        except asyncio.TimeoutError as exc:
            raise BackendTimeoutError(
                f"Weaviate did not finish within the {self.opts.timeout} s deadline"
            ) from exc

    async def _list_collections(self) -> list[str]:
        return await self._run(plan_list())

    async def _has_collection(self, name: str) -> bool:
        return await self._run(plan_exists(check_collection_name(name)))

    async def _create(self, spec: CollectionSpec) -> AsyncWeaviateCollection:
        spec, opts = await self._run(plan_create(spec, self.opts))
        props = {p.name for p in _fixed_properties()}
        return AsyncWeaviateCollection(self, spec, opts, props, self.version)

    async def _open(self, name: str) -> AsyncWeaviateCollection:
        spec, opts, props = await self._run(plan_open(name))
        return AsyncWeaviateCollection(self, spec, opts, props, self.version)

    async def _drop(self, name: str) -> None:
        self._handles.pop(class_name(name), None)
        await self._run(plan_drop(name))

    async def _close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            with _mapped_errors("close Weaviate", self.opts.api_key):
                await client.close()
