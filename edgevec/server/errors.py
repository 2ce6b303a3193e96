"""Every failure the service answers with: ``{"error": {"code", "message"}}`` and its status.

Client errors carry edgevec's own message (it names the bad input, never a secret or an internal
path). Anything unexpected is a 500 whose message holds only a reference id; the id and the
traceback go to the log, so an operator can find what happened without the client learning it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

import orjson
from starlette.responses import Response

from edgevec.errors import (
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    EdgevecError,
    FilterNotSupportedError,
    InvalidImageError,
    InvalidInputError,
    RoutingError,
    StoreClosedError,
)

__all__ = ["ServiceError", "error_response", "response_for"]

logger = logging.getLogger("edgevec.server")


class ServiceError(Exception):
    """A request the service refuses, with the HTTP status and a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The JSON error body every endpoint (and the auth and size checks) answer with."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


_CLIENT_ERRORS: tuple[tuple[type[EdgevecError], int, str], ...] = (
    (InvalidImageError, 422, "invalid_image"),
    (FilterNotSupportedError, 400, "invalid_filter"),
    (InvalidInputError, 422, "invalid_input"),
)
"""edgevec errors about the request itself: their message names the bad input and helps."""

_SERVER_ERRORS: tuple[tuple[type[EdgevecError], int, str, str], ...] = (
    (BackendTimeoutError, 504, "backend_timeout", "the vector store did not answer in time"),
    (BackendUnavailableError, 503, "backend_unavailable", "the vector store is unavailable"),
    (RoutingError, 503, "backend_unavailable", "the vector store is unavailable"),
    (StoreClosedError, 503, "unavailable", "the service is shutting down"),
    (CollectionNotFoundError, 503, "unavailable", "the collection is not available"),
)
"""Failures behind the service: a fixed message, since theirs may name hosts or paths."""


def response_for(exc: Exception) -> Response:
    """The error response for an exception raised while serving a request."""
    if isinstance(exc, ServiceError):
        return error_response(exc.status, exc.code, exc.message)
    for cls, status, code in _CLIENT_ERRORS:
        if isinstance(exc, cls):
            return error_response(status, code, str(exc))
    status, code, message = 500, "internal", "internal error"
    for server_cls, server_status, server_code, server_message in _SERVER_ERRORS:
        if isinstance(exc, server_cls):
            status, code, message = server_status, server_code, server_message
            break
    reference = uuid.uuid4().hex[:12]
    logger.error("%s %s (reference %s)", status, code, reference, exc_info=exc)
    return error_response(status, code, f"{message} (reference {reference})")
