"""A TEST SERVER that speaks Weaviate's wire protocols on loopback. It is not Weaviate.

No Weaviate server installs here, so the Weaviate tests drive the official weaviate-client,
unchanged, against this stand-in: REST on one port (``/v1/meta``, ``/v1/schema`` CRUD and
``/properties``, ``/v1/.well-known/ready|live``, ``/v1/objects/{class}/{id}``) and gRPC on
another, built on the service stubs shipped inside weaviate-client (``Search``,
``BatchObjects``, ``BatchDelete``, ``Aggregate``, and the gRPC health check). What it models,
after Weaviate's docs:

* search is brute force over every object, in float32 as Weaviate computes it; distances are
  ``1 - cos`` (cosine), ``-a.b`` (dot) and ``|a-b|^2`` (l2-squared), ascending;
* filters: ``Equal``, ``<``/``<=``/``>``/``>=``, ``ContainsAny``/``All``/``None``,
  ``And``/``Or``/``Not`` and ``IsNull`` (``NotEqual`` is answered as the complement of ``Equal``,
  a guess: edgevec never sends it); an array property matches when any element does; a
  missing property matches no comparison; ``Not`` is the complement within the class; text is
  tokenized as the property says (``field``: trimmed whole value, ``word``: lowercased
  alphanumeric runs); values must have the property's type (``valueNumber`` for ``number``);
  ``Not`` and ``ContainsNone`` are refused when the reported version is below 1.33, as there;
* writes behave as a Weaviate with auto-schema off: unknown classes or properties and values of
  the wrong type are per-object errors; the first vector fixes a named vector's dimension;
* class and property names are validated and unique ignoring case; class JSON is returned with
  the defaults Weaviate fills in, so the client's schema parsers accept it;
* an API key, when set, is required as ``Authorization: Bearer`` on REST and gRPC; REST errors
  use Weaviate's ``{"error": [{"message": ...}]}`` body and gRPC errors its status codes;
* ``limit + offset`` and deletes are capped at QUERY_MAXIMUM_RESULTS (10,000);
* the cursor API: ``after`` (a uuid) with ``limit`` pages through objects in uuid order, and
  refuses to be combined with a filter, an offset or a search, as Weaviate does.

Test hooks (they change what the server does, never the client): :meth:`fail_next_rpcs` makes
the next gRPC calls fail with a status, :attr:`rpc_delay` slows every gRPC call down,
:meth:`slow_next_rpc` slows one; :attr:`rpc_peak` is the most gRPC calls seen in flight at once.
Not modelled: vectorizer and generative modules, multi-tenancy, replication, references, object
properties, BM25/hybrid search, sorting, grouping and aggregations other than the object count.
"""

from __future__ import annotations

import bisect
import copy
import json
import re
import struct
import threading
import time
import uuid
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
import numpy as np
import numpy.typing as npt
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

from tests.servers.lifecycle import Startable

__all__ = ["DEFAULT_VERSION", "WeaviateTestServer"]

DEFAULT_VERSION = "1.35.2"
"""Below 1.36, where weaviate-client switches batch writes to a streaming RPC."""
MAX_RESULTS = 10_000
DEFAULT_LIMIT = 10
MAX_HANDLERS = 64  # gRPC calls handled at once, so a client's concurrency shows
_CLASS_NAME = re.compile(r"[A-Z][_0-9A-Za-z]{0,254}")
_PROPERTY_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,230}")
_RESERVED = {"_additional", "_id", "id"}
_PRIMITIVES = {"text", "int", "number", "boolean", "uuid", "date"}
_TYPES = _PRIMITIVES | {f"{t}[]" for t in _PRIMITIVES}
_DISTANCES = {"cosine", "dot", "l2-squared"}
_F = base_pb2.Filters

_HNSW_DEFAULTS: dict[str, Any] = {
    "skip": False,
    "cleanupIntervalSeconds": 300,
    "maxConnections": 32,
    "efConstruction": 128,
    "ef": -1,
    "dynamicEfMin": 100,
    "dynamicEfMax": 500,
    "dynamicEfFactor": 8,
    "vectorCacheMaxObjects": 1_000_000_000_000,
    "flatSearchCutoff": 40_000,
    "distance": "cosine",
    "filterStrategy": "sweeping",
    "pq": {"enabled": False},
    "bq": {"enabled": False},
    "sq": {"enabled": False},
    "multivector": {"enabled": False, "aggregation": "maxSim"},
}
_FLAT_DEFAULTS: dict[str, Any] = {
    "distance": "cosine",
    "vectorCacheMaxObjects": 1_000_000_000_000,
    "pq": {"enabled": False},
    "bq": {"enabled": False},
    "sq": {"enabled": False},
}
_CLASS_DEFAULTS: dict[str, Any] = {
    "invertedIndexConfig": {
        "bm25": {"b": 0.75, "k1": 1.2},
        "cleanupIntervalSeconds": 60,
        "stopwords": {"preset": "en", "additions": None, "removals": None},
        "indexNullState": False,
        "indexPropertyLength": False,
        "indexTimestamps": False,
    },
    "multiTenancyConfig": {
        "enabled": False,
        "autoTenantCreation": False,
        "autoTenantActivation": False,
    },
    "replicationConfig": {
        "factor": 1,
        "asyncEnabled": False,
        "deletionStrategy": "NoAutomatedResolution",
    },
    "shardingConfig": {
        "virtualPerPhysical": 128,
        "desiredCount": 1,
        "actualCount": 1,
        "desiredVirtualCount": 128,
        "actualVirtualCount": 128,
        "key": "_id",
        "strategy": "hash",
        "function": "murmur3",
    },
}


class ApiError(Exception):
    """A request Weaviate would refuse: a REST status or gRPC status with a message."""

    def __init__(self, message: str, http: int = 422, rpc: Any = None) -> None:
        super().__init__(message)
        self.http = http
        self.rpc = rpc if rpc is not None else grpc.StatusCode.UNKNOWN


@dataclass
class _Object:
    uuid: str
    props: dict[str, Any]
    vectors: dict[str, npt.NDArray[np.float32]]
    created_ms: int


@dataclass
class _Class:
    schema: dict[str, Any]
    objects: dict[str, _Object] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.schema["class"])

    def prop(self, name: str) -> dict[str, Any]:
        for p in self.schema["properties"]:
            if p["name"] == name:
                return dict(p)
        raise ApiError(
            f"no such prop with name '{name}' found in class '{self.name}' in the schema. "
            "Check your schema files for which properties in this class are available"
        )

    def distance(self, vector_name: str) -> str:
        return str(self.schema["vectorConfig"][vector_name]["vectorIndexConfig"]["distance"])


def _error_body(message: str) -> dict[str, Any]:
    return {"error": [{"message": message}]}


# ----------------------------------------------------------------------------- schema rules


def _check_property(prop: dict[str, Any], existing: list[dict[str, Any]], cls: str) -> None:
    name = prop.get("name")
    if not isinstance(name, str) or not _PROPERTY_NAME.fullmatch(name):
        raise ApiError(f"'{name}' is not a valid property name")
    if name.lower() in _RESERVED:
        raise ApiError(f"'{name}' is a reserved property name")
    if any(p["name"].lower() == name.lower() for p in existing):
        raise ApiError(f"class '{cls}': property '{name}' already exists")
    types = prop.get("dataType")
    if not isinstance(types, list) or len(types) != 1 or types[0] not in _TYPES:
        raise ApiError(
            f"property '{name}': data type {types!r} not supported (the test server has no "
            "references or object properties)"
        )


def _normalise_property(prop: dict[str, Any]) -> dict[str, Any]:
    dtype = prop["dataType"][0]
    text = dtype in ("text", "text[]")
    out: dict[str, Any] = {
        "name": prop["name"][0].lower() + prop["name"][1:],  # Weaviate lowercases the first letter
        "dataType": [dtype],
        "indexFilterable": prop.get("indexFilterable", True),
        "indexSearchable": prop.get("indexSearchable", text),
        "indexRangeFilters": prop.get("indexRangeFilters", False),
    }
    if "description" in prop:
        out["description"] = prop["description"]
    if text:
        tokenization = prop.get("tokenization") or "word"
        if tokenization not in ("word", "field"):
            raise ApiError(f"tokenization {tokenization!r} is not modelled by the test server")
        out["tokenization"] = tokenization
    elif prop.get("tokenization"):
        raise ApiError(f"Tokenization is not allowed for data type '{dtype}'")
    return out


def _normalise_class(body: dict[str, Any], existing: dict[str, _Class]) -> dict[str, Any]:
    name = body.get("class")
    if not isinstance(name, str):
        raise ApiError("class name is required")
    name = name[:1].upper() + name[1:]
    if not _CLASS_NAME.fullmatch(name):
        raise ApiError(f"'{name}' is not a valid class name")
    for other in existing:
        if other.lower() == name.lower():
            raise ApiError(f'class name "{name}" already exists: found similar class "{other}"')
    vectors = body.get("vectorConfig")
    if not isinstance(vectors, dict) or not vectors:
        raise ApiError("the test server models named vectors only (vectorConfig)")
    vector_config: dict[str, Any] = {}
    for vname, cfg in vectors.items():
        if cfg.get("vectorizer") != {"none": {}}:
            raise ApiError(f"vectorizer: no module with name {cfg.get('vectorizer')!r} present")
        kind = cfg.get("vectorIndexType", "hnsw")
        if kind not in ("hnsw", "flat"):
            raise ApiError(f"vector index type {kind!r} is not modelled by the test server")
        index = {**(_HNSW_DEFAULTS if kind == "hnsw" else _FLAT_DEFAULTS)}
        index.update(cfg.get("vectorIndexConfig") or {})
        if index["distance"] not in _DISTANCES:
            raise ApiError(f"distance {index['distance']!r} is not modelled by the test server")
        vector_config[vname] = {
            "vectorizer": {"none": {}},
            "vectorIndexType": kind,
            "vectorIndexConfig": index,
        }
    props: list[dict[str, Any]] = []
    for prop in body.get("properties") or []:
        _check_property(prop, props, name)
        props.append(_normalise_property(prop))
    out = copy.deepcopy(_CLASS_DEFAULTS)
    out.update(
        {"class": name, "properties": props, "vectorConfig": vector_config, "moduleConfig": {}}
    )
    if "description" in body:
        out["description"] = body["description"]
    return out


# ----------------------------------------------------------------------------------- values


def _tokens(text: str, tokenization: str) -> list[str]:
    if tokenization == "field":
        # Go's strings.TrimSpace: Python's strip() also removes \x1c-\x1f, Go's does not.
        start, end = 0, len(text)
        while start < end and text[start].isspace() and text[start] not in "\x1c\x1d\x1e\x1f":
            start += 1
        while end > start and text[end - 1].isspace() and text[end - 1] not in "\x1c\x1d\x1e\x1f":
            end -= 1
        return [text[start:end]] if end > start else []
    return re.findall(r"[0-9a-z]+", text.lower())


def _float_list(values_bytes: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(values_bytes) // 8}d", values_bytes))


def _check_value(prop: dict[str, Any], value: Any) -> Any:
    """``value`` stored under ``prop``, or :class:`ApiError` if the type does not fit."""
    dtype: str = prop["dataType"][0]
    base, array = dtype.removesuffix("[]"), dtype.endswith("[]")
    items = value if array else [value]
    if array and not isinstance(value, list):
        raise ApiError(f"invalid {dtype} property '{prop['name']}': not an array")
    out = []
    for item in items:
        text = base in ("text", "uuid", "date") and isinstance(item, str)
        if text or (base == "boolean" and isinstance(item, bool)):
            out.append(item)
        elif base == "number" and isinstance(item, int | float) and not isinstance(item, bool):
            out.append(float(item))
        elif base == "int" and isinstance(item, int | float) and float(item).is_integer():
            out.append(int(item))
        else:
            raise ApiError(
                f"invalid {dtype} property '{prop['name']}': cannot hold {type(item).__name__} "
                f"{item!r}"
            )
    return out if array else out[0]


def _struct_value(value: Any) -> Any:
    """A ``google.protobuf.Value`` (how the client sends scalar properties) as Python."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [_struct_value(v) for v in value.list_value.values]
    if kind == "null_value":
        return None
    raise ApiError("object properties are not modelled by the test server")


def _incoming_properties(props: batch_pb2.BatchObject.Properties) -> dict[str, Any]:
    if props.object_properties or props.object_array_properties:
        raise ApiError("object properties are not modelled by the test server")
    if props.single_target_ref_props or props.multi_target_ref_props:
        raise ApiError("references are not modelled by the test server")
    out: dict[str, Any] = {k: _struct_value(v) for k, v in props.non_ref_properties.fields.items()}
    for p in props.text_array_properties:
        out[p.prop_name] = list(p.values)
    for p in props.boolean_array_properties:
        out[p.prop_name] = list(p.values)
    for p in props.int_array_properties:
        out[p.prop_name] = list(p.values)
    for p in props.number_array_properties:
        out[p.prop_name] = _float_list(p.values_bytes) if p.values_bytes else list(p.values)
    for name in props.empty_list_props:
        out[name] = []
    return out


def _outgoing_value(dtype: str, value: Any) -> properties_pb2.Value:
    base, array = dtype.removesuffix("[]"), dtype.endswith("[]")
    if not array:
        if base == "text":
            return properties_pb2.Value(text_value=value)
        if base == "number":
            return properties_pb2.Value(number_value=value)
        if base == "int":
            return properties_pb2.Value(int_value=value)
        if base == "boolean":
            return properties_pb2.Value(bool_value=value)
        if base == "uuid":
            return properties_pb2.Value(uuid_value=value)
        return properties_pb2.Value(date_value=value)
    if base == "text":
        listed = properties_pb2.ListValue(text_values=properties_pb2.TextValues(values=value))
    elif base == "number":
        packed = struct.pack(f"<{len(value)}d", *value)
        listed = properties_pb2.ListValue(number_values=properties_pb2.NumberValues(values=packed))
    elif base == "int":
        packed = struct.pack(f"<{len(value)}q", *value)
        listed = properties_pb2.ListValue(int_values=properties_pb2.IntValues(values=packed))
    elif base == "boolean":
        listed = properties_pb2.ListValue(bool_values=properties_pb2.BoolValues(values=value))
    elif base == "uuid":
        listed = properties_pb2.ListValue(uuid_values=properties_pb2.UuidValues(values=value))
    else:
        listed = properties_pb2.ListValue(date_values=properties_pb2.DateValues(values=value))
    return properties_pb2.Value(list_value=listed)


def _vector(raw: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


# ---------------------------------------------------------------------------------- filters

_RANGE = {
    _F.OPERATOR_LESS_THAN: lambda a, b: a < b,
    _F.OPERATOR_LESS_THAN_EQUAL: lambda a, b: a <= b,
    _F.OPERATOR_GREATER_THAN: lambda a, b: a > b,
    _F.OPERATOR_GREATER_THAN_EQUAL: lambda a, b: a >= b,
}
_VALUE_KEY = {
    "value_text": "valueText",
    "value_int": "valueInt",
    "value_number": "valueNumber",
    "value_boolean": "valueBoolean",
    "value_text_array": "valueTextArray",
    "value_int_array": "valueIntArray",
    "value_number_array": "valueNumberArray",
    "value_boolean_array": "valueBooleanArray",
    "value_geo": "valueGeoRange",
}
_ALLOWED_VALUES = {
    "text": {"value_text", "value_text_array"},
    "uuid": {"value_text", "value_text_array"},
    "date": {"value_text", "value_text_array"},
    "number": {"value_number", "value_number_array"},
    "int": {"value_int", "value_int_array"},
    "boolean": {"value_boolean", "value_boolean_array"},
}


class _Matcher:
    """Evaluates a gRPC ``Filters`` message against the objects of one class."""

    def __init__(self, cls: _Class, flt: base_pb2.Filters, supports_not: bool) -> None:
        self.cls = cls
        self.flt = flt
        self.supports_not = supports_not

    def select(self) -> list[_Object]:
        return [o for o in self.cls.objects.values() if self._match(o, self.flt)]

    def _match(self, obj: _Object, f: base_pb2.Filters) -> bool:
        op = f.operator
        if op == _F.OPERATOR_AND:
            return all(self._match(obj, sub) for sub in f.filters)
        if op == _F.OPERATOR_OR:
            return any(self._match(obj, sub) for sub in f.filters)
        if op in (_F.OPERATOR_NOT, _F.OPERATOR_CONTAINS_NONE) and not self.supports_not:
            raise ApiError(f"invalid filter: unknown operator {_F.Operator.Name(op)}")
        if op == _F.OPERATOR_NOT:
            if len(f.filters) != 1:
                raise ApiError("invalid filter: operator Not takes exactly one operand")
            return not self._match(obj, f.filters[0])
        return self._leaf(obj, f)

    def _target(self, f: base_pb2.Filters) -> str:
        if f.HasField("target"):
            if f.target.WhichOneof("target") != "property":
                raise ApiError("reference filters are not modelled by the test server")
            return str(f.target.property)
        if len(f.on) == 1:
            return str(f.on[0])
        raise ApiError("invalid filter: no property path")

    def _leaf(self, obj: _Object, f: base_pb2.Filters) -> bool:
        name = self._target(f)
        if name == "_id":
            prop: dict[str, Any] = {"name": "_id", "dataType": ["uuid"]}
            stored: Any = obj.uuid
        else:
            prop = self.cls.prop(name)
            stored = obj.props.get(name)
        dtype: str = prop["dataType"][0]
        base = dtype.removesuffix("[]")
        which = f.WhichOneof("test_value")
        op = f.operator
        if op == _F.OPERATOR_IS_NULL:
            if not self.cls.schema["invertedIndexConfig"]["indexNullState"]:
                raise ApiError("Nullstate must be indexed to be filterable! add `indexNullState`")
            empty = stored is None or stored == []
            return empty == bool(f.value_boolean)
        if which is None or which not in _ALLOWED_VALUES[base]:
            key = _VALUE_KEY.get(which or "", "no value")
            raise ApiError(f"data type filter cannot use {key!r} on type {dtype!r}")
        wanted = self._values(f, which, base, prop)
        have = self._elements(stored, base, prop)
        if op == _F.OPERATOR_EQUAL:
            return bool(wanted) and all(w in have for w in wanted)
        if op == _F.OPERATOR_NOT_EQUAL:
            return not (bool(wanted) and all(w in have for w in wanted))
        if op == _F.OPERATOR_CONTAINS_ANY:
            return any(w in have for w in wanted)
        if op == _F.OPERATOR_CONTAINS_ALL:
            return all(w in have for w in wanted)
        if op == _F.OPERATOR_CONTAINS_NONE:
            return not any(w in have for w in wanted)
        if op in _RANGE:
            if base not in ("number", "int", "date") or len(wanted) != 1:
                raise ApiError(f"operator {_F.Operator.Name(op)} is not modelled for {dtype!r}")
            return any(_RANGE[op](h, wanted[0]) for h in have)
        raise ApiError(f"operator {_F.Operator.Name(op)} is not modelled by the test server")

    @staticmethod
    def _values(f: base_pb2.Filters, which: str, base: str, prop: dict[str, Any]) -> list[Any]:
        raw = getattr(f, which)
        values = list(raw.values) if which.endswith("_array") else [raw]
        if base == "text":
            tokenization = prop.get("tokenization", "word")
            return [t for v in values for t in _tokens(v, tokenization)]
        if base == "uuid":
            return [str(uuid.UUID(v)) for v in values]
        return values

    @staticmethod
    def _elements(stored: Any, base: str, prop: dict[str, Any]) -> list[Any]:
        if stored is None:
            return []
        items = stored if isinstance(stored, list) else [stored]
        if base == "text":
            tokenization = prop.get("tokenization", "word")
            return [t for v in items for t in _tokens(v, tokenization)]
        return items


# ------------------------------------------------------------------------------------- gRPC


class _Servicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, server: WeaviateTestServer) -> None:
        self.server = server

    def _enter(self, context: Any) -> None:
        srv = self.server
        # A call's fate is drawn when it arrives: a slowed call that its client already gave up on
        # must not wake later and take a failure a later test injected.
        with srv.lock:
            delay = srv._slow.pop(0) if srv._slow else srv.rpc_delay
            failure = srv._failures.pop(0) if srv._failures else None
            srv._in_flight += 1
            srv.rpc_peak = max(srv.rpc_peak, srv._in_flight)
        try:
            time.sleep(delay)  # the calls that overlap here were in flight at once
        finally:
            with srv.lock:
                srv._in_flight -= 1
        if failure is not None:
            context.abort(failure, "injected by the test server")
        if srv.api_key is not None:
            metadata = dict(context.invocation_metadata())
            if metadata.get("authorization") != f"Bearer {srv.api_key}":
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid api key")

    @staticmethod
    def _abort(context: Any, err: ApiError) -> NoReturn:
        context.abort(err.rpc, str(err))
        raise AssertionError("unreachable")  # context.abort raises

    def Search(  # noqa: N802  # gRPC method names are fixed by the service
        self, request: search_get_pb2.SearchRequest, context: Any
    ) -> search_get_pb2.SearchReply:
        self._enter(context)
        start = time.perf_counter()
        try:
            with self.server.lock:
                results = self.server._search(request)
        except ApiError as err:
            self._abort(context, err)
        return search_get_pb2.SearchReply(took=time.perf_counter() - start, results=results)

    def BatchObjects(  # noqa: N802
        self, request: batch_pb2.BatchObjectsRequest, context: Any
    ) -> batch_pb2.BatchObjectsReply:
        self._enter(context)
        start = time.perf_counter()
        errors = []
        with self.server.lock:
            for i, obj in enumerate(request.objects):
                try:
                    self.server._put(obj)
                except ApiError as err:
                    errors.append(batch_pb2.BatchObjectsReply.BatchError(index=i, error=str(err)))
        return batch_pb2.BatchObjectsReply(took=time.perf_counter() - start, errors=errors)

    def BatchDelete(  # noqa: N802
        self, request: batch_delete_pb2.BatchDeleteRequest, context: Any
    ) -> batch_delete_pb2.BatchDeleteReply:
        self._enter(context)
        start = time.perf_counter()
        try:
            with self.server.lock:
                cls = self.server._class(request.collection)
                if not request.HasField("filters"):
                    raise ApiError("batch delete needs a filter")
                matched = _Matcher(cls, request.filters, self.server.supports_not).select()
                matched = sorted(matched, key=lambda o: o.uuid)[: self.server.max_results]
                if not request.dry_run:
                    for obj in matched:
                        del cls.objects[obj.uuid]
        except ApiError as err:
            self._abort(context, err)
        objects = [
            batch_delete_pb2.BatchDeleteObject(
                uuid=uuid.UUID(o.uuid).bytes, successful=not request.dry_run
            )
            for o in matched
            if request.verbose
        ]
        return batch_delete_pb2.BatchDeleteReply(
            took=time.perf_counter() - start,
            failed=0,
            matches=len(matched),
            successful=0 if request.dry_run else len(matched),
            objects=objects,
        )

    def Aggregate(  # noqa: N802
        self, request: aggregate_pb2.AggregateRequest, context: Any
    ) -> aggregate_pb2.AggregateReply:
        self._enter(context)
        start = time.perf_counter()
        try:
            with self.server.lock:
                cls = self.server._class(request.collection)
                if request.aggregations or request.HasField("group_by"):
                    raise ApiError(
                        "only the object count is modelled by the test server",
                        rpc=grpc.StatusCode.UNIMPLEMENTED,
                    )
                objects = list(cls.objects.values())
                if request.HasField("filters"):
                    objects = _Matcher(cls, request.filters, self.server.supports_not).select()
        except ApiError as err:
            self._abort(context, err)
        single = aggregate_pb2.AggregateReply.Single(
            objects_count=len(objects) if request.objects_count else None
        )
        return aggregate_pb2.AggregateReply(took=time.perf_counter() - start, single_result=single)


def _health_handler() -> Any:
    """``/grpc.health.v1.Health/Check`` with Weaviate's messages (``client.is_live()`` and the
    client's start-up check call it)."""

    def check(
        request: health_weaviate_pb2.WeaviateHealthCheckRequest, context: Any
    ) -> health_weaviate_pb2.WeaviateHealthCheckResponse:
        return health_weaviate_pb2.WeaviateHealthCheckResponse(
            status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
        )

    method = grpc.unary_unary_rpc_method_handler(
        check,
        request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
        response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": method})


# ------------------------------------------------------------------------------------- REST


class _Handler(BaseHTTPRequestHandler):
    server_version = "weaviate-test-server"
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of a real server
    disable_nagle_algorithm = True  # headers and body go out as two writes
    owner: WeaviateTestServer  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        return

    def _send(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _body(self) -> Any:
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        return json.loads(raw) if raw else None

    def _authorised(self) -> bool:
        key = self.owner.api_key
        if key is None:
            return True
        given = self.headers.get("Authorization")
        if given is None:
            message = "anonymous access not enabled, please provide an auth scheme such as OIDC"
            self._send(401, {"code": 401, "message": message})
            return False
        if given != f"Bearer {key}":
            self._send(401, {"code": 401, "message": "unauthorized: invalid api key"})
            return False
        return True

    def _dispatch(self) -> None:
        path = unquote(urlsplit(self.path).path).rstrip("/")
        parts = path.split("/")[1:]
        if parts[:1] != ["v1"]:
            self._send(404, _error_body(f"no route for {path}"))
            return
        route = parts[1:]
        if route[:1] == [".well-known"]:
            status = 200 if route[1:] in (["ready"], ["live"]) else 404
            self._send(status)
            return
        if not self._authorised():
            return
        try:
            with self.owner.lock:
                status, body = self.owner._rest(self.command, route, self._body())
        except ApiError as err:
            status, body = err.http, _error_body(str(err))
        self._send(status, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch  # noqa: N815


# ----------------------------------------------------------------------------------- server


class WeaviateTestServer(Startable):
    """The test server: REST and gRPC on free loopback ports, state in memory.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        *,
        version: str = DEFAULT_VERSION,
        api_key: str | None = None,
        max_results: int = MAX_RESULTS,
    ) -> None:
        self.version = version
        self.api_key = api_key
        self.max_results = max_results
        major, minor = (int(x) for x in version.split(".")[:2])
        self.supports_not = (major, minor) >= (1, 33)
        self.lock = threading.RLock()
        self.classes: dict[str, _Class] = {}
        self.rpc_delay = 0.0
        """Seconds every gRPC call sleeps before it is handled."""
        self.rpc_peak = 0
        """The most gRPC calls that were in flight at once (reset it to measure afresh)."""
        self._in_flight = 0
        self._slow: list[float] = []
        self._failures: list[Any] = []
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: Any = None
        self.http_port = 0
        self.grpc_port = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> WeaviateTestServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="weaviate-test-rest", daemon=True
        )
        self._http_thread.start()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_HANDLERS))
        add = weaviate_pb2_grpc.add_WeaviateServicer_to_server
        add(_Servicer(self), self._grpc)  # type: ignore[no-untyped-call]  # generated, untyped
        self._grpc.add_generic_rpc_handlers((_health_handler(),))
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        return self

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait()
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join()
            self._http_thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def fail_next_rpcs(self, count: int, code: Any = None, *, clear: bool = False) -> None:
        """Make the next ``count`` gRPC calls fail with ``code`` (default ``UNAVAILABLE``);
        ``clear`` first drops failures still pending."""
        with self.lock:
            if clear:
                self._failures.clear()
            self._failures.extend([code or grpc.StatusCode.UNAVAILABLE] * count)

    def slow_next_rpc(self, seconds: float) -> None:
        """Make the next gRPC call sleep ``seconds`` (instead of :attr:`rpc_delay`)."""
        with self.lock:
            self._slow.append(seconds)

    @property
    def pending_failures(self) -> int:
        """Injected failures not yet consumed (each gRPC call consumes one)."""
        with self.lock:
            return len(self._failures)

    # -- REST -------------------------------------------------------------------------------

    def _class(self, name: str) -> _Class:
        cls = self.classes.get(name)
        if cls is None:
            raise ApiError(f"could not find class {name} in schema", http=404)
        return cls

    def _rest(self, method: str, route: list[str], body: Any) -> tuple[int, Any]:
        if route == ["meta"] and method == "GET":
            meta = {
                "hostname": "http://[::]:8080",
                "modules": {},
                "version": self.version,
                "grpcMaxMessageSize": 104_858_000,
            }
            return 200, meta
        if route[:1] == ["schema"]:
            return self._schema(method, route[1:], body)
        if route[:1] == ["objects"] and len(route) == 3:
            return self._object(method, route[1], route[2])
        raise ApiError(f"no route for {method} /v1/{'/'.join(route)}", http=404)

    def _schema(self, method: str, route: list[str], body: Any) -> tuple[int, Any]:
        if not route:
            if method == "GET":
                return 200, {"classes": [c.schema for c in self.classes.values()]}
            if method == "POST":
                schema = _normalise_class(body, self.classes)
                self.classes[schema["class"]] = _Class(schema)
                return 200, schema
        elif len(route) == 1:
            if method == "GET":
                return 200, self._class(route[0]).schema
            if method == "DELETE":
                self.classes.pop(route[0], None)
                return 200, None
        elif len(route) == 2 and route[1] == "properties" and method == "POST":
            cls = self._class(route[0])
            _check_property(body, cls.schema["properties"], cls.name)
            prop = _normalise_property(body)
            cls.schema["properties"].append(prop)
            return 200, prop
        raise ApiError(f"no route for {method} /v1/schema/{'/'.join(route)}", http=405)

    def _object(self, method: str, name: str, object_id: str) -> tuple[int, Any]:
        cls = self.classes.get(name)
        obj = None if cls is None else cls.objects.get(object_id)
        if cls is None or obj is None:
            return 404, None
        if method == "HEAD":
            return 204, None
        if method == "DELETE":
            del cls.objects[object_id]
            return 204, None
        if method == "GET":
            return 200, {
                "class": cls.name,
                "id": obj.uuid,
                "properties": obj.props,
                "vectors": {k: v.tolist() for k, v in obj.vectors.items()},
                "creationTimeUnix": obj.created_ms,
                "lastUpdateTimeUnix": obj.created_ms,
            }
        raise ApiError(f"{method} on objects is not modelled by the test server", http=405)

    # -- gRPC -------------------------------------------------------------------------------

    def _put(self, obj: batch_pb2.BatchObject) -> None:
        cls = self.classes.get(obj.collection)
        if cls is None:
            raise ApiError(f"class {obj.collection!r} not found in schema (auto-schema is off)")
        if obj.tenant:
            raise ApiError("multi-tenancy is not modelled by the test server")
        object_id = str(uuid.UUID(obj.uuid))
        props: dict[str, Any] = {}
        for name, value in _incoming_properties(obj.properties).items():
            if value is not None:
                props[name] = _check_value(cls.prop(name), value)
        if obj.vector_bytes or obj.vector:
            raise ApiError(
                f"class {cls.name} has named vectors: an unnamed vector cannot be stored"
            )
        vectors: dict[str, npt.NDArray[np.float32]] = {}
        for vec in obj.vectors:
            name = vec.name or "default"
            if name not in cls.schema["vectorConfig"]:
                raise ApiError(f"class {cls.name} has no named vector {name!r}")
            if vec.type == base_pb2.Vectors.VECTOR_TYPE_MULTI_FP32:
                raise ApiError("multi-vectors are not modelled by the test server")
            values = _vector(vec.vector_bytes)
            dim = cls.dims.get(name)
            if dim is not None and dim != len(values):
                raise ApiError(
                    f"insert to vector index {name}: new node has a vector with length "
                    f"{len(values)}. Existing nodes have vectors with length {dim}"
                )
            vectors[name] = values
        for name, values in vectors.items():
            cls.dims.setdefault(name, len(values))
        now = int(time.time() * 1000)
        cls.objects[object_id] = _Object(object_id, props, vectors, now)

    def _search(self, req: search_get_pb2.SearchRequest) -> list[search_get_pb2.SearchResult]:
        cls = self._class(req.collection)
        for unsupported in ("hybrid_search", "bm25_search", "near_object", "near_text", "group_by"):
            if req.HasField(unsupported):
                raise ApiError(
                    f"{unsupported} is not modelled by the test server",
                    rpc=grpc.StatusCode.UNIMPLEMENTED,
                )
        if req.sort_by or req.tenant:
            raise ApiError(
                "sorting and tenants are not modelled by the test server",
                rpc=grpc.StatusCode.UNIMPLEMENTED,
            )
        if req.after and (req.HasField("filters") or req.offset or req.HasField("near_vector")):
            raise ApiError("cursor api: after cannot be combined with where, offset or a search")
        limit = req.limit or DEFAULT_LIMIT
        if limit + req.offset > self.max_results:
            raise ApiError(
                f"query maximum results exceeded: limit {limit} + offset {req.offset} > "
                f"{self.max_results}"
            )
        objects = (
            _Matcher(cls, req.filters, self.supports_not).select()
            if req.HasField("filters")
            else list(cls.objects.values())
        )
        distances: dict[str, float] = {}
        if req.HasField("near_vector"):
            objects, distances = self._near(cls, req.near_vector, objects)
        else:  # uuid order, which the cursor (``after``: the last uuid seen) pages through
            objects.sort(key=lambda o: o.uuid)
            if req.after:
                objects = objects[bisect.bisect_right([o.uuid for o in objects], req.after) :]
        page = objects[req.offset : req.offset + limit]
        return [self._result(cls, req, o, distances.get(o.uuid)) for o in page]

    def _near(
        self, cls: _Class, near: Any, objects: list[_Object]
    ) -> tuple[list[_Object], dict[str, float]]:
        targets = list(near.targets.target_vectors) or list(near.target_vectors)
        names = list(cls.schema["vectorConfig"])
        if len(targets) > 1:
            raise ApiError("multi-target search is not modelled by the test server")
        if not targets and len(names) > 1:
            raise ApiError("the class has several named vectors: name the target vector")
        name = targets[0] if targets else names[0]
        if name not in cls.schema["vectorConfig"]:
            raise ApiError(f"class {cls.name} has no named vector {name!r}")
        if near.vectors:
            query = _vector(near.vectors[0].vector_bytes)
        elif near.vector_bytes:
            query = _vector(near.vector_bytes)
        else:
            raise ApiError("near_vector without a vector")
        dim = cls.dims.get(name)
        if dim is not None and dim != len(query):
            raise ApiError(f"vector search: vector lengths don't match: {len(query)} vs {dim}")
        with_vec = [o for o in objects if name in o.vectors]
        if not with_vec:
            return [], {}
        matrix = np.stack([o.vectors[name] for o in with_vec])
        metric = cls.distance(name)
        if metric == "cosine":
            unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
            q = query / np.linalg.norm(query)
            dist = (np.float32(1) - unit @ q).astype(np.float32)
        elif metric == "dot":
            dist = (-(matrix @ query)).astype(np.float32)
        else:
            diff = matrix - query
            dist = np.einsum("ij,ij->i", diff, diff).astype(np.float32)
        order = sorted(range(len(with_vec)), key=lambda i: (float(dist[i]), with_vec[i].uuid))
        if near.HasField("distance"):
            order = [i for i in order if dist[i] <= near.distance]
        ranked = [with_vec[i] for i in order]
        return ranked, {with_vec[i].uuid: float(dist[i]) for i in order}

    def _result(
        self,
        cls: _Class,
        req: search_get_pb2.SearchRequest,
        obj: _Object,
        distance: float | None,
    ) -> search_get_pb2.SearchResult:
        wanted = req.properties
        if not req.HasField("properties") or wanted.return_all_nonref_properties:
            names = [p["name"] for p in cls.schema["properties"]]
        else:
            names = list(wanted.non_ref_properties)
        fields = {}
        for name in names:
            if name in obj.props:
                fields[name] = _outgoing_value(cls.prop(name)["dataType"][0], obj.props[name])
        meta = search_get_pb2.MetadataResult(id=obj.uuid, id_as_bytes=uuid.UUID(obj.uuid).bytes)
        want = req.metadata
        if distance is not None and want.distance:
            meta.distance = distance
            meta.distance_present = True
        if want.creation_time_unix:
            meta.creation_time_unix = obj.created_ms
            meta.creation_time_unix_present = True
        if want.last_update_time_unix:
            meta.last_update_time_unix = obj.created_ms  # every write replaces the object
            meta.last_update_time_unix_present = True
        names_wanted = list(want.vectors) or (list(obj.vectors) if want.vector else [])
        for vname in names_wanted:
            if vname in obj.vectors:
                meta.vectors.append(
                    base_pb2.Vectors(
                        name=vname,
                        vector_bytes=obj.vectors[vname].astype("<f4").tobytes(),
                        type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32,
                    )
                )
        props = search_get_pb2.PropertiesResult(
            non_ref_props=properties_pb2.Properties(fields=fields),
            target_collection=cls.name,
        )
        return search_get_pb2.SearchResult(properties=props, metadata=meta)
