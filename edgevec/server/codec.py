"""JSON in and out of the service, with orjson: request bodies parsed into what the store takes
(float32 arrays for vectors), results serialised without the standard library's per-float cost.

A body that is not what an endpoint needs is a :class:`~edgevec.server.errors.ServiceError` with
a 400 (malformed) or 422 (well-formed but not numbers), naming what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

from edgevec.embedders.protocol import Matrix
from edgevec.server.errors import ServiceError

__all__ = ["JSON", "dumps", "float_array", "json_object", "json_response", "loads"]

JSON = "application/json"


def dumps(data: object) -> bytes:
    """``data`` as JSON bytes: numpy arrays as lists, payload Mappings as objects."""
    return orjson.dumps(data, default=_jsonable, option=orjson.OPT_SERIALIZE_NUMPY)


def _jsonable(value: object) -> object:
    if isinstance(value, Mapping):  # payloads are Mappings; orjson takes dicts
        return dict(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def loads(body: bytes, what: str, code: str = "invalid_request") -> Any:
    """Parsed JSON, or a 400 with ``code`` saying that ``what`` is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ServiceError(400, code, f"{what} is not valid JSON: {exc}") from exc


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (a 400 if it is anything else)."""
    data = loads(body, "the request body")
    if not isinstance(data, dict):
        raise ServiceError(400, "invalid_request", "the request body must be a JSON object")
    return data


def float_array(rows: object, what: str) -> Matrix:
    """JSON numbers to a float32 array (the store checks dimension, NaN and Inf)."""
    try:
        return np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ServiceError(422, "invalid_input", f"{what} must hold only numbers") from exc


def json_response(data: object, status: int = 200) -> Response:
    """``data`` as a JSON response."""
    return Response(dumps(data), status_code=status, media_type=JSON)
