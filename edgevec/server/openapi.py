"""The service's OpenAPI 3.1 document, generated from the same list of operations the routes are.

One list feeds both the router and this document, so a route cannot exist undocumented; the
statuses each operation may answer are declared next to it, and the tests compare them with the
statuses the running service really sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from edgevec.server.settings import ServiceSettings

__all__ = ["Operation", "openapi_document"]


@dataclass(frozen=True)
class Operation:
    """One route and method: its handler and what it accepts and answers."""

    path: str
    method: str
    handler: Callable[[Request], Awaitable[Response]]
    responses: tuple[int, ...]
    """The statuses the handler itself answers; 401 and 500 (authenticated routes) and 503/504
    (``store``) are added for every operation they apply to."""
    public: bool = False
    """Served without a key (the health checks)."""
    body: str | None = None
    """Key of :data:`_BODIES`: what the request body holds."""
    query: tuple[str, ...] = ()
    store: bool = False
    """Calls the store, so may answer 503 (unavailable) or 504 (timed out)."""

    def statuses(self) -> list[int]:
        """Every status this operation can answer."""
        extra = () if self.public else (401, 500)
        store = (503, 504) if self.store else ()
        return sorted({*self.responses, *extra, *store})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


_IMAGE = {
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in ("image/jpeg", "image/png", "image/webp", "application/octet-stream")
}
_VECTOR = {"type": "array", "items": {"type": "number"}}
_FILTER = {"type": "object", "description": "edgevec's portable filter in its JSON form"}

_BODIES: dict[str, dict[str, Any]] = {
    "image": _IMAGE,
    "json": _json(
        {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
    ),
    "search": _json(
        {
            "type": "object",
            "properties": {
                "vector": _VECTOR,
                "text": {"type": "string", "description": "with a text embedder"},
                "k": {"type": "integer", "minimum": 1},
                "filter": _FILTER,
            },
        }
    ),
    "upsert": {
        **_IMAGE,
        **_json(
            {
                "type": "object",
                "required": ["records"],
                "properties": {
                    "records": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "vector"],
                            "properties": {
                                "id": {"type": "string"},
                                "vector": _VECTOR,
                                "payload": {"type": "object"},
                            },
                        },
                    }
                },
            }
        ),
    },
    "delete": _json(
        {
            "type": "object",
            "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "filter": _FILTER,
            },
        }
    ),
}

_QUERY: dict[str, dict[str, Any]] = {
    "k": {"type": "integer", "minimum": 1, "default": 5},
    "filter": {"type": "string", "description": "a filter in its JSON form"},
    "id": {"type": "string", "description": "the record id (image upserts)"},
    "payload": {"type": "string", "description": "the record payload as JSON (image upserts)"},
}

_OK: dict[str, dict[str, Any]] = {
    "/healthz": _json(_ref("Status")),
    "/readyz": _json(_ref("Ready")),
    "/metrics": {"text/plain": {"schema": {"type": "string"}}},
    "/search": _json(_ref("Hits")),
    "/similarity": _json(_ref("Hits")),
    "/embed": _json(_ref("Embedding")),
    "/upsert": _json(_ref("Upserted")),
    "/items": _json(_ref("Done")),
    "/openapi.json": _json({"type": "object"}),
}

_REASONS = {
    200: "Success",
    400: "Invalid request: a parameter, k out of range, a filter or malformed JSON",
    401: "Missing or wrong API key",
    413: "Request body over max_body_bytes",
    415: "Content-Type not accepted here",
    422: "Input rejected: a malformed image, a decompression bomb, a bad vector or record",
    500: "Internal error (the message holds only a reference id for the log)",
    503: "Not ready, or the vector store is unavailable",
    504: "The vector store did not answer in time",
}


def _schemas() -> dict[str, Any]:
    number = {"type": "number"}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "Hits": {
            "type": "object",
            "required": ["result", "time"],
            "properties": {
                "result": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "score", "payload"],
                        "properties": {
                            "id": {"type": "string"},
                            "score": number,
                            "payload": {"type": "object"},
                        },
                    },
                },
                "time": {**number, "description": "milliseconds spent in the service"},
            },
        },
        "Embedding": {
            "type": "object",
            "properties": {"vector": _VECTOR, "dim": {"type": "integer"}, "time": number},
        },
        "Upserted": {
            "type": "object",
            "properties": {"upserted": {"type": "integer"}, "time": number},
        },
        "Done": {"type": "object", "properties": {"time": number}},
        "Status": {"type": "object", "properties": {"status": {"type": "string"}}},
        "Ready": {
            "type": "object",
            "properties": {
                "status": {"type": "string"},
                "checks": {"type": "object", "additionalProperties": {"type": "boolean"}},
            },
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    doc = (op.handler.__doc__ or "").strip()
    out: dict[str, Any] = {
        "summary": doc.splitlines()[0] if doc else op.path,
        "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('.', '_')}",
        "responses": {
            str(status): {
                "description": _REASONS[status],
                "content": _OK[op.path] if status == 200 else _json(_ref("Error")),
            }
            for status in op.statuses()
        },
    }
    if op.public:
        out["security"] = []
    if op.query:
        out["parameters"] = [
            {"name": name, "in": "query", "required": False, "schema": _QUERY[name]}
            for name in op.query
        ]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": _BODIES[op.body]}
    return out


def openapi_document(ops: list[Operation], settings: ServiceSettings) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``ops`` as this service's settings configure them."""
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "edgevec similarity service",
            "version": "1",
            "description": f"Similarity search over the collection {settings.collection!r} "
            f"with the bundled {settings.embedder} model; k at most {settings.max_k}.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}] if settings.api_keys else [],
    }
