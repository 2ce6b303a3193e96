"""Request bodies read with a hard size limit, refused before the limit's worth is buffered."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from edgevec.server.errors import ServiceError

__all__ = ["read_body", "require_content_type"]


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 as soon as it is known to exceed ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before a byte of the body is read; a
    chunked body is counted as it streams and refused at the first chunk past the limit.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ServiceError(400, "invalid_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
    except ClientDisconnect as exc:  # nobody to answer; not a server error worth a traceback
        raise ServiceError(400, "client_disconnected", "the body was cut off") from exc
    return bytes(body)


def _too_large(limit: int) -> ServiceError:
    return ServiceError(413, "payload_too_large", f"the request body is over {limit} bytes")


def require_content_type(request: Request, allowed: frozenset[str]) -> str:
    """The request's media type (parameters dropped), or a 415 naming the accepted ones."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in allowed:
        raise ServiceError(
            415, "unsupported_media_type",
            f"Content-Type {media or '(none)'!r} is not accepted here; send one of "
            f"{', '.join(sorted(allowed))}",
        )  # fmt: skip
    return media
