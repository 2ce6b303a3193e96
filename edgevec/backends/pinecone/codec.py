"""Ids and payloads as Pinecone stores them: id mapping, flattened metadata, the side record."""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

import orjson

from edgevec.backends.pinecone.limits import MAX_ID_CHARS
from edgevec.errors import CorruptDataError, InvalidInputError

_SIDE = "~m"  # JSON side record: {"i": int keys, "x": {key: value}, "id": original id, "n": norm}
EXISTS, NUMERIC, TAGS, LOW, HIGH = "~x.", "~n.", "~t.", "~lo.", "~hi."
_PLAIN_ID = re.compile(r"[\x01-\x7f]+")
_ID_SAFE = "".join(c for c in string.punctuation + " " if c != "%")
_UNESCAPE = re.compile(r"%([0-9A-F]{2})")


def vector_id(record: str) -> str:
    """The Pinecone vector id of an edgevec record id (deterministic, fixed forever)."""
    if _PLAIN_ID.fullmatch(record) and not record.startswith("~") and len(record) <= MAX_ID_CHARS:
        return record
    quoted = "~q:" + quote(record, safe=_ID_SAFE)
    if len(quoted) <= MAX_ID_CHARS:
        return quoted
    return "~h:" + hashlib.sha256(record.encode("utf-8")).hexdigest()


def record_id(vid: str, side: Mapping[str, Any]) -> str:
    """The edgevec id of a stored vector (``side`` is its decoded ``~m`` record)."""
    if vid.startswith("~q:"):
        return unquote(vid[3:], errors="strict")
    if vid.startswith("~h:"):
        original = side.get("id")
        if not isinstance(original, str):
            raise CorruptDataError(f"Pinecone vector {vid!r} lacks its original id")
        return original
    return vid


# ------------------------------------------------------------------------ payload encoding


def _escape(key: str) -> str:
    if not key:
        return "%"  # a lone '%' is never produced by escaping, so it can stand for ''
    out = key.replace("%", "%25").replace(".", "%2E")
    if out[0] in "~$":
        out = f"%{ord(out[0]):02X}{out[1:]}"
    return out


def _unescape(segment: str) -> str:
    if segment == "%":
        return ""
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), segment)


def field_key(path: str) -> str:
    """The metadata key of a dotted edgevec field path."""
    return ".".join(_escape(part) for part in path.split("."))


def _canon(value: int | float) -> str:
    """One spelling per number, so that ``3`` and ``3.0`` share a tag and ``2**53+1`` keeps its."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def type_tag(value: Any) -> str | None:
    """Type-tagged string of a scalar (``s:red``, ``n:3``, ``b:true``); ``None`` otherwise."""
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, str):
        return f"s:{value}"
    if isinstance(value, int | float):
        return f"n:{_canon(value)}"
    return None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Flat:
    """What one payload becomes: native metadata, derived filter keys and the side record."""

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}
        self.ints: list[str] = []
        self.extra: dict[str, Any] = {}

    def walk(self, obj: Mapping[str, Any], prefix: str) -> None:
        for key, value in obj.items():
            self.leaf(f"{prefix}{_escape(key)}", value)

    def leaf(self, key: str, value: Any) -> None:
        md = self.metadata
        if value is None:
            self.extra[key] = None
        elif isinstance(value, bool | str):
            md[key] = value
        elif isinstance(value, int):  # within ±2**53: the store's exact_int_bits=53 refuses others
            md[key] = value
            md[NUMERIC + key] = True
            self.ints.append(key)
        elif isinstance(value, float):
            md[key] = value
            md[NUMERIC + key] = True
        elif isinstance(value, Mapping):
            md[EXISTS + key] = True
            if value:
                self.walk(value, f"{key}.")
            else:
                self.extra[key] = {}
        elif isinstance(value, list | tuple):
            if not value:
                self.extra[key] = []
            elif all(isinstance(e, str) for e in value):
                md[key] = list(value)
            else:
                self.derived(key, list(value))
                self.extra[key] = list(value)
        else:  # prepare_upsert admits JSON only
            raise InvalidInputError(f"payload value at {key!r} is not JSON: {value!r}")

    def derived(self, key: str, elements: list[Any]) -> None:
        md = self.metadata
        md[EXISTS + key] = True
        tags = list(dict.fromkeys(t for t in map(type_tag, elements) if t is not None))
        if tags:
            md[TAGS + key] = tags
        numbers = [e for e in elements if is_number(e)]
        if numbers:
            md[NUMERIC + key] = True
            md[LOW + key] = float(min(numbers))
            md[HIGH + key] = float(max(numbers))


def encode_metadata(
    payload: Mapping[str, Any], *, original_id: str | None = None, norm: float | None = None
) -> dict[str, Any]:
    """The Pinecone metadata of a payload (plus the original id / vector norm when needed)."""
    flat = _Flat()
    flat.walk(payload, "")
    side: dict[str, Any] = {}
    if flat.ints:
        side["i"] = flat.ints
    if flat.extra:
        side["x"] = flat.extra
    if original_id is not None:
        side["id"] = original_id
    if norm is not None:
        side["n"] = norm
    if side:
        flat.metadata[_SIDE] = orjson.dumps(side).decode()
    return flat.metadata


def _side(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = (metadata or {}).get(_SIDE)
    if not isinstance(raw, str):
        return {}
    try:
        side = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptDataError(
            f"unreadable edgevec side record in Pinecone metadata: {exc}"
        ) from exc
    if not isinstance(side, dict):
        raise CorruptDataError("edgevec side record in Pinecone metadata is not an object")
    return side


def _put(payload: dict[str, Any], key: str, value: Any) -> None:
    parts = [_unescape(p) for p in key.split(".")]
    node = payload
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):  # metadata written by another tool: keep the flat key
            payload[key] = value
            return
        node = child
    node[parts[-1]] = value


def decode_metadata(metadata: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(payload, side record)`` of stored metadata: the payload exactly as it was written."""
    side = _side(metadata)
    ints = set(side.get("i", ()))
    payload: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if key.startswith("~"):
            continue
        if is_number(value):  # Pinecone keeps every number as a double
            value = int(value) if key in ints else float(value)
        _put(payload, key, value)
    for key, value in side.get("x", {}).items():
        _put(payload, key, value)
    return payload, side
