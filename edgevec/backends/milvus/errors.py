"""pymilvus and gRPC failures mapped to edgevec's typed errors."""

from __future__ import annotations

from typing import Any

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
from pydantic import SecretStr
from pymilvus.exceptions import (  # type: ignore[import-untyped]
    CollectionNotExistException,
    ConnectError,
    ConnectionConfigException,
    MilvusException,
    MilvusUnavailableException,
)

from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    EdgevecError,
)

_AUTH_WORDS = (
    "auth check failure",
    "unauthenticated",
    "authenticat",
    "permission denied",
    "credential",
    "invalid token",
    "privilege",
)


def _status_name(exc: BaseException) -> str:
    code: Any = getattr(exc, "code", None)
    if callable(code):  # grpc.RpcError.code() -> grpc.StatusCode
        try:
            code = code()
        except Exception:  # a half-built RpcError has no code: treat it as unknown
            code = None
    return str(getattr(code, "name", "")) if code is not None else ""


def translate_error(exc: BaseException, what: str, secret: SecretStr | None = None) -> EdgevecError:
    """The most specific edgevec error for a pymilvus / gRPC failure (never carrying the token)."""
    if isinstance(exc, MilvusException):
        message = str(exc.message)
        code = exc.code
    else:
        details = getattr(exc, "details", None)
        message = str(details() if callable(details) else exc)
        code = None
    if secret is not None and secret.get_secret_value():
        message = message.replace(secret.get_secret_value(), "**********")
    status = _status_name(exc)
    text = f"Milvus {what} failed: {message}"
    lower = message.lower()
    if (
        status in ("UNAUTHENTICATED", "PERMISSION_DENIED")
        or code == 1800  # merr.ErrNeedAuthenticate
        or any(w in lower for w in _AUTH_WORDS)
    ):
        return AuthenticationError(text)
    if isinstance(exc, ConnectionConfigException) and "local milvus" in lower:
        return BackendUnavailableError(
            f"{text} (is the .db directory held by another process? Milvus Lite allows one)"
        )
    if (
        status == "UNAVAILABLE"
        or isinstance(exc, ConnectError | MilvusUnavailableException)
        or (code == 2 and not status)
    ):
        return BackendUnavailableError(text)
    if status == "DEADLINE_EXCEEDED" or "deadline_exceeded" in lower or "retry timeout" in lower:
        return BackendTimeoutError(text)
    if isinstance(exc, CollectionNotExistException) or code == 100:
        return CollectionNotFoundError(text)
    return BackendError(text)


CLIENT_ERRORS = (MilvusException, grpc.RpcError)
