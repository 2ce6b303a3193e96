"""Weaviate client, REST and gRPC failures mapped to edgevec's typed errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
import httpx
from pydantic import SecretStr
from weaviate.exceptions import (
    InsufficientPermissionsError,
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateClosedClientError,
    WeaviateConnectionError,
    WeaviateInsertManyAllFailedError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)

from edgevec.backends.weaviate.channel import DeadlineError, FailFastError
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionExistsError,
    CollectionNotFoundError,
    EdgevecError,
    PartialWriteError,
)


def batch_error(
    collection: str, errors: Mapping[str, str], ids: Sequence[str]
) -> PartialWriteError:
    shown = "; ".join(f"{rid!r}: {msg}" for rid, msg in list(errors.items())[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return PartialWriteError(
        f"Weaviate rejected {len(errors)} of {len(ids)} records written to collection "
        f"{collection!r}, the others were written: {shown}{more}",
        [i for i in ids if i not in errors],
        errors,
    )


def _rpc_status(exc: BaseException | None) -> str | None:
    """The gRPC status name of ``exc`` or of an error it was raised from."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, FailFastError):
            return "UNAVAILABLE"
        if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
            code = exc.code()
            return str(getattr(code, "name", code))
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _redact(text: str, secret: SecretStr | None) -> str:
    if secret is not None and secret.get_secret_value():
        text = text.replace(secret.get_secret_value(), "**********")
    return text


_NOT_FOUND_WORDS = ("could not find class", "not found in schema", "class not found")


def map_error(
    exc: BaseException, action: str, secret: SecretStr | None = None
) -> EdgevecError | None:
    """The edgevec error for a weaviate-client, gRPC or httpx failure; ``None`` if unknown.

    Messages carry the action and the server's short message, never headers or the API key.
    """
    text = _redact(str(getattr(exc, "message", "") or exc), secret)[:500]
    message = f"could not {action}: {text}" if text else f"could not {action}"
    if isinstance(exc, DeadlineError | asyncio.TimeoutError | TimeoutError):
        return BackendTimeoutError(f"could not {action}: the deadline passed")
    if isinstance(exc, WeaviateInsertManyAllFailedError):
        return PartialWriteError(message, (), {})
    if isinstance(exc, InsufficientPermissionsError):
        return AuthenticationError(message)
    if isinstance(exc, UnexpectedStatusCodeError):
        http = exc.status_code
        if http in (401, 403):
            return AuthenticationError(message)
        if http == 404:
            return CollectionNotFoundError(message)
        if http == 422 and "already exists" in text:
            return CollectionExistsError(message)
        if http in (408, 504):
            return BackendTimeoutError(message)
        if http in (429, 502, 503):
            return BackendUnavailableError(message)
        return BackendError(message, status=http)
    if isinstance(exc, WeaviateTimeoutError | httpx.TimeoutException):
        return BackendTimeoutError(message)
    if isinstance(exc, WeaviateConnectionError | WeaviateClosedClientError | httpx.TransportError):
        return BackendUnavailableError(message)
    if isinstance(exc, WeaviateStartUpError):
        cause = exc.__cause__
        if isinstance(cause, WeaviateConnectionError | httpx.TransportError | OSError):
            return BackendUnavailableError(message)
        return BackendError(message)
    status = _rpc_status(exc)
    if isinstance(exc, WeaviateBaseError | FailFastError) or status is not None:
        lower = text.lower()
        if status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return AuthenticationError(message)
        if status == "DEADLINE_EXCEEDED" or "deadline exceeded" in lower:
            return BackendTimeoutError(message)
        if status in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"):
            return BackendUnavailableError(message)
        if status == "NOT_FOUND" or any(w in lower for w in _NOT_FOUND_WORDS):
            return CollectionNotFoundError(message)
        return BackendError(message)
    return None


@contextlib.contextmanager
def mapped_errors(action: str, secret: SecretStr | None) -> Iterator[None]:
    """Translate client exceptions into edgevec's tree, chained (usable around ``await`` too)."""
    try:
        yield
    except EdgevecError:
        raise
    except Exception as exc:
        err = map_error(exc, action, secret)
        if err is None:
            raise
        raise err from exc
