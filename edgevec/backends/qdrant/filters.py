"""edgevec filters compiled to Qdrant ``models.Filter`` trees."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qdrant_client import models

from edgevec.backends.qdrant.codec import RESERVED_KEY
from edgevec.errors import FilterNotSupportedError, InvalidInputError
from edgevec.filters import And, Cmp, Filter, Not, Or, double_range

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


_EXACT_INT = 2**53  # every int up to this size is exactly a double


def payload_key(path: str) -> str:
    """A dotted edgevec field path as a Qdrant JSON path (unusual keys quoted)."""
    parts = path.split(".")
    if parts[0] == RESERVED_KEY:
        raise FilterNotSupportedError(f"field {RESERVED_KEY!r} is reserved by the Qdrant backend")
    out = []
    for part in parts:
        if _PLAIN_KEY.fullmatch(part):
            out.append(part)
        elif '"' in part or "\\" in part:
            # Qdrant's path grammar has no escapes inside a quoted key.
            raise FilterNotSupportedError(
                f"Qdrant cannot address payload key {part!r} (it contains a quote or backslash)"
            )
        else:
            out.append(f'"{part}"')
    return ".".join(out)


def _equals(key: str, value: Any) -> models.Condition:
    if isinstance(value, bool | str):
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))
    # MatchValue only matches integers stored as integers (3.0 is not 3), and never floats;
    # a closed range compares every stored number numerically and skips bools, as edgevec does.
    in_range = models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    if isinstance(value, int) and abs(value) > _EXACT_INT:
        # Range bounds are doubles: beyond 2**53 the int itself is matched exactly, and the
        # range is kept only for the float equal to it, if there is one.
        exact = models.FieldCondition(key=key, match=models.MatchValue(value=value))
        return models.Filter(should=[exact, in_range]) if float(value) == value else exact
    return in_range


def _any_of(key: str, values: Sequence[Any]) -> models.Condition:
    strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
    # Keyed by kind as well: True == 1 in Python, but not in edgevec.
    others = list({(isinstance(v, bool), v): v for v in values if not isinstance(v, str)}.values())
    conds: list[models.Condition] = []
    if strings:
        conds.append(models.FieldCondition(key=key, match=models.MatchAny(any=strings)))
    conds.extend(_equals(key, v) for v in others)  # MatchAny takes no bools and no floats
    return conds[0] if len(conds) == 1 else models.Filter(should=conds)


def _negate(cond: models.Condition) -> models.Condition:
    """``must_not`` of ``cond``, cancelling a double negation (``not exists`` is ``is_empty``)."""
    if (
        isinstance(cond, models.Filter)
        and isinstance(cond.must_not, list)
        and len(cond.must_not) == 1
        and not cond.must
        and not cond.should
        and cond.min_should is None
    ):
        return cond.must_not[0]
    return models.Filter(must_not=[cond])


def _condition(node: Filter) -> models.Condition:
    if isinstance(node, And):
        return models.Filter(must=[_condition(a) for a in node.args])
    if isinstance(node, Or):
        return models.Filter(should=[_condition(a) for a in node.args])
    if isinstance(node, Not):
        return _negate(_condition(node.arg))
    if not isinstance(node, Cmp):
        raise InvalidInputError(f"not a filter node: {node!r}")
    key = payload_key(node.field)
    op, value = node.op, node.value
    if op == "eq":
        return _equals(key, value)
    if op == "in":
        return _any_of(key, value)
    if op in ("ne", "nin"):
        # must_not of the positive test: absent fields match, as edgevec's ne/nin require.
        # MatchExcept would not do: it needs the field present and, for a list, is satisfied by
        # any one element outside the set.
        return _negate(_equals(key, value) if op == "ne" else _any_of(key, value))
    if op == "exists":
        # IsEmpty: the key is missing, null or []; exactly edgevec's "not exists".
        return _negate(models.IsEmptyCondition(is_empty=models.PayloadField(key=key)))
    bound_op, bound = double_range(op, value)  # bounds are doubles: 2**53 + 1 must not round
    return models.FieldCondition(key=key, range=models.Range(**{bound_op: bound}))


def compile_filter(flt: Filter | None) -> models.Filter | None:
    """The Qdrant filter for an edgevec filter, with the same semantics.

    * ``eq`` / ``in`` on a number become closed ranges (``gte == lte == v``): Qdrant's
      ``MatchValue`` has no float variant and would not match ``3.0`` for ``3``.
    * ``eq`` on a string or bool is ``MatchValue``; ``in`` on strings is ``MatchAny``, the other
      values of a mixed list are OR-ed equalities.
    * ``ne`` / ``nin`` / ``not`` are ``must_not``, so records lacking the field match.
    * ``lt lte gt gte`` are ``Range``, which only matches numbers (not bools).
    * ``exists`` is ``must_not: is_empty``.

    Qdrant's range bounds are doubles, and a server reads stored integers as doubles for ranges,
    so the store refuses payload ints beyond ±2**53 (``exact_int_bits=53``) and a bound no double
    holds is rewritten to its neighbouring double (:func:`edgevec.filters.double_range`).
    """
    if flt is None:
        return None
    cond = _condition(flt)
    return cond if isinstance(cond, models.Filter) else models.Filter(must=[cond])


def compile_present(flt: Filter) -> models.Filter:
    """:func:`compile_filter` of a filter that is there."""
    compiled = compile_filter(flt)
    assert compiled is not None  # only None for no filter
    return compiled


def render_filter(flt: Filter) -> str:
    """The JSON Qdrant receives for ``flt`` (what ``explain`` shows)."""
    return compile_present(flt).model_dump_json(exclude_none=True, by_alias=True)
