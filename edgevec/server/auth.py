"""Bearer-key authentication in front of every route but the health checks.

It is middleware rather than a per-endpoint check so that it denies by default: a route added
later, and a path that matches no route at all, need a key too (an anonymous caller cannot even
learn which paths exist). Keys are compared in constant time against every configured key, and
neither the header nor a key is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from edgevec.server.errors import error_response

__all__ = ["PUBLIC_PATHS", "BearerAuth"]

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
"""What an orchestrator probes without credentials."""


class BearerAuth:
    """ASGI middleware: ``Authorization: Bearer <key>`` or 401; no keys configured, no check."""

    def __init__(self, app: ASGIApp, keys: list[bytes]) -> None:
        self.app = app
        # Digests, so every comparison is of 32 bytes: compare_digest is constant-time only
        # for inputs of equal length, and a key's length is worth hiding too.
        self._keys = [hashlib.sha256(key).digest() for key in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._keys or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if self._allowed(Headers(scope=scope).get("authorization", "")):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401, "unauthorized", "a valid 'Authorization: Bearer <key>' header is required",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
        await response(scope, receive, send)

    def _allowed(self, header: str) -> bool:
        scheme, _, given = header.partition(" ")
        token = hashlib.sha256(given.strip().encode()).digest()
        matched = False
        for key in self._keys:  # no early exit: the time taken does not tell which key matched
            matched |= hmac.compare_digest(token, key)
        return matched and scheme.lower() == "bearer"
