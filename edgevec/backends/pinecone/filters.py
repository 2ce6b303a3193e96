"""edgevec filters compiled to Pinecone's metadata filter language."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from edgevec.backends.pinecone.codec import (
    EXISTS,
    HIGH,
    LOW,
    NUMERIC,
    TAGS,
    field_key,
    is_number,
    type_tag,
)
from edgevec.backends.pinecone.limits import MAX_FILTER_VALUES
from edgevec.errors import FilterNotSupportedError, InvalidInputError
from edgevec.filters import And, Cmp, Filter, Not, Or


def compile_filter(flt: Filter | None) -> dict[str, Any] | None:
    """Pinecone's metadata filter for an edgevec filter, in negation normal form.

    ``not`` is pushed to the leaves (De Morgan) and each negated leaf is rewritten so the result
    never depends on how Pinecone treats a missing field (it is documented as matching only
    present fields for ``$ne``): ``x != v`` becomes ``x missing or x $ne v``. Equality is
    strict by construction (tags such as ``n:3`` / ``s:3`` / ``b:true`` for values Pinecone
    cannot store natively); ranges read the number itself or the min/max of a number list;
    ``not (x < v)`` is "no number at x, or every number >= v". Raises
    :class:`FilterNotSupportedError` for an ``in`` list longer than Pinecone accepts.
    """
    if flt is None:
        return None
    return _compile(flt, negate=False)


def _compile(node: Filter, negate: bool) -> dict[str, Any]:
    if isinstance(node, Not):
        return _compile(node.arg, not negate)
    if isinstance(node, And | Or):
        conjunction = isinstance(node, And) != negate
        return _join("$and" if conjunction else "$or", [_compile(a, negate) for a in node.args])
    if isinstance(node, Cmp):
        return _leaf(node, negate)
    raise InvalidInputError(f"not a filter node: {node!r}")


def _join(op: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for part in parts:
        flat.extend(part[op] if set(part) == {op} else [part])
    return flat[0] if len(flat) == 1 else {op: flat}


def _leaf(cmp: Cmp, negate: bool) -> dict[str, Any]:
    key = field_key(cmp.field)
    op = cmp.op
    if op in ("ne", "nin"):
        op, negate = ("eq" if op == "ne" else "in"), not negate
    if op == "eq":
        return _membership(key, (cmp.value,), negate)
    if op == "in":
        if len(cmp.value) > MAX_FILTER_VALUES:
            raise FilterNotSupportedError(
                f"Pinecone accepts at most {MAX_FILTER_VALUES} values per $in/$nin; "
                f"{cmp.field!r} has {len(cmp.value)}"
            )
        return _membership(key, tuple(cmp.value), negate)
    if op == "exists":
        if negate:
            return {"$and": [{key: {"$exists": False}}, {EXISTS + key: {"$exists": False}}]}
        return {"$or": [{key: {"$exists": True}}, {EXISTS + key: {"$exists": True}}]}
    return _range(key, op, cmp.value, negate)


def _membership(key: str, values: Sequence[Any], negate: bool) -> dict[str, Any]:
    strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
    bools = list(dict.fromkeys(v for v in values if isinstance(v, bool)))
    # Numbers a double holds exactly may match a natively stored number; others only a tag.
    numbers = list(dict.fromkeys(float(v) for v in values if is_number(v) and float(v) == v))
    tags = list(dict.fromkeys(t for t in map(type_tag, values) if t is not None))
    positive: list[dict[str, Any]] = []
    negative: list[dict[str, Any]] = []
    for group in (strings, numbers):
        if len(group) == 1:
            positive.append({key: {"$eq": group[0]}})
            negative.append({key: {"$ne": group[0]}})
        elif group:
            positive.append({key: {"$in": group}})
            negative.append({key: {"$nin": group}})
    for flag in bools:
        positive.append({key: {"$eq": flag}})
        negative.append({key: {"$ne": flag}})
    tag_key = TAGS + key
    if not negate:
        return _join("$or", [*positive, {tag_key: {"$in": tags}}])
    parts = []
    if negative:
        parts.append(_join("$or", [{key: {"$exists": False}}, _join("$and", negative)]))
    parts.append({"$or": [{tag_key: {"$exists": False}}, {tag_key: {"$nin": tags}}]})
    return _join("$and", parts)


_COMPLEMENT = {"lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}


def _range(key: str, op: str, value: int | float, negate: bool) -> dict[str, Any]:
    # "some number < v" is "min < v"; its negation "every number >= v" is "min >= v".
    side = LOW if op in ("lt", "lte") else HIGH
    test = _COMPLEMENT[op] if negate else op
    pin_op, bound = _bound(test, value)
    atoms: list[dict[str, Any]] = [{key: {pin_op: bound}}, {side + key: {pin_op: bound}}]
    if negate:
        atoms.insert(0, {NUMERIC + key: {"$exists": False}})
    return {"$or": atoms}


def _bound(op: str, value: int | float) -> tuple[str, float]:
    """Operator and double bound equivalent to ``x op value`` for every double ``x``."""
    approx = float(value)
    if approx == value:
        return f"${op}", approx
    if op in ("lt", "lte"):  # x < v  <=>  x <= the largest double below v
        return "$lte", approx if approx < value else math.nextafter(approx, -math.inf)
    return "$gte", approx if approx > value else math.nextafter(approx, math.inf)


def render_filter(flt: Filter) -> str:
    """The filter Pinecone receives, as JSON with sorted keys."""
    return orjson.dumps(compile_filter(flt), option=orjson.OPT_SORT_KEYS).decode()
