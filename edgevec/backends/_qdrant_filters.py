"""edgevec filters compiled once for Qdrant's filter language, emitted by each Qdrant engine.

qdrant-client's ``models`` and Qdrant Edge's classes spell the same language (``must`` /
``should`` / ``must_not``, match, range, is-empty) with different Python types. Every semantic
rewrite lives here, producing a small neutral tree (:data:`Node`); each backend turns that tree
into its own classes with a short emitter, so the two cannot drift apart in meaning. No vendor
import here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgevec.backends._qdrant_codec import RESERVED_KEY
from edgevec.errors import FilterNotSupportedError, InvalidInputError
from edgevec.filters import And, Cmp, Filter, Not, Or, double_range

__all__ = ["Group", "IsEmpty", "Match", "MatchAny", "Node", "Range", "compile_tree", "payload_key"]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_EXACT_INT = 2**53  # every int up to this size is exactly a double


@dataclass(frozen=True, slots=True)
class Match:
    """``key`` holds ``value`` (or, for a list, an element equal to it); ints match ints only."""

    key: str
    value: str | int | bool


@dataclass(frozen=True, slots=True)
class MatchAny:
    """``key`` holds one of the strings ``values``."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Range:
    """``key`` holds a number (not a bool) within ``bounds``, a tuple of ``(op, double)``."""

    key: str
    bounds: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class IsEmpty:
    """``key`` is missing, null or ``[]``."""

    key: str


@dataclass(frozen=True, slots=True)
class Group:
    """A Qdrant ``Filter``: all of ``must``, one of ``should`` (if any), none of ``must_not``."""

    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()


Node = Match | MatchAny | Range | IsEmpty | Group


def payload_key(path: str) -> str:
    """A dotted edgevec field path as a Qdrant JSON path (unusual keys quoted)."""
    parts = path.split(".")
    if parts[0] == RESERVED_KEY:
        raise FilterNotSupportedError(f"field {RESERVED_KEY!r} is reserved by the Qdrant backends")
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


def _equals(key: str, value: Any) -> Node:
    if isinstance(value, bool | str):
        return Match(key, value)
    # A match only finds integers stored as integers (3.0 is not 3), and never floats; a closed
    # range compares every stored number numerically and skips bools, as edgevec does.
    in_range = Range(key, (("gte", value), ("lte", value)))
    if isinstance(value, int) and abs(value) > _EXACT_INT:
        # Range bounds are doubles: beyond 2**53 the int itself is matched exactly, and the
        # range is kept only for the float equal to it, if there is one.
        exact = Match(key, value)
        return Group(should=(exact, in_range)) if float(value) == value else exact
    return in_range


def _any_of(key: str, values: Sequence[Any]) -> Node:
    strings = tuple(dict.fromkeys(v for v in values if isinstance(v, str)))
    # Keyed by kind as well: True == 1 in Python, but not in edgevec.
    others = list({(isinstance(v, bool), v): v for v in values if not isinstance(v, str)}.values())
    conds: list[Node] = [MatchAny(key, strings)] if strings else []
    conds.extend(_equals(key, v) for v in others)  # a match-any takes no bools and no floats
    return conds[0] if len(conds) == 1 else Group(should=tuple(conds))


def _negate(cond: Node) -> Node:
    """``must_not`` of ``cond``, cancelling a double negation (``not exists`` is is-empty)."""
    if isinstance(cond, Group) and len(cond.must_not) == 1 and not cond.must and not cond.should:
        return cond.must_not[0]
    return Group(must_not=(cond,))


def _condition(node: Filter) -> Node:
    if isinstance(node, And):
        return Group(must=tuple(_condition(a) for a in node.args))
    if isinstance(node, Or):
        return Group(should=tuple(_condition(a) for a in node.args))
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
        # A match-except would not do: it needs the field present and, for a list, is satisfied
        # by any one element outside the set.
        return _negate(_equals(key, value) if op == "ne" else _any_of(key, value))
    if op == "exists":
        # Is-empty: the key is missing, null or []; exactly edgevec's "not exists".
        return _negate(IsEmpty(key))
    bound_op, bound = double_range(op, value)  # bounds are doubles: 2**53 + 1 must not round
    return Range(key, ((bound_op, bound),))


def compile_tree(flt: Filter) -> Group:
    """The Qdrant filter for an edgevec filter, with the same semantics, as a neutral tree.

    * ``eq`` / ``in`` on a number become closed ranges (``gte == lte == v``): Qdrant's match has
      no float variant and would not match ``3.0`` for ``3``.
    * ``eq`` on a string or bool is a match; ``in`` on strings is a match-any, the other values
      of a mixed list are OR-ed equalities.
    * ``ne`` / ``nin`` / ``not`` are ``must_not``, so records lacking the field match.
    * ``lt lte gt gte`` are ranges, which only match numbers (not bools).
    * ``exists`` is ``must_not: is_empty``.

    Qdrant's range bounds are doubles, and the engine reads stored integers as doubles for
    ranges, so the backends refuse payload ints beyond ±2**53 (``exact_int_bits=53``) and a
    bound no double holds is rewritten to its neighbouring double
    (:func:`edgevec.filters.double_range`).
    """
    cond = _condition(flt)
    return cond if isinstance(cond, Group) else Group(must=(cond,))
