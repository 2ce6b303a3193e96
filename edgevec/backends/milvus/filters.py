"""edgevec filters compiled to Milvus expressions over ``payload_terms``; quoted literals."""

from __future__ import annotations

from collections.abc import Iterable

from edgevec.backends.milvus.schema import ID, TERMS
from edgevec.backends.milvus.terms import path_key, term
from edgevec.errors import InvalidInputError
from edgevec.filters import And, Cmp, Filter, Not, Or

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


def compile_filter(flt: Filter) -> str:
    """The Milvus boolean expression for ``flt`` over the ``payload_terms`` column."""
    return _compile(flt, negate=False)


def _compile(node: Filter, negate: bool) -> str:
    if isinstance(node, And | Or):
        joiner = " and " if isinstance(node, And) != negate else " or "
        return "(" + joiner.join(_compile(a, negate) for a in node.args) + ")"
    if isinstance(node, Not):
        return _compile(node.arg, not negate)
    if not isinstance(node, Cmp):
        raise InvalidInputError(f"not a filter node: {node!r}")
    op, path = node.op, node.field
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
    column, positive, negative = _RANGE[op]
    ref = _ref(column, path)
    value = _number(node.value)
    if negate:
        return f"(not (exists {ref}) or {ref} {negative} {value})"
    return f"({ref} {positive} {value})"


def ids_filter(ids: Iterable[str]) -> str:
    """``id in [...]`` with every id escaped (pymilvus' own ``get``/``delete`` do not escape)."""
    return f"{ID} in [{', '.join(quote(i) for i in dict.fromkeys(ids))}]"
