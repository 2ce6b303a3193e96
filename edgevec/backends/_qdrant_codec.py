"""Ids, edgevec's reserved payload entry and returned vectors as Qdrant engines hold them.

Shared by the Qdrant backend (qdrant-client) and the Qdrant Edge backend (``qdrant-edge-py``):
both engines take only unsigned ints or UUIDs as point ids and normalise cosine vectors, so both
map ids and keep norms the same way. No vendor import here, so neither backend needs the other's
client.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from edgevec.errors import BackendError, InvalidInputError
from edgevec.prepare import PreparedUpsert

if TYPE_CHECKING:
    from edgevec.vectors import Matrix


ID_NAMESPACE = uuid.UUID("6f1c3f9e-5d2a-5b8e-9a47-2c0e8d1b7a35")
"""The one namespace of ``uuid5`` point ids; fixed forever, or existing data becomes unreachable."""

RESERVED_KEY = "__edgevec__"
"""Payload key of ``{"id": original id, "norm": float (cosine only)}``; callers cannot use it."""


def point_id(record_id: str) -> str:
    """The Qdrant point id (a UUID string) of an edgevec record id."""
    return str(uuid.uuid5(ID_NAMESPACE, record_id))


def check_reserved(batch: PreparedUpsert) -> None:
    for rid, payload in zip(batch.ids, batch.payloads, strict=True):
        if RESERVED_KEY in payload:
            raise InvalidInputError(
                f"payload of {rid!r} uses {RESERVED_KEY!r}, a key the Qdrant backends reserve"
            )


def split_payload(payload: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(caller payload, edgevec's reserved entry)``."""
    user = dict(payload or {})
    meta = user.pop(RESERVED_KEY, None)
    return user, meta if isinstance(meta, dict) else {}


def vector_out(raw: Any, meta: Mapping[str, Any]) -> Matrix:
    if not isinstance(raw, list):
        raise BackendError("point has named or sparse vectors; edgevec uses the default vector")
    vec = np.asarray(raw, dtype=np.float64)
    norm = meta.get("norm")
    if isinstance(norm, int | float):
        # Cosine: scale to the written length. Qdrant (server and Edge) returns the unit vector,
        # except local mode reopened from ``path=``, which hands back the vector as written
        # (qdrant-client 1.20 persists it un-normalised and does not renormalise on load).
        length = float(np.linalg.norm(vec))
        if length > 0.0:
            vec = vec * (norm / length)
    return np.ascontiguousarray(vec, dtype=np.float32)
