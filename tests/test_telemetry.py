"""Telemetry through the OpenTelemetry SDK's in-memory reader and exporter, on FAISS.

The SDK is installed for this module only (and the no-SDK state restored after), so spans and
metric points are read back exactly as an application's exporter would see them. Engine faults
come from a wrapper below the measured one that raises like an unreachable engine would.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')
pytest.importorskip("opentelemetry.sdk", reason='the test extra: pip install "edgevec[test]"')

from opentelemetry import metrics, trace  # after the skip guards
from opentelemetry.metrics import _internal as metrics_state
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from opentelemetry.util._once import Once

import edgevec
from edgevec import BackendUnavailableError, BaseCollection, Record
from edgevec.aobserved import AsyncTelemetryStore
from edgevec.observed import TelemetryStore
from edgevec.prepare import PreparedQuery
from edgevec.router.cached import CachedStore
from edgevec.telemetry import (
    BACKEND_ERRORS,
    CACHE_HITS,
    CACHE_MISSES,
    EMBEDDER_COLD_STARTS,
    EMBEDDING_FAILURES,
    REQUEST_DURATION,
)
from edgevec.types import Hits
from edgevec.wrapped import WrappedCollection, WrappedStore

DIM = 4
SECRET = "s3cr3t-t0ken"  # noqa: S105  # a fake secret that must never reach telemetry
MARKER = "payload-marker-7f3a"
SPAN_KEYS = {
    "edgevec.backend",
    "edgevec.collection",
    "edgevec.operation",
    "edgevec.region",
    "edgevec.k",
    "edgevec.queries",
    "edgevec.records",
    "edgevec.hits",
    "error.type",
}
METRIC_KEYS = {"backend", "collection", "operation", "region", "error.type", "model", "embedder"}


@dataclass
class Otel:
    metrics: InMemoryMetricReader
    spans: InMemorySpanExporter

    def read(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Each metric's data points (attributes, point) since the last read (delta)."""
        data = self.metrics.get_metrics_data()
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = [(dict(p.attributes or {}), p) for p in metric.data.data_points]
                    found.setdefault(metric.name, []).extend(points)
        return found

    def reset(self) -> None:
        self.metrics.get_metrics_data()
        self.spans.clear()

    def finished(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]


def _install(meter_provider: Any, tracer_provider: Any) -> None:
    """Point the global providers (and the proxies edgevec already holds) at these ones.

    The API sets each provider once per process; tests reset that guard so this module can
    install the SDK and give the no-SDK state back afterwards.
    """
    metrics_state._METER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    if meter_provider is None:
        metrics_state._METER_PROVIDER = None
        trace._TRACER_PROVIDER = None
        return
    metrics.set_meter_provider(meter_provider)
    trace.set_tracer_provider(tracer_provider)


@pytest.fixture(scope="module")
def otel() -> Iterator[Otel]:
    delta = AggregationTemporality.DELTA
    reader = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    _install(MeterProvider(metric_readers=[reader]), tracer_provider)
    try:
        yield Otel(reader, exporter)
    finally:
        _install(None, None)


@pytest.fixture
def fresh(otel: Otel) -> Otel:
    otel.reset()
    return otel


def _filled(store: edgevec.BaseStore, name: str = "items") -> edgevec.BaseCollection:
    coll = store.create_collection(name, dim=DIM, metric="cosine")
    vecs = np.eye(DIM, dtype=np.float32)
    coll.upsert_arrays([f"r{i}" for i in range(DIM)], vecs, [{"note": MARKER}] * DIM)
    return coll


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _no_leaks(otel: Otel, vector: np.ndarray, metric_points: list[dict[str, Any]]) -> None:
    """No span or metric attribute holds more than names and counts."""
    leaks = (SECRET, MARKER, repr(float(vector[0])))
    for span in otel.spans.get_finished_spans():
        assert set(span.attributes or {}) <= SPAN_KEYS
        texts = [str(v) for v in (span.attributes or {}).values()]
        texts += [span.status.description or "", *(e.name for e in span.events)]
        assert not [t for t in texts for leak in leaks if leak in t]
    for attributes in metric_points:
        assert set(attributes) <= METRIC_KEYS
        assert not [v for v in attributes.values() for x in leaks if x in str(v)]


def test_each_call_is_one_span_with_its_shape_and_one_duration(fresh: Otel) -> None:
    store = TelemetryStore(edgevec.connect("faiss"), region="eu")
    coll = _filled(store)
    query = np.array([0.9, 0.1, 0.0, 0.0], np.float32)
    fresh.reset()
    hits = coll.query(query, k=3)
    coll.query_batch(np.stack([query, query]), k=2)
    coll.get(["r0", "nope"])
    (single,) = [s for s in fresh.finished("edgevec.query") if _attrs(s)["edgevec.queries"] == 1]
    assert _attrs(single) == {
        "edgevec.backend": "faiss",
        "edgevec.collection": "items",
        "edgevec.operation": "query",
        "edgevec.region": "eu",
        "edgevec.k": 3,
        "edgevec.queries": 1,
        "edgevec.hits": len(hits),
    }
    (batch,) = [s for s in fresh.finished("edgevec.query") if _attrs(s)["edgevec.queries"] == 2]
    assert _attrs(batch)["edgevec.hits"] == 4
    (get,) = fresh.finished("edgevec.get")
    assert (_attrs(get)["edgevec.records"], _attrs(get)["edgevec.hits"]) == (2, 1)
    read = fresh.read()
    durations = {(a["operation"], a["region"]): p.count for a, p in read[REQUEST_DURATION]}
    assert durations == {("query", "eu"): 2, ("get", "eu"): 1}
    _no_leaks(fresh, query, [a for points in read.values() for a, _ in points])
    store.close()


class _DownCollection(WrappedCollection):
    """Below the measured wrapper: an engine that cannot be reached for queries."""

    def _query(self, q: PreparedQuery) -> list[Hits]:
        raise BackendUnavailableError(f"engine unreachable (sent api key {SECRET})")


class _Down(WrappedStore):
    def _wrap(self, coll: BaseCollection) -> BaseCollection:
        return _DownCollection(coll)


def test_engine_errors_are_counted_by_type_and_never_quoted(fresh: Otel) -> None:
    store = TelemetryStore(_Down(edgevec.connect("faiss")))
    coll = _filled(store)
    query = np.ones(DIM, np.float32)
    fresh.reset()
    for _ in range(2):
        with pytest.raises(BackendUnavailableError):
            coll.query(query, k=2)
    read = fresh.read()
    ((attributes, point),) = read[BACKEND_ERRORS]
    assert attributes == {
        "backend": "faiss",
        "collection": "items",
        "operation": "query",
        "error.type": "BackendUnavailableError",
    }
    assert point.value == 2
    spans = fresh.finished("edgevec.query")
    assert [s.status.status_code for s in spans] == [StatusCode.ERROR] * 2
    _no_leaks(fresh, query, [a for points in read.values() for a, _ in points])
    store.close()


def test_cache_hits_and_misses_are_counted(fresh: Otel) -> None:
    store = CachedStore(edgevec.connect("faiss"))
    coll = _filled(store, "cached")
    query = np.ones(DIM, np.float32)
    for _ in range(3):
        coll.query(query, k=2)
    coll.upsert([Record("new", query)])
    coll.query(query, k=2)
    read = fresh.read()
    counts = {name: [(a, p.value) for a, p in read[name]] for name in (CACHE_HITS, CACHE_MISSES)}
    where = {"backend": "faiss", "collection": "cached"}
    assert counts == {CACHE_HITS: [(where, 2)], CACHE_MISSES: [(where, 2)]}
    store.close()


def test_async_twin_and_config_switch_record_the_same(fresh: Otel) -> None:
    async def scenario() -> None:
        store = edgevec.connect_async("faiss", telemetry=True)
        assert isinstance(store, AsyncTelemetryStore)
        coll = await store.create_collection("items", dim=DIM)
        await coll.upsert([Record("a", np.ones(DIM, np.float32))])
        await coll.query(np.ones(DIM, np.float32), k=1)
        await coll.count()
        await store.close()

    asyncio.run(scenario())
    ops = sorted(str(_attrs(s)["edgevec.operation"]) for s in fresh.spans.get_finished_spans())
    assert ops == ["count", "query", "upsert"]
    (upsert,) = fresh.finished("edgevec.upsert")
    assert _attrs(upsert)["edgevec.records"] == 1
    assert "edgevec.region" not in _attrs(upsert)


@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None
    or importlib.util.find_spec("tokenizers") is None,
    reason='needs the onnx extra: pip install "edgevec[onnx]"',
)
def test_embedder_cold_starts_and_rejected_inputs_are_counted(fresh: Otel) -> None:
    from edgevec.embedders import text_embedder

    emb = text_embedder(cache=False)
    ((attributes, point),) = fresh.read()[EMBEDDER_COLD_STARTS]
    assert attributes == {"model": emb.name}
    assert point.value == 1
    emb.embed(["a red shoe"])
    with pytest.raises(edgevec.InvalidInputError):
        emb.embed(["fine", "   "])
    with pytest.raises(edgevec.InvalidInputError):
        emb.embed("not a list")
    ((attributes, point),) = fresh.read()[EMBEDDING_FAILURES]
    assert attributes == {"embedder": "text", "error.type": "InvalidInputError"}
    assert point.value == 2
