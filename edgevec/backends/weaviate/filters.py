"""edgevec filters compiled to Weaviate ``where`` trees."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any, cast

import orjson
from weaviate.classes.query import Filter as WFilter
from weaviate.classes.query import FilterReturn

from edgevec.backends.weaviate.codec import (
    ALL_TOKEN,
    INT64_MAX,
    INT64_MIN,
    MAX_PROPERTY_NAME,
    PROP_PATHS,
    Kind,
    encode_name,
    number_term,
    property_name,
    text_term,
)
from edgevec.errors import FilterNotSupportedError, InvalidInputError
from edgevec.filters import And, Cmp, Filter, Not, Or

Where = bool | dict[str, Any]
"""A compiled filter: Weaviate's ``where`` JSON (documented REST form), or a constant."""

_RANGE_OPERATORS = {
    "lt": "LessThan",
    "lte": "LessThanEqual",
    "gt": "GreaterThan",
    "gte": "GreaterThanEqual",
}


def _typed_value(value: Any) -> tuple[Kind, Any]:
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"filter value is not valid Unicode: {value!r}") from exc
        return "s", text_term(value)
    return number_term(value)


_ARRAY_KEYS = {
    "s": "valueTextArray",
    "n": "valueNumberArray",
    "i": "valueIntArray",
    "b": "valueBooleanArray",
}


def _range_bounds(op: str, value: float) -> tuple[tuple[str, float], tuple[str, int] | None]:
    """``x <op> value`` as ``(op, bound)`` on the double property and on the int64 property
    (whose ints are all beyond 2**53); ``None`` where no int64 can satisfy it."""
    below = op in ("lt", "lte")
    if isinstance(value, int):
        if float(value) == value:
            return (op, float(value)), (op, value)
        # No double equals value: compare with the nearest double on the right side of it.
        nearest = float(value)
        if below:
            lo = nearest if nearest < value else math.nextafter(nearest, -math.inf)
            return ("lte", lo), (op, value)
        hi = nearest if nearest > value else math.nextafter(nearest, math.inf)
        return ("gte", hi), (op, value)
    if below:
        bound = math.ceil(value) - 1 if op == "lt" else math.floor(value)
        if bound < INT64_MIN:
            return (op, value), None
        return (op, value), ("lte", min(bound, INT64_MAX))
    bound = math.floor(value) + 1 if op == "gt" else math.ceil(value)
    if bound > INT64_MAX:
        return (op, value), None
    return (op, value), ("gte", max(bound, INT64_MIN))


def compile_where(flt: Filter, known: Collection[str]) -> tuple[Where, set[str]]:
    """The Weaviate filter for ``flt`` over the derived properties, and the properties it needed
    that are not in ``known`` (the class's properties as last seen).

    * ``eq`` / ``in`` are ``ContainsAny`` on the property of the value's kind: ``ps_``,
      ``pb_``, and for a number the one it would be stored in (``pn_`` holds every float and
      every int a double represents, so ``3 == 3.0``; ``pi_`` the other ints, compared exactly).
      A property the class lacks holds no value: that atom is *false*.
    * ``lt lte gt gte`` are ranges on ``pn_`` or ``pi_`` (any numeric element, never a bool or a
      string), each with a bound exact for its type (an int between two doubles compares with
      the nearest double on the correct side, a float bound on ``pi_`` is rounded inwards).
    * ``exists`` is ``ContainsAny`` of the path's token in ``ev_paths``.
    * ``ne`` / ``nin`` / ``not`` are Weaviate's ``Not`` (1.33+): the complement over all
      objects, so records lacking the field match, as edgevec's semantics say.
    * Constants are folded: a filter that is always false is answered without a request.

    Weaviate's ``NotEqual`` is not used: on arrays and absent properties it is not the negation
    of ``Equal`` that edgevec's ``ne`` is.
    """
    missing: set[str] = set()

    def atom(prop: str, operator: str, key: str, value: Any) -> Where:
        if prop not in known:
            missing.add(prop)
            return False
        return {"operator": operator, "path": [prop], key: value}

    def typed(field: str, kind: Kind) -> str:
        prop = property_name(field, kind)
        if len(prop) > MAX_PROPERTY_NAME:
            raise FilterNotSupportedError(
                f"field {field!r} is too long for a Weaviate property name ({len(prop)} > "
                f"{MAX_PROPERTY_NAME} characters); only 'exists' can filter on it"
            )
        return prop

    def any_of(field: str, values: tuple[Any, ...]) -> Where:
        groups: dict[str, dict[Any, None]] = {}
        for v in values:
            kind, term = _typed_value(v)
            groups.setdefault(kind, {})[term] = None
        parts = [
            atom(typed(field, cast(Kind, kind)), "ContainsAny", _ARRAY_KEYS[kind], list(terms))
            for kind, terms in groups.items()
        ]
        return _or(parts)

    def walk(node: Filter) -> Where:
        if isinstance(node, And):
            return _and([walk(a) for a in node.args])
        if isinstance(node, Or):
            return _or([walk(a) for a in node.args])
        if isinstance(node, Not):
            return _not(walk(node.arg))
        if not isinstance(node, Cmp):
            raise InvalidInputError(f"not a filter node: {node!r}")
        op, field, value = node.op, node.field, node.value
        if op == "exists":
            token = encode_name(field)
            return {"operator": "ContainsAny", "path": [PROP_PATHS], "valueTextArray": [token]}
        if op in ("eq", "ne", "in", "nin"):
            positive = any_of(field, value if op in ("in", "nin") else (value,))
            return positive if op in ("eq", "in") else _not(positive)
        (double_op, double), integer = _range_bounds(op, value)
        parts = [atom(typed(field, "n"), _RANGE_OPERATORS[double_op], "valueNumber", double)]
        if integer is not None:
            parts.append(
                atom(typed(field, "i"), _RANGE_OPERATORS[integer[0]], "valueInt", integer[1])
            )
        return _or(parts)

    return walk(flt), missing


def _and(parts: list[Where]) -> Where:
    if any(p is False for p in parts):
        return False
    kept = [p for p in parts if p is not True]
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else {"operator": "And", "operands": kept}


def _or(parts: list[Where]) -> Where:
    if any(p is True for p in parts):
        return True
    kept = [p for p in parts if p is not False]
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else {"operator": "Or", "operands": kept}


def _not(part: Where) -> Where:
    if isinstance(part, bool):
        return not part
    if part["operator"] == "Not":
        inner: Where = part["operands"][0]
        return inner
    return {"operator": "Not", "operands": [part]}


MATCH_ALL: dict[str, Any] = {
    "operator": "ContainsAny",
    "path": [PROP_PATHS],
    "valueTextArray": [ALL_TOKEN],
}


def to_client_filter(where: dict[str, Any]) -> FilterReturn:
    """The ``weaviate.classes.query.Filter`` of a compiled ``where`` tree."""
    operator = where["operator"]
    if operator in ("And", "Or", "Not"):
        operands = [to_client_filter(w) for w in where["operands"]]
        if operator == "And":
            return WFilter.all_of(operands)
        if operator == "Or":
            return WFilter.any_of(operands)
        return WFilter.not_(operands[0])
    prop = WFilter.by_property(where["path"][0])
    if operator == "ContainsAny":
        key = next(k for k in where if k.startswith("value"))
        return prop.contains_any(where[key])
    value = where["valueNumber"] if "valueNumber" in where else where["valueInt"]
    if operator == "LessThan":
        return prop.less_than(value)
    if operator == "LessThanEqual":
        return prop.less_or_equal(value)
    if operator == "GreaterThan":
        return prop.greater_than(value)
    return prop.greater_or_equal(value)


def render_where(where: Where) -> str:
    """What ``explain`` shows: the ``where`` JSON Weaviate receives, or a constant."""
    if isinstance(where, bool):
        return f"{str(where).lower()} (constant: answered without a Weaviate filter)"
    return orjson.dumps(where).decode()
