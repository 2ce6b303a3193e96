"""Qdrant client, REST and gRPC failures mapped to edgevec's typed errors."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator

import httpx
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    EdgevecError,
)

_LOCAL_NOT_FOUND = re.compile(r"Collection .* not found")


def _grpc_status(exc: BaseException) -> str | None:
    """The status name of a gRPC error (duck-typed: grpcio ships no type information)."""
    if not any(
        c.__name__ == "RpcError" and c.__module__.split(".")[0] == "grpc" for c in type(exc).__mro__
    ):
        return None
    code = getattr(exc, "code", None)
    status = code() if callable(code) else None
    return str(getattr(status, "name", "UNKNOWN"))


def _rest_detail(exc: UnexpectedResponse) -> str:
    try:
        detail = str(json.loads(exc.content)["status"]["error"])
    except (ValueError, KeyError, TypeError):
        detail = exc.content[:200].decode("utf-8", "replace")
    return detail[:300]


def map_error(exc: BaseException, action: str) -> EdgevecError | None:
    """The edgevec error for a client exception, or ``None`` if it is not one we know.

    Messages carry the action, status and the server's own short message; never the request
    headers (which hold the API key). ``status`` is the HTTP status whenever there was one.
    """
    if isinstance(exc, UnexpectedResponse):
        status, detail = exc.status_code, _rest_detail(exc)
        message = f"could not {action}: HTTP {status}: {detail}"
        if status in (401, 403):
            return AuthenticationError(message, status=status)
        if status == 404:
            return CollectionNotFoundError(message)
        if status in (408, 504):
            return BackendTimeoutError(message, status=status)
        if status in (429, 502, 503):
            return BackendUnavailableError(message, status=status)
        return BackendError(message, status=status)
    if isinstance(exc, ResourceExhaustedResponse):
        return BackendUnavailableError(
            f"could not {action}: rate limited, retry after {exc.retry_after_s} s", status=429
        )
    if isinstance(exc, ResponseHandlingException):
        source = exc.source
        if isinstance(source, httpx.TimeoutException):
            return BackendTimeoutError(f"could not {action}: timed out ({type(source).__name__})")
        if isinstance(source, httpx.TransportError):
            return BackendUnavailableError(
                f"could not {action}: Qdrant unreachable ({type(source).__name__}: {source})"
            )
        return BackendError(f"could not {action}: {type(source).__name__}: {source}")
    status_name = _grpc_status(exc)
    if status_name is not None:
        details = getattr(exc, "details", None)
        text = str(details() if callable(details) else "")[:300]
        message = f"could not {action}: gRPC {status_name}: {text}"
        if status_name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return AuthenticationError(message)
        if status_name == "NOT_FOUND":
            return CollectionNotFoundError(message)
        if status_name == "DEADLINE_EXCEEDED":
            return BackendTimeoutError(message)
        if status_name in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"):
            return BackendUnavailableError(message)
        return BackendError(message)
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeoutError(f"could not {action}: timed out")
    if isinstance(exc, httpx.TransportError):
        return BackendUnavailableError(f"could not {action}: {type(exc).__name__}: {exc}")
    # Local mode signals with builtin exceptions.
    if isinstance(exc, ValueError) and _LOCAL_NOT_FOUND.fullmatch(str(exc)):
        return CollectionNotFoundError(f"could not {action}: {exc}")
    if isinstance(exc, RuntimeError):  # closed client, or storage locked by another client
        return BackendUnavailableError(f"could not {action}: {exc}")
    if isinstance(exc, ValueError):
        return BackendError(f"could not {action}: {exc}")
    return None


@contextlib.contextmanager
def mapped_errors(action: str) -> Iterator[None]:
    """Translate client exceptions into edgevec's tree, chained (usable around ``await`` too)."""
    try:
        yield
    except EdgevecError:
        raise
    except Exception as exc:
        err = map_error(exc, action)
        if err is None:
            raise
        raise err from exc
