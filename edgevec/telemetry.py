"""edgevec's metrics, on the OpenTelemetry API: no-ops until the application installs an SDK.

Every layer (collections, router, cache, embedders, the HTTP service) records into the same few
instruments of the ``edgevec`` meter, told apart by attributes, so one exporter sees them all. An
SDK with a Prometheus reader exports them under the seed's names: ``edgevec.request.duration`` (s)
becomes ``edgevec_request_duration_seconds``. Attributes never carry vectors, payloads or secrets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram

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
