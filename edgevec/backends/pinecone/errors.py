"""Pinecone client exceptions mapped to edgevec's typed errors."""

from __future__ import annotations

from pinecone.errors.exceptions import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    PineconeConnectionError,
    PineconeError,
    PineconeTimeoutError,
    PineconeTypeError,
    PineconeValueError,
    RateLimitError,
    ResponseParsingError,
    UnauthorizedError,
)

from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    EdgevecError,
    InvalidInputError,
)


def map_error(exc: BaseException, action: str) -> EdgevecError | None:
    """The edgevec error for a Pinecone client exception, or ``None`` for one we do not know.

    Messages carry the action, the HTTP status and the server's short message, never request
    headers (which hold the API key); ``status`` is set whenever the server answered.
    """
    if isinstance(exc, UnauthorizedError | ForbiddenError):
        return AuthenticationError(
            f"could not {action}: Pinecone refused the API key (HTTP {exc.status_code})"
        )
    if isinstance(exc, NotFoundError):
        return CollectionNotFoundError(f"could not {action}: {exc}")
    if isinstance(exc, PayloadTooLargeError):
        return BackendError(f"could not {action}: request too large: {exc}")
    if isinstance(exc, RateLimitError):
        return BackendUnavailableError(f"could not {action}: rate limited: {exc}", status=429)
    if isinstance(exc, ApiError):
        status = exc.status_code
        if status in (408, 504):
            return BackendTimeoutError(f"could not {action}: {exc}", status=status)
        if status in (502, 503):
            return BackendUnavailableError(f"could not {action}: {exc}", status=status)
        return BackendError(f"could not {action}: {exc}", status=status)
    if isinstance(exc, PineconeTimeoutError):
        return BackendTimeoutError(f"could not {action}: timed out ({exc})")
    if isinstance(exc, PineconeConnectionError):
        return BackendUnavailableError(f"could not {action}: Pinecone unreachable ({exc})")
    if isinstance(exc, ResponseParsingError):
        return BackendError(f"could not {action}: unexpected response from Pinecone ({exc})")
    if isinstance(exc, PineconeValueError | PineconeTypeError):
        return InvalidInputError(f"could not {action}: the Pinecone client refused it: {exc}")
    if isinstance(exc, PineconeError):
        return BackendError(f"could not {action}: {exc}")
    if isinstance(exc, RuntimeError):  # a closed client
        return BackendUnavailableError(f"could not {action}: {exc}")
    return None


def raise_mapped(exc: Exception, action: str) -> None:
    """Raise the mapped error for a call made outside a plan (chained), or ``exc`` itself."""
    err = map_error(exc, action)
    if err is None:
        raise exc
    raise err from exc
