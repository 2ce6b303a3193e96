"""The collection schema, index and search parameters, and specs read back from Milvus."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pymilvus import (  # type: ignore[import-untyped]  # pymilvus ships no py.typed
    DataType,
    MilvusClient,
)

from edgevec.backends.milvus.options import MilvusIndexOptions
from edgevec.errors import ConfigError, InvalidInputError
from edgevec.fields import FieldType, check_fields, element_type
from edgevec.prepare import PreparedUpsert
from edgevec.search_params import SearchParams
from edgevec.types import CollectionSpec, Hits, Metric

ID, VECTOR, PAYLOAD, TERMS = "id", "vector", "payload", "payload_terms"
META_PROPERTY = "edgevec.meta"
"""Collection property holding edgevec's metadata (metric, index options, fingerprint) as JSON."""
MAX_ID_BYTES = 512


_METRIC_TO_MILVUS: dict[Metric, str] = {"cosine": "COSINE", "dot": "IP", "l2": "L2"}
_METRIC_FROM_MILVUS: dict[str, Metric] = {v: k for k, v in _METRIC_TO_MILVUS.items()}


def collection_meta(spec: CollectionSpec, opts: MilvusIndexOptions) -> str:
    meta = {
        "v": 1,
        "metric": spec.metric,
        "options": opts.model_dump(),
        "fingerprint": spec.fingerprint,
        "fields": dict(spec.fields),
    }
    return orjson.dumps(meta).decode()


def field_column(name: str) -> str:
    """The scalar column of declared field ``name``."""
    return "f_" + name


SCALAR_TYPE = {"int": "INT64", "float": "DOUBLE", "bool": "BOOL", "keyword": "VARCHAR"}
MAX_KEYWORD_BYTES = 65_535
MAX_LIST_LEN = 4096
"""Longest keyword and list a declared column holds (Milvus' VARCHAR and ARRAY limits)."""


def build_schema(dim: int, fields: Mapping[str, FieldType]) -> Any:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID, DataType.VARCHAR, is_primary=True, max_length=MAX_ID_BYTES)
    schema.add_field(VECTOR, DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field(PAYLOAD, DataType.JSON)
    schema.add_field(TERMS, DataType.JSON)
    for name, kind in fields.items():
        scalar, is_list = element_type(kind)
        dtype = getattr(DataType, SCALAR_TYPE[scalar])
        text = {"max_length": MAX_KEYWORD_BYTES} if scalar == "keyword" else {}
        if is_list:
            schema.add_field(
                field_column(name), DataType.ARRAY, element_type=dtype,
                max_capacity=MAX_LIST_LEN, nullable=True, **text,
            )  # fmt: skip
        else:
            schema.add_field(field_column(name), dtype, nullable=True, **text)
    return schema


def check_columns(batch: PreparedUpsert, fields: Mapping[str, FieldType]) -> None:
    """Refuse, before the first chunk is written, a declared keyword or list longer than its
    Milvus column holds."""
    for index, payload in enumerate(batch.payloads):
        for name in fields:
            v = payload.get(name)
            items = v if isinstance(v, list) else [v]
            if len(items) > MAX_LIST_LEN:
                raise InvalidInputError(
                    f"payload of {batch.ids[index]!r}: field {name!r} holds {len(items)} "
                    f"elements; Milvus stores at most {MAX_LIST_LEN}"
                )
            for e in items:
                if isinstance(e, str) and len(e.encode("utf-8")) > MAX_KEYWORD_BYTES:
                    raise InvalidInputError(
                        f"payload of {batch.ids[index]!r}: field {name!r} holds a keyword of "
                        f"more than {MAX_KEYWORD_BYTES} UTF-8 bytes, Milvus' limit"
                    )


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
    capabilities honour (``ef`` on HNSW), nothing else is forwarded."""
    params: dict[str, Any] = {}
    if opts.index == "HNSW":
        params["ef"] = max(asked.ef or opts.ef, k)
    elif opts.index == "IVF_FLAT":
        params["nprobe"] = min(opts.nprobe, opts.nlist)
    return {"metric_type": _METRIC_TO_MILVUS[metric], "params": params}


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
    try:
        declared = check_fields(meta.get("fields"))  # absent before fields existed
    except InvalidInputError as exc:
        raise ConfigError(f"collection {name!r} has unreadable declared fields: {exc}") from None
    spec = CollectionSpec(name, dim, metric, opts.model_dump(), meta.get("fingerprint"), declared)
    return spec, opts
