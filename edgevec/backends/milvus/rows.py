"""Records as Milvus rows, and Milvus results back as hits, records and counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from edgevec.backends.milvus.schema import ID, PAYLOAD, TERMS, VECTOR, field_column
from edgevec.backends.milvus.terms import payload_terms
from edgevec.fields import FieldType
from edgevec.prepare import PreparedQuery, PreparedUpsert
from edgevec.scores import Reported, to_score
from edgevec.types import Hit, Hits, Metric, Record


def build_rows(batch: PreparedUpsert, fields: Mapping[str, FieldType]) -> list[dict[str, Any]]:
    columns = {name: field_column(name) for name in fields}
    return [
        {
            ID: rid, VECTOR: vec, PAYLOAD: payload, TERMS: payload_terms(payload),
            **{col: payload.get(name) for name, col in columns.items()},
        }
        for rid, vec, payload in zip(batch.ids, batch.vectors, batch.payloads, strict=True)
    ]  # fmt: skip


def output_fields(include_payload: bool, include_vectors: bool) -> list[str]:
    fields = [ID]
    if include_payload:
        fields.append(PAYLOAD)
    if include_vectors:
        fields.append(VECTOR)
    return fields


def _vector(value: Any) -> Any:
    return None if value is None else np.asarray(value, dtype=np.float32)


_REPORTED: dict[Metric, Reported] = {
    "cosine": "similarity",
    "dot": "similarity",
    "l2": "squared_distance",
}
"""COSINE and IP are already similarities; L2 is the *squared* distance."""


def parse_hits(
    result: Iterable[Iterable[Mapping[str, Any]]], metric: Metric, q: PreparedQuery
) -> list[Hits]:
    out = []
    for row in result:
        hits = []
        for h in row:
            entity = h.get("entity") or {}
            hits.append(
                Hit(
                    str(h["id"]),
                    to_score(h["distance"], _REPORTED[metric]),
                    dict(entity.get(PAYLOAD) or {}) if q.include_payload else {},
                    _vector(entity.get(VECTOR)) if q.include_vectors else None,
                )
            )
        out.append(Hits(hits))
    return out


def parse_records(
    rows: Iterable[Mapping[str, Any]], ids: Sequence[str], include_vectors: bool
) -> list[Record]:
    """The records of ``rows`` in the order of ``ids`` (ids without a row left out)."""
    found = {str(r[ID]): r for r in rows}
    return [parse_record(found[rid], include_vectors) for rid in ids if rid in found]


def parse_record(row: Mapping[str, Any], include_vectors: bool) -> Record:
    """One row as a record; a payload left out of ``output_fields`` reads as empty."""
    return Record(
        str(row[ID]),
        _vector(row.get(VECTOR)) if include_vectors else None,
        dict(row.get(PAYLOAD) or {}),
    )


def parse_count(rows: Sequence[Mapping[str, Any]]) -> int:
    return int(rows[0]["count(*)"]) if rows else 0
