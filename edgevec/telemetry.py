"""edgevec's metrics and spans, on the OpenTelemetry API: no-ops until the application installs
an SDK.

Every layer (collections, router, cache, embedders, the HTTP service) records into the same few
instruments of the ``edgevec`` meter, told apart by attributes, so one exporter sees them all. An
SDK with a Prometheus reader exports them under the seed's names: ``edgevec.request.duration`` (s)
becomes ``edgevec_request_duration_seconds``. Attributes never carry vectors, payloads or secrets.
:func:`observe` is the one way a collection call is measured (a span, the duration, errors):
:class:`~edgevec.observed.TelemetryStore` wraps each hook of a store's collections in it.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram
    from opentelemetry.trace import Tracer

__all__ = [
    "BACKEND_ERRORS",
    "CACHE_HITS",
    "CACHE_MISSES",
    "EMBEDDER_COLD_STARTS",
    "EMBEDDING_FAILURES",
    "METER",
    "REQUEST_DURATION",
    "Instruments",
    "Observation",
    "instruments",
    "observe",
]

METER = "edgevec"
REQUEST_DURATION = "edgevec.request.duration"
BACKEND_ERRORS = "edgevec.backend.errors"
EMBEDDING_FAILURES = "edgevec.embedding.failures"
CACHE_HITS = "edgevec.cache.hits"
CACHE_MISSES = "edgevec.cache.misses"
EMBEDDER_COLD_STARTS = "edgevec.embedder.cold_starts"


@dataclass(frozen=True)
class Instruments:
    """The instruments every layer records into."""

    request_duration: Histogram
    backend_errors: Counter
    embedding_failures: Counter
    cache_hits: Counter
    cache_misses: Counter
    embedder_cold_starts: Counter


@functools.cache
def instruments() -> Instruments:
    """The ``edgevec`` meter's instruments, created on first use.

    The OpenTelemetry API resolves the global meter provider lazily, so instruments made before
    the application installs its SDK still report through it.
    """
    from opentelemetry import metrics

    meter = metrics.get_meter(METER)
    return Instruments(
        request_duration=meter.create_histogram(
            REQUEST_DURATION, unit="s", description="Time to answer one call"
        ),
        backend_errors=meter.create_counter(
            BACKEND_ERRORS, description="Engine calls that raised, by backend and error type"
        ),
        embedding_failures=meter.create_counter(
            EMBEDDING_FAILURES, description="Inputs an embedder could not turn into a vector"
        ),
        cache_hits=meter.create_counter(CACHE_HITS, description="Results served from cache"),
        cache_misses=meter.create_counter(CACHE_MISSES, description="Results not in cache"),
        embedder_cold_starts=meter.create_counter(
            EMBEDDER_COLD_STARTS, description="Model sessions created (first inference pays it)"
        ),
    )


@functools.cache
def _tracer() -> Tracer:
    from opentelemetry import trace

    return trace.get_tracer(METER)


def _tracing() -> bool:
    """Whether the application installed a tracer provider (else spans are skipped: a no-op
    span made current costs ~10 us, more than a cached query)."""
    from opentelemetry import trace

    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@dataclass(slots=True)
class Observation:
    """What one observed call reports: set ``hits`` (results returned) before it ends."""

    attributes: dict[str, str]
    """The metric attributes (backend, collection, operation, region): few distinct values."""
    details: dict[str, int] = field(default_factory=dict)
    """Span-only attributes: ``k``, ``queries``, ``records``."""
    hits: int | None = None


@contextlib.contextmanager
def observe(
    operation: str,
    *,
    backend: str,
    collection: str,
    region: str | None = None,
    **details: int,
) -> Iterator[Observation]:
    """Measure one call: a span ``edgevec.<operation>`` (when tracing is on), its duration in
    ``edgevec.request.duration`` and, if it raises, one ``edgevec.backend.errors`` count with
    the error's type (never its message, which may quote the request)."""
    attributes = {"backend": backend, "collection": collection, "operation": operation}
    if region is not None:
        attributes["region"] = region
    seen = Observation(attributes, details)
    tools = instruments()
    span_cm: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if _tracing():  # messages stay out of spans too: no exception event, no status text
        span_cm = _tracer().start_as_current_span(
            f"edgevec.{operation}", record_exception=False, set_status_on_exception=False
        )
    start = time.perf_counter()
    with span_cm as span:
        try:
            yield seen
        except Exception as exc:
            error = type(exc).__name__
            tools.backend_errors.add(1, {**attributes, "error.type": error})
            if span is not None:
                from opentelemetry.trace import StatusCode

                span.set_attribute("error.type", error)
                span.set_status(StatusCode.ERROR, error)
            raise
        finally:
            tools.request_duration.record(time.perf_counter() - start, attributes)
            if span is not None:
                _annotate(span, seen)


def _annotate(span: Any, seen: Observation) -> None:
    for key, value in (*seen.attributes.items(), *seen.details.items()):
        span.set_attribute(f"edgevec.{key}", value)
    if seen.hits is not None:
        span.set_attribute("edgevec.hits", seen.hits)
