"""The store-level plans: the index description and the catalog of collections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgevec.backends.pinecone.limits import CAPABILITIES, CATALOG_NAMESPACE, LIST_PAGE
from edgevec.backends.pinecone.options import PineconeOptions
from edgevec.backends.pinecone.plans import Collection
from edgevec.backends.pinecone.space import NATIVE, IndexInfo, IndexMetric, Space
from edgevec.backends.pinecone.steps import plan_wait
from edgevec.capabilities import Capabilities
from edgevec.driver import Call, Plan
from edgevec.errors import (
    BackendError,
    CollectionNotFoundError,
    ConfigError,
    CorruptDataError,
    InvalidInputError,
)
from edgevec.fields import check_fields
from edgevec.types import METRICS, CollectionSpec


class Store:
    """What both store shells share: options, the index description and the catalog."""

    def __init__(self, opts: PineconeOptions) -> None:
        self.opts = opts
        self.info: IndexInfo | None = None
        self.reported_metric: IndexMetric | None = None  # from the control plane, by name
        self.catalog = opts.namespace_prefix + CATALOG_NAMESPACE

    def namespace(self, name: str) -> str:
        ns = self.opts.namespace_prefix + name
        if ns == "__default__":  # Pinecone's spelling of the default namespace
            raise InvalidInputError("collection name '__default__' is Pinecone's default namespace")
        return ns

    def capabilities(self) -> Capabilities:
        return CAPABILITIES.narrowed(exact=self.opts.exact, max_batch=self.opts.batch_size)

    def plan_info(self) -> Plan[IndexInfo]:
        if self.info is None:
            stats = yield Call("describe_index_stats", {}, "describe the Pinecone index")
            self.info = self.index_info(stats)
        return self.info

    def index_info(self, stats: Any) -> IndexInfo:
        dimension = getattr(stats, "dimension", None)
        if not isinstance(dimension, int) or dimension < 1:
            raise BackendError("the Pinecone index reports no dense dimension (a sparse index?)")
        reported = getattr(stats, "metric", None) or self.reported_metric
        configured = self.opts.metric
        if isinstance(reported, str) and reported not in NATIVE:
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
        return IndexInfo(dimension, metric)

    def catalog_row(self, spec: CollectionSpec, info: IndexInfo) -> dict[str, Any]:
        metadata: dict[str, Any] = {"dim": spec.dim, "metric": spec.metric, "format": 1}
        if spec.fingerprint is not None:
            metadata["fingerprint"] = spec.fingerprint
        if spec.fields:  # metadata values are flat: lists of strings, "name:type"
            metadata["fields"] = [f"{name}:{kind}" for name, kind in spec.fields.items()]
        values = [0.0] * info.dimension
        values[0] = 1.0
        return {"id": spec.name, "values": values, "metadata": metadata}

    # -- plans ---------------------------------------------------------------------------

    def plan_list(self) -> Plan[list[str]]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = yield Call(
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
        response = yield Call(
            "fetch",
            {"ids": [name], "namespace": self.catalog},
            f"look up collection {name!r}",
            missing_ok=True,
        )
        return None if response is None else response.vectors.get(name)

    def plan_has(self, name: str) -> Plan[bool]:
        return (yield from self._fetch_catalog(name)) is not None

    def plan_create(self, spec: CollectionSpec) -> Plan[Collection]:
        if spec.options:
            raise ConfigError(
                f"Pinecone collections take no options, got {', '.join(sorted(spec.options))}"
            )
        self.namespace(spec.name)
        info = yield from self.plan_info()
        coll = Collection(self, spec, Space.of(spec, info))
        yield Call(
            "upsert",
            {"vectors": [self.catalog_row(spec, info)], "namespace": self.catalog},
            f"create collection {spec.name!r}",
        )
        if self.opts.read_your_writes:
            for pause in plan_wait(f"collection {spec.name!r}", self.opts.consistency_timeout):
                if (yield from self._fetch_catalog(spec.name)) is not None:
                    break
                yield pause
        return coll

    def plan_open(self, name: str) -> Plan[Collection]:
        ns = self.namespace(name)
        info = yield from self.plan_info()
        row = yield from self._fetch_catalog(name)
        if row is not None:
            spec = spec_from_catalog(name, row.metadata)
        else:  # a namespace written by another tool opens with the index's own metric
            stats = yield Call("describe_index_stats", {}, f"open collection {name!r}")
            summary = stats.namespaces.get(ns)
            if summary is None or not summary.vector_count:
                raise CollectionNotFoundError(f"no collection or Pinecone namespace named {ns!r}")
            spec = CollectionSpec(name, info.dimension, NATIVE[info.metric])
        return Collection(self, spec, Space.of(spec, info))

    def plan_drop(self, name: str) -> Plan[None]:
        ns = self.namespace(name)
        yield Call(
            "delete",
            {"delete_all": True, "namespace": ns},
            f"delete the records of {name!r}",
            missing_ok=True,
        )
        yield Call(
            "delete",
            {"ids": [name], "namespace": self.catalog},
            f"drop collection {name!r}",
            missing_ok=True,
        )
        if self.opts.read_your_writes:
            for pause in plan_wait(f"the drop of {name!r}", self.opts.consistency_timeout):
                gone = (yield from self._fetch_catalog(name)) is None
                page = yield Call(
                    "list_paginated",
                    {"namespace": ns, "limit": 1},
                    f"check that {name!r} is empty",
                    missing_ok=True,
                )
                if gone and (page is None or not page.vectors):
                    break
                yield pause


def spec_from_catalog(name: str, metadata: Mapping[str, Any] | None) -> CollectionSpec:
    md = metadata or {}
    dim, metric, fingerprint = md.get("dim"), md.get("metric"), md.get("fingerprint")
    if not isinstance(dim, int | float) or isinstance(dim, bool) or metric not in METRICS:
        raise CorruptDataError(f"catalog record of collection {name!r} is unreadable: {md!r}")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise CorruptDataError(f"catalog record of collection {name!r} has a bad fingerprint")
    try:
        fields = check_fields(dict(entry.split(":", 1) for entry in md.get("fields", [])))
    except (TypeError, ValueError) as exc:  # InvalidInputError is a ValueError
        raise CorruptDataError(
            f"catalog record of collection {name!r} has bad declared fields: {exc}"
        ) from None
    return CollectionSpec(name, int(dim), metric, {}, fingerprint, fields)
