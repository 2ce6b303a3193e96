"""edgevec filters as Qdrant ``models.Filter`` trees: the shared compiler, emitted as models."""

from __future__ import annotations

from qdrant_client import models

from edgevec.backends._qdrant_filters import (
    Group,
    Match,
    MatchAny,
    Node,
    Range,
    compile_tree,
    payload_key,
)
from edgevec.filters import Filter

__all__ = ["compile_filter", "compile_present", "payload_key", "render_filter"]


def _group(node: Group) -> models.Filter:
    def emit_all(nodes: tuple[Node, ...]) -> list[models.Condition] | None:
        return [_emit(n) for n in nodes] or None

    return models.Filter(
        must=emit_all(node.must), should=emit_all(node.should), must_not=emit_all(node.must_not)
    )


def _emit(node: Node) -> models.Condition:
    if isinstance(node, Group):
        return _group(node)
    if isinstance(node, Match):
        return models.FieldCondition(key=node.key, match=models.MatchValue(value=node.value))
    if isinstance(node, MatchAny):
        return models.FieldCondition(key=node.key, match=models.MatchAny(any=list(node.values)))
    if isinstance(node, Range):
        return models.FieldCondition(key=node.key, range=models.Range(**dict(node.bounds)))
    return models.IsEmptyCondition(is_empty=models.PayloadField(key=node.key))


def compile_filter(flt: Filter | None) -> models.Filter | None:
    """The Qdrant filter for an edgevec filter (rules in
    :func:`edgevec.backends._qdrant_filters.compile_tree`)."""
    return None if flt is None else _group(compile_tree(flt))


def compile_present(flt: Filter) -> models.Filter:
    """:func:`compile_filter` of a filter that is there."""
    return _group(compile_tree(flt))


def render_filter(flt: Filter) -> str:
    """The JSON Qdrant receives for ``flt`` (what ``explain`` shows)."""
    return compile_present(flt).model_dump_json(exclude_none=True, by_alias=True)
