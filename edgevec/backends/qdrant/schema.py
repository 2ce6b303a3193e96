"""Store-level requests: list, create, inspect and drop Qdrant collections."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError
from qdrant_client import models

from edgevec.backends.qdrant.filters import payload_key
from edgevec.backends.qdrant.options import DECLARED_INDEX, QdrantCollectionOptions
from edgevec.backends.qdrant.steps import call, ignore
from edgevec.config import parse_options
from edgevec.driver import Plan
from edgevec.errors import (
    BackendError,
    ConfigError,
    CorruptDataError,
    FilterNotSupportedError,
    InvalidInputError,
)
from edgevec.fields import FieldType, check_fields
from edgevec.types import CollectionSpec, Metric

_METRIC_TO_DISTANCE: dict[Metric, models.Distance] = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "l2": models.Distance.EUCLID,
}
_DISTANCE_TO_METRIC = {d: m for m, d in _METRIC_TO_DISTANCE.items()}


def list_call() -> Plan[list[str]]:
    def parse(resp: models.CollectionsResponse) -> list[str]:
        return sorted(c.name for c in resp.collections)

    return call("get_collections", {}, parse, "list Qdrant collections")


def exists_call(name: str) -> Plan[bool]:
    return call(
        "collection_exists", {"collection_name": name}, bool, f"look up Qdrant collection {name!r}"
    )


def drop_call(name: str) -> Plan[None]:
    return call(
        "delete_collection", {"collection_name": name}, ignore, f"drop Qdrant collection {name!r}"
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
    for field in spec.fields:
        try:
            payload_key(field)
        except FilterNotSupportedError as exc:
            raise InvalidInputError(f"fields: {exc}") from None
    return opts


def plan_create(
    spec: CollectionSpec, local: bool
) -> tuple[CollectionSpec, QdrantCollectionOptions, list[Plan[None]]]:
    """Validated options, the spec as stored, and the calls that create the collection."""
    opts = collection_options(spec)
    spec = CollectionSpec(
        spec.name, spec.dim, spec.metric, opts.model_dump(), spec.fingerprint, spec.fields
    )
    hnsw = None
    if opts.hnsw_m is not None or opts.ef_construct is not None:
        hnsw = models.HnswConfigDiff(m=opts.hnsw_m, ef_construct=opts.ef_construct)
    vectors = models.VectorParams(
        size=spec.dim, distance=_METRIC_TO_DISTANCE[spec.metric], on_disk=opts.on_disk
    )
    meta = {
        "options": opts.model_dump(), "fingerprint": spec.fingerprint, "format": 1,
        "fields": dict(spec.fields),
    }  # fmt: skip
    create = {
        "collection_name": spec.name,
        "vectors_config": vectors,
        "hnsw_config": hnsw,
        "metadata": {"edgevec": meta},
    }
    calls = [call("create_collection", create, ignore, f"create Qdrant collection {spec.name!r}")]
    if not local:  # local mode has no payload indexes (and warns that they do nothing)
        # Declared fields get the index their type needs; an explicit payload_indexes wins.
        indexes = {
            **{f: DECLARED_INDEX[t.removesuffix("[]")] for f, t in spec.fields.items()},
            **opts.payload_indexes,
        }
        for field, kind in indexes.items():
            kwargs = {
                "collection_name": spec.name,
                "field_name": payload_key(field),
                "field_schema": models.PayloadSchemaType(kind),
                "wait": True,
            }
            calls.append(
                call("create_payload_index", kwargs, ignore, f"index {field!r} of {spec.name!r}")
            )
    return spec, opts, calls


def info_call(name: str) -> Plan[tuple[CollectionSpec, QdrantCollectionOptions]]:
    def parse(info: models.CollectionInfo) -> tuple[CollectionSpec, QdrantCollectionOptions]:
        return spec_from_info(name, info)

    return call(
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
    fields: Mapping[str, FieldType] = {}
    opts = QdrantCollectionOptions()
    if meta is not None:  # collections made by other tools have none: defaults apply
        try:
            opts = QdrantCollectionOptions.model_validate(meta["options"])
            fingerprint = meta.get("fingerprint")
            fields = check_fields(meta.get("fields"))  # absent before fields existed
        except (TypeError, KeyError, ValidationError, InvalidInputError) as exc:
            raise CorruptDataError(
                f"edgevec metadata of Qdrant collection {name!r} is unreadable: {exc}"
            ) from exc
    spec = CollectionSpec(name, params.size, metric, opts.model_dump(), fingerprint, fields)
    return spec, opts
