"""The service's ASGI app: its routes, authentication, request metrics and error shape.

:func:`create_app` builds the Starlette app over any store -- one backend, a router, a cached
store -- so the service never knows which engine answers; :mod:`edgevec.server.service` holds the
endpoints, and :func:`operations` lists them once for both the router and the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edgevec.abase import AsyncBaseStore
from edgevec.base import BaseStore
from edgevec.embedders.protocol import Embedder
from edgevec.server.auth import BearerAuth
from edgevec.server.codec import JSON, dumps
from edgevec.server.errors import error_response, response_for
from edgevec.server.metrics import RequestMetrics, default_registry
from edgevec.server.openapi import Operation, openapi_document
from edgevec.server.service import Service, StoreFactory
from edgevec.server.settings import ServiceSettings

__all__ = ["build_app", "create_app", "operations"]

logger = logging.getLogger("edgevec.server")

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    """Every failure of ``handler`` as the service's JSON error (a 5xx without internals)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:  # the response says what the client may know; the log the rest
            return response_for(exc)

    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 and 405 from the router, in the same JSON shape as every other error."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


def operations(service: Service) -> list[Operation]:
    """The routes this service has, with what each accepts and answers (also its OpenAPI)."""
    image_or_json = "image" if service.kind == "image" else "json"
    ops = [
        Operation("/healthz", "GET", service.healthz, public=True, responses=(200,)),
        Operation("/readyz", "GET", service.readyz, public=True, responses=(200, 503)),
        Operation("/metrics", "GET", service.metrics, responses=(200,)),
        Operation(
            "/search", "POST", service.search, body="search", responses=(200, 400, 413, 415, 422),
            store=True,
        ),
        Operation(
            "/embed", "POST", service.embed, body=image_or_json,
            responses=(200, 400, 413, 415, 422),
        ),
    ]  # fmt: skip
    if service.kind == "image":
        ops.append(
            Operation(
                "/similarity", "POST", service.similarity, body="image", query=("k", "filter"),
                responses=(200, 400, 413, 415, 422), store=True,
            )
        )  # fmt: skip
    if service.settings.writes:
        ops += [
            Operation(
                "/upsert", "POST", service.upsert, body="upsert", query=("id", "payload"),
                responses=(200, 400, 413, 415, 422), store=True,
            ),
            Operation(
                "/items", "DELETE", service.delete_items, body="delete",
                responses=(200, 400, 413, 415, 422), store=True,
            ),
        ]  # fmt: skip
    return ops


def create_app(
    store: AsyncBaseStore | BaseStore,
    settings: ServiceSettings,
    *,
    embedder: Embedder | None = None,
    registry: CollectorRegistry | None = None,
) -> Starlette:
    """The service's ASGI app over ``store`` (which the caller keeps and closes).

    ``embedder``: the model whose vectors ``settings.collection`` holds; ``None`` loads the
    bundled one ``settings.embedder`` names. Either way the collection's recorded fingerprint
    must match. ``registry``: what ``/metrics`` serves; ``None`` installs edgevec's Prometheus
    exporter once per process (see :mod:`edgevec.server.metrics`).
    """
    return build_app(lambda: store, settings, embedder=embedder, registry=registry)


def build_app(
    open_store: StoreFactory,
    settings: ServiceSettings,
    *,
    embedder: Embedder | None = None,
    registry: CollectorRegistry | None = None,
    close_store: bool = False,
) -> Starlette:
    """:func:`create_app` with the store opened at start-up (inside the server's event loop,
    where native async clients must be made) and, with ``close_store``, closed at shutdown."""
    if registry is None:
        registry = default_registry()
    if not settings.api_keys:
        logger.warning("[service] api_keys is empty: every endpoint answers without a key")
    service = Service(
        open_store, settings, embedder=embedder, registry=registry, close_store=close_store
    )
    ops = operations(service)
    document: list[bytes] = []  # filled below: the document lists its own route too

    async def openapi(request: Request) -> Response:
        """This OpenAPI document."""
        return Response(document[0], media_type=JSON)

    ops.append(Operation("/openapi.json", "GET", openapi, responses=(200,)))
    document.append(dumps(openapi_document(ops, settings)))
    paths = frozenset(op.path for op in ops)
    return Starlette(
        routes=[Route(op.path, _guarded(op.handler), methods=[op.method]) for op in ops],
        middleware=[
            Middleware(RequestMetrics, routes=paths),
            Middleware(BearerAuth, keys=settings.keys()),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=service.lifespan,
    )
