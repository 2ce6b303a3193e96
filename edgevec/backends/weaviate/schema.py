"""Store-level plans: create, open, list and drop the Weaviate classes behind collections."""

from __future__ import annotations

from typing import Any

import orjson
from weaviate.classes.config import Configure, VectorDistances

from edgevec.backends.weaviate.codec import (
    VECTOR_NAME,
    class_name,
    collection_name,
    fixed_properties,
)
from edgevec.backends.weaviate.options import (
    WeaviateCollectionOptions,
    WeaviateOptions,
    collection_options,
)
from edgevec.driver import Call, Plan
from edgevec.errors import ConfigError
from edgevec.fields import check_fields
from edgevec.types import CollectionSpec, Metric

_DISTANCES: dict[Metric, VectorDistances] = {
    "cosine": VectorDistances.COSINE,
    "dot": VectorDistances.DOT,
    "l2": VectorDistances.L2_SQUARED,
}
_METRICS = {d.value: m for m, d in _DISTANCES.items()}


def _describe(spec: CollectionSpec, opts: WeaviateCollectionOptions) -> str:
    meta = {
        "edgevec": 1,
        "dim": spec.dim,
        "metric": spec.metric,
        "options": opts.model_dump(),
        "fingerprint": spec.fingerprint,
        "fields": dict(spec.fields),
    }
    return orjson.dumps(meta).decode()


def plan_create(
    spec: CollectionSpec, store: WeaviateOptions
) -> Plan[tuple[CollectionSpec, WeaviateCollectionOptions]]:
    opts = collection_options(spec, store)
    spec = CollectionSpec(
        spec.name, spec.dim, spec.metric, opts.model_dump(), spec.fingerprint, spec.fields
    )
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
        "properties": fixed_properties(spec.fields),
        "vector_config": Configure.Vectors.self_provided(
            name=VECTOR_NAME, vector_index_config=index
        ),
    }
    yield Call("collections.create", kwargs, f"create Weaviate collection {spec.name!r}")
    return spec, opts


def config_call(name: str) -> Call[Any]:
    return Call("config.get", {"simple": True}, f"read collection {name!r}", on=class_name(name))


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
        fields = check_fields(meta.get("fields"))  # absent before fields existed
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
    spec = CollectionSpec(name, dim, metric, opts.model_dump(), meta.get("fingerprint"), fields)
    return spec, opts, {p.name for p in config.properties}


def plan_open(name: str) -> Plan[tuple[CollectionSpec, WeaviateCollectionOptions, set[str]]]:
    config = yield config_call(name)
    return spec_from_config(name, config)


def plan_list() -> Plan[list[str]]:
    configs = yield Call("collections.list_all", {"simple": True}, "list Weaviate collections")
    names = (collection_name(c) for c in configs)
    return sorted(n for n in names if n is not None)


def plan_exists(name: str) -> Plan[bool]:
    found = yield Call(
        "collections.exists", {"name": class_name(name)}, f"look up collection {name!r}"
    )
    return bool(found)


def plan_drop(name: str) -> Plan[None]:
    yield Call("collections.delete", {"name": class_name(name)}, f"drop collection {name!r}")
