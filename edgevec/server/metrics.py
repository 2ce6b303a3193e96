"""``/metrics``: edgevec's OpenTelemetry instruments, exported in the Prometheus text format.

The OpenTelemetry API lets a process set its global meter provider once. The first service in a
process installs an SDK provider whose Prometheus reader feeds a registry of its own and serves
that; later apps in the same process share it. If the application had already installed its own
provider, edgevec cannot add a reader to it: the service then serves prometheus_client's default
registry, where a ``PrometheusMetricReader`` the application created registers by default. An
application can also pass the registry to serve to :func:`~edgevec.server.create_app`.
"""

from __future__ import annotations

import functools
import logging
import time

from prometheus_client import REGISTRY, CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgevec.telemetry import REQUEST_DURATION, instruments

__all__ = ["DURATION_BUCKETS_S", "RequestMetrics", "default_registry"]

DURATION_BUCKETS_S = (
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Histogram bounds for ``edgevec.request.duration``: the SDK's defaults (0, 5, 10, ... 10000)
suit milliseconds, but this instrument records seconds and answers in 1-30 ms at the edge."""

logger = logging.getLogger("edgevec.server")


@functools.cache
def default_registry() -> CollectorRegistry:
    """The registry this process's edgevec instruments export into (installed on first call)."""
    from opentelemetry import metrics
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    registry = CollectorRegistry()
    seconds = View(
        instrument_name=REQUEST_DURATION,
        aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS_S),
    )
    provider = MeterProvider(
        metric_readers=[PrometheusMetricReader(registry=registry)], views=[seconds]
    )
    metrics.set_meter_provider(provider)
    if metrics.get_meter_provider() is provider:
        return registry
    provider.shutdown()
    logger.warning(
        "a meter provider was installed before the service started; /metrics serves "
        "prometheus_client's default registry (give your provider a PrometheusMetricReader)"
    )
    return REGISTRY


class RequestMetrics:
    """ASGI middleware: every request's duration into ``edgevec.request.duration``.

    Attributes are the route (one of ``routes``, else ``"unmatched"``, so scanners cannot blow
    up the label set), the method and the status; rejected requests (401, 413, ...) count too.
    """

    def __init__(self, app: ASGIApp, routes: frozenset[str]) -> None:
        self.app = app
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope["path"]
            instruments().request_duration.record(
                time.perf_counter() - start,
                {
                    "http.route": path if path in self._routes else "unmatched",
                    "http.request.method": scope["method"],
                    "http.response.status_code": status,
                },
            )
