"""edgevec filters as Qdrant Edge ``Filter`` objects: the shared Qdrant compiler, emitted here."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import qdrant_edge as qe

from edgevec.backends._qdrant_filters import Group, Match, MatchAny, Node, Range, compile_tree
from edgevec.filters import Filter

__all__ = ["compile_filter", "render_filter"]


def _group(node: Group) -> qe.Filter:
    def emit_all(nodes: tuple[Node, ...]) -> list[qe.ConditionType] | None:
        return [_emit(n) for n in nodes] or None

    return qe.Filter(
        must=emit_all(node.must), should=emit_all(node.should), must_not=emit_all(node.must_not)
    )


def _match_value(value: str | int | bool) -> Any:
    # qdrant-edge-py 0.9 reads a Python bool as the integer 0/1 (it tries int before bool), so
    # ``MatchValue(True)`` would match 1 and never True; numpy's bool is no int and stays a bool.
    return np.bool_(value) if isinstance(value, bool) else value


def _emit(node: Node) -> qe.ConditionType:
    if isinstance(node, Group):
        return _group(node)
    if isinstance(node, Match):
        return qe.FieldCondition(node.key, match=qe.MatchValue(_match_value(node.value)))
    if isinstance(node, MatchAny):
        return qe.FieldCondition(node.key, match=qe.MatchAny(list(node.values)))
    if isinstance(node, Range):
        return qe.FieldCondition(node.key, range=qe.RangeFloat(**dict(node.bounds)))
    return qe.IsEmptyCondition(node.key)


def compile_filter(flt: Filter | None) -> qe.Filter | None:
    """The Qdrant Edge filter for an edgevec filter (rules in
    :func:`edgevec.backends._qdrant_filters.compile_tree`)."""
    return None if flt is None else _group(compile_tree(flt))


_UNSET = re.compile(r"(, )?\b[a-z_]+=None|r#")


def render_filter(flt: Filter) -> str:
    """What the engine receives for ``flt``: its own ``repr``, unset fields left out."""
    return _UNSET.sub("", repr(_group(compile_tree(flt)))).replace("(, ", "(")
