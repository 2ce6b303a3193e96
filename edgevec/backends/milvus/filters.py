"""edgevec filters compiled to Milvus expressions over ``payload_terms``; quoted literals."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from edgevec.backends.milvus.schema import ID, TERMS, field_column
from edgevec.backends.milvus.terms import path_key, term
from edgevec.errors import InvalidInputError
from edgevec.fields import FieldType, element_type
from edgevec.filters import And, Cmp, Filter, Not, Or, declared_keys, double_range, int64_range

_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def quote(text: str) -> str:
    """``text`` as a double-quoted Milvus string literal.

    Escapes only what both grammars (the server's ANTLR + ``strconv.Unquote`` and Milvus Lite's
    tokenizer) read the same way: backslash, double quote, CR and LF. Everything else is literal.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"string is not valid Unicode (lone surrogate): {text!r}") from exc
    return '"' + text.translate(_ESCAPE) + '"'


def _ref(kind: str, path: str) -> str:
    return f'{TERMS}["{kind}_{path_key(path)}"]'


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


# Range atoms: (column, operator when positive, operator when negated). "Any element < v" is
# "min < v"; its negation, for records that have numbers, is "min >= v".
_RANGE = {
    "lt": ("lo", "<", ">="),
    "lte": ("lo", "<=", ">"),
    "gt": ("hi", ">", "<="),
    "gte": ("hi", ">=", "<"),
}


_INT64_MIN = -(2**63)
_BELOW_INT64 = repr(math.nextafter(float(_INT64_MIN), -math.inf))  # no int64 lies below it


def _readable_bound(op: str, value: float) -> tuple[str, str]:
    """``(op', literal)`` for a range on the terms column. A Milvus server parses the literal
    ``-9223372036854775808`` as a positive int first and rejects it (measured on 2.3.5), so
    that one bound becomes an equivalent comparison: no int64 and no double lies strictly
    between ``-2**63`` and ``-2**63 + 1``, and none between ``-2**63`` and the next double down.
    """
    if not (isinstance(value, int) and value == _INT64_MIN):
        return op, _number(value)
    if op in ("gt", "lte"):  # x > MIN is x >= MIN + 1; x <= MIN is x < MIN + 1
        return ("gte" if op == "gt" else "lt"), str(_INT64_MIN + 1)
    return ("gt" if op == "gte" else "lte"), _BELOW_INT64  # x >= MIN: above the next double


def compile_filter(
    flt: Filter, fields: Mapping[str, FieldType] | None = None, *, doubles: bool = False
) -> str:
    """The Milvus boolean expression for ``flt``: declared ``fields`` on their typed columns
    where that is exact, everything else over the ``payload_terms`` column. ``doubles``: the
    engine compares JSON numbers as doubles (a server), so range bounds are written as the
    doubles that split numbers the way the exact bound does."""
    return _compile(flt, False, fields or {}, doubles)


_SYMBOLS = {"eq": "==", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    return _number(value)


def _typed_atom(node: Cmp, kind: FieldType) -> str | None:
    """The positive form of ``node`` (``ne``/``nin`` as ``eq``/``in``) on the declared column,
    or ``None`` when only ``payload_terms`` can state it exactly."""
    scalar, is_list = element_type(kind)
    col = field_column(node.field)
    if node.op == "exists":
        return f"(array_length({col}) > 0)" if is_list else f"({col} is not null)"
    if node.op in ("eq", "ne", "in", "nin"):
        values = node.value if node.op in ("in", "nin") else (node.value,)
        keys = [_literal(k) for k in dict.fromkeys(declared_keys(scalar, values))]
        if not keys:
            return None
        if is_list:
            if len(keys) == 1:
                return f"array_contains({col}, {keys[0]})"
            return f"array_contains_any({col}, [{', '.join(keys)}])"
        return f"({col} == {keys[0]})" if len(keys) == 1 else f"({col} in [{', '.join(keys)}])"
    if is_list or scalar in ("bool", "keyword"):
        return None
    if scalar == "int":
        bound = int64_range(node.op, node.value)
        if isinstance(bound, bool):
            return None
        op, value = bound
        return f"({col} {_SYMBOLS[op]} {value})"
    op, fvalue = double_range(node.op, node.value)
    return f"({col} {_SYMBOLS[op]} {fvalue!r})"


def _compile(node: Filter, negate: bool, fields: Mapping[str, FieldType], doubles: bool) -> str:
    if isinstance(node, And | Or):
        joiner = " and " if isinstance(node, And) != negate else " or "
        return "(" + joiner.join(_compile(a, negate, fields, doubles) for a in node.args) + ")"
    if isinstance(node, Not):
        return _compile(node.arg, not negate, fields, doubles)
    if not isinstance(node, Cmp):
        raise InvalidInputError(f"not a filter node: {node!r}")
    op, path = node.op, node.field
    kind = fields.get(path)
    atom = None if kind is None else _typed_atom(node, kind)
    if atom is not None:
        if negate != (op in ("ne", "nin")):  # records without the field match a negation
            return f"({field_column(path)} is null or not {atom})"
        return atom
    if op == "exists":
        test = f"exists {_ref('x', path)}"
        return f"(not ({test}))" if negate else f"({test})"
    if op in ("eq", "ne", "in", "nin"):
        ref = _ref("e", path)
        if op in ("eq", "ne"):
            atom = f"json_contains({ref}, {quote(term(node.value))})"
        else:
            tags = dict.fromkeys(term(v) for v in node.value)
            atom = f"json_contains_any({ref}, [{', '.join(quote(t) for t in tags)}])"
        if negate != (op in ("ne", "nin")):
            return f"(not (exists {ref}) or not {atom})"
        return f"({atom})"
    range_op, value = (
        _readable_bound(*double_range(op, node.value))
        if doubles
        else (_readable_bound(op, node.value))
    )
    column, positive, negative = _RANGE[range_op]
    ref = _ref(column, path)
    if negate:
        return f"(not (exists {ref}) or {ref} {negative} {value})"
    return f"({ref} {positive} {value})"


def ids_filter(ids: Iterable[str]) -> str:
    """``id in [...]`` with every id escaped (pymilvus' own ``get``/``delete`` do not escape)."""
    return f"{ID} in [{', '.join(quote(i) for i in dict.fromkeys(ids))}]"
