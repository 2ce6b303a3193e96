"""The portable filter: a data-only expression tree, its JSON form, and a vectorised evaluator.

Build filters with :class:`F`::

    (F("price") < 20) & (F("color") == "red")
    F("tag").isin(["a", "b"]) | ~F("meta.archived").exists()

or pass the JSON form anywhere a filter is accepted::

    {"and": [{"field": "price", "op": "lt", "value": 20},
             {"field": "color", "op": "eq", "value": "red"}]}

Semantics every backend keeps (the test oracle in :mod:`edgevec.testing.oracle` is the judge):

* A dotted field path walks nested mappings; a missing key or a ``None`` value is "absent".
* Values are strict: ``3`` and ``"3"`` differ, and ``True`` is not ``1``. Numbers compare
  numerically whether stored as int or float.
* A list-valued field matches a comparison when any of its elements does.
* ``ne`` / ``nin`` are the negation of ``eq`` / ``in``, so they match records where the field is
  absent; ``lt lte gt gte`` only match numbers; ``exists`` matches a present, non-empty value.
* Numbers compare by exact value, as Python does: ``3 == 3.0``, while ``2**53 + 1`` is greater
  than ``2.0**53`` (no rounding through float64).

A tree is at most :data:`MAX_DEPTH` levels deep (checked as it is built or parsed), so every
backend can walk it without running out of stack.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt

from edgevec.errors import InvalidInputError
from edgevec.fields import NO_FIELDS, FieldType, ScalarType, element_type
from edgevec.payloads import copy_payload

__all__ = [
    "COMPARISON_OPS",
    "MAX_DEPTH",
    "OPS",
    "And",
    "Cmp",
    "F",
    "Filter",
    "FilterLike",
    "Not",
    "Or",
    "PayloadIndex",
    "as_filter",
    "canonical",
    "declared_keys",
    "double_range",
    "int64_range",
    "lookup",
]

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "exists"]
COMPARISON_OPS: tuple[Op, ...] = get_args(Op)
OPS: frozenset[str] = frozenset((*COMPARISON_OPS, "and", "or", "not"))
RANGE_OPS = frozenset({"lt", "lte", "gt", "gte"})
Scalar: TypeAlias = "str | int | float | bool"
_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
MAX_DEPTH = 32
"""Deepest filter tree accepted (a comparison is depth 1); deeper ones raise
:class:`InvalidInputError` before any I/O. ``a & b & c`` stays flat, so only genuinely nested
trees count."""


class Filter:
    """Base of the filter tree. Combine with ``&``, ``|`` and ``~``."""

    __slots__ = ()

    def __and__(self, other: Filter) -> Filter:
        right = _check_operand(other, "&")
        return And((*_flat(self, And), *_flat(right, And)))

    def __or__(self, other: Filter) -> Filter:
        right = _check_operand(other, "|")
        return Or((*_flat(self, Or), *_flat(right, Or)))

    def __invert__(self) -> Filter:
        return Not(self)

    def __bool__(self) -> bool:
        raise TypeError("a filter has no truth value; combine filters with &, | and ~")

    def to_json(self) -> dict[str, Any]:
        """The JSON form (plain dicts and lists) of this filter."""
        raise NotImplementedError

    def explain(self) -> str:
        """Readable canonical rendering, e.g. ``(price < 20) and (color == 'red')``."""
        raise NotImplementedError

    def nodes(self) -> Iterator[Filter]:
        """Every node of the tree, depth first, this one included."""
        yield self

    def ops(self) -> frozenset[str]:
        """The set of operators this filter uses (for capability checks)."""
        found: set[str] = set()
        for node in self.nodes():
            found.add(node.op if isinstance(node, Cmp) else type(node).__name__.lower())
        return frozenset(found)

    def __repr__(self) -> str:
        return f"<Filter {self.explain()}>"


def _check_operand(other: object, symbol: str) -> Filter:
    if not isinstance(other, Filter):
        raise TypeError(f"cannot combine a filter with {type(other).__name__} using {symbol}")
    return other


def _flat(node: Filter, kind: type[And | Or]) -> tuple[Filter, ...]:
    """``node``'s arguments when it is already an ``kind`` (so chains of ``&`` stay one level)."""
    return node.args if isinstance(node, kind) else (node,)


def _depth(node: Filter) -> int:
    return node.depth if isinstance(node, And | Or | Not) else 1


def _checked_depth(children: Iterable[Filter]) -> int:
    depth = 1 + max((_depth(c) for c in children), default=0)
    if depth > MAX_DEPTH:
        raise InvalidInputError(f"filter is nested {depth} levels deep; the limit is {MAX_DEPTH}")
    return depth


@dataclass(frozen=True, repr=False, slots=True)
class Cmp(Filter):
    """A comparison of one payload field with a value."""

    field: str
    op: Op
    value: Any = True

    def to_json(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": value}

    def explain(self) -> str:
        if self.op == "exists":
            return f"{self.field} exists"
        if self.op in ("in", "nin"):
            word = "in" if self.op == "in" else "not in"
            return f"{self.field} {word} {list(self.value)!r}"
        return f"{self.field} {_SYMBOL[self.op]} {self.value!r}"


@dataclass(frozen=True, repr=False, slots=True)
class And(Filter):
    """All of ``args`` hold."""

    args: tuple[Filter, ...]
    depth: int = field(init=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", _checked_depth(self.args))

    def to_json(self) -> dict[str, Any]:
        return {"and": [a.to_json() for a in self.args]}

    def explain(self) -> str:
        return " and ".join(_paren(a) for a in self.args)

    def nodes(self) -> Iterator[Filter]:
        yield self
        for a in self.args:
            yield from a.nodes()


@dataclass(frozen=True, repr=False, slots=True)
class Or(Filter):
    """Any of ``args`` holds."""

    args: tuple[Filter, ...]
    depth: int = field(init=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", _checked_depth(self.args))

    def to_json(self) -> dict[str, Any]:
        return {"or": [a.to_json() for a in self.args]}

    def explain(self) -> str:
        return " or ".join(_paren(a) for a in self.args)

    def nodes(self) -> Iterator[Filter]:
        yield self
        for a in self.args:
            yield from a.nodes()


@dataclass(frozen=True, repr=False, slots=True)
class Not(Filter):
    """``arg`` does not hold."""

    arg: Filter
    depth: int = field(init=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", _checked_depth((self.arg,)))

    def to_json(self) -> dict[str, Any]:
        return {"not": self.arg.to_json()}

    def explain(self) -> str:
        return f"not {_paren(self.arg)}"

    def nodes(self) -> Iterator[Filter]:
        yield self
        yield from self.arg.nodes()


def _paren(f: Filter) -> str:
    return f"({f.explain()})"


class F:
    """A payload field, the start of a filter: ``F("price") < 20``, ``F("m.tag").isin([...])``."""

    __slots__ = ("path",)
    __hash__ = None  # type: ignore[assignment]  # == builds a filter, so fields are not hashable

    def __init__(self, path: str) -> None:
        self.path = _check_path(path, "F")

    def _cmp(self, op: Op, value: Any) -> Cmp:
        return Cmp(self.path, op, _check_value(op, value, f"F({self.path!r})"))

    def __eq__(self, value: object) -> Cmp:  # type: ignore[override]  # builds a filter
        return self._cmp("eq", value)

    def __ne__(self, value: object) -> Cmp:  # type: ignore[override]
        return self._cmp("ne", value)

    def __lt__(self, value: float) -> Cmp:
        return self._cmp("lt", value)

    def __le__(self, value: float) -> Cmp:
        return self._cmp("lte", value)

    def __gt__(self, value: float) -> Cmp:
        return self._cmp("gt", value)

    def __ge__(self, value: float) -> Cmp:
        return self._cmp("gte", value)

    def isin(self, values: Iterable[Scalar]) -> Cmp:
        """The field equals one of ``values`` (any element, for a list field)."""
        return self._cmp("in", values)

    def notin(self, values: Iterable[Scalar]) -> Cmp:
        """The field equals none of ``values`` (absent fields match)."""
        return self._cmp("nin", values)

    def exists(self) -> Cmp:
        """The field is present, not ``None`` and not an empty list."""
        return Cmp(self.path, "exists", True)

    def __repr__(self) -> str:
        return f"F({self.path!r})"


FilterLike: TypeAlias = "Filter | Mapping[str, Any]"


def _check_path(path: object, where: str) -> str:
    if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
        raise InvalidInputError(f"{where}: field must be a non-empty dotted path, got {path!r}")
    return path


def _is_scalar(value: object) -> bool:
    if isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _check_value(op: str, value: Any, where: str) -> Any:
    if op == "exists":
        if value is not True:
            raise InvalidInputError(f"{where}.value: 'exists' takes true, got {value!r}")
        return True
    if op in RANGE_OPS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not _is_scalar(value):
            raise InvalidInputError(
                f"{where}.value: {op!r} needs a finite number, got {type(value).__name__} {value!r}"
            )
        return value
    if op in ("in", "nin"):
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise InvalidInputError(f"{where}.value: {op!r} needs a list of values, got {value!r}")
        items = tuple(value)
        if not items:
            raise InvalidInputError(f"{where}.value: {op!r} needs a non-empty list")
        for i, item in enumerate(items):
            if not _is_scalar(item):
                raise InvalidInputError(
                    f"{where}.value[{i}]: expected str, int, float or bool, got {item!r}"
                )
        return items
    if not _is_scalar(value):
        raise InvalidInputError(
            f"{where}.value: {op!r} needs a str, int, float or bool, got {value!r}"
        )
    return value


def as_filter(obj: FilterLike | None, *, where: str = "filter") -> Filter | None:
    """Return ``obj`` as a :class:`Filter` (parsing the JSON form); ``None`` stays ``None``.

    Raises :class:`InvalidInputError` naming the path of the bad node, e.g. ``filter.and[1].op``.
    """
    if obj is None or isinstance(obj, Filter):
        return obj
    return _parse(obj, where)


def _parse(obj: object, where: str, level: int = 1) -> Filter:
    if isinstance(obj, Filter):
        return obj
    if level > MAX_DEPTH:  # before recursing further: a hostile document must not blow the stack
        raise InvalidInputError(f"{where}: filter is nested deeper than the limit of {MAX_DEPTH}")
    if not isinstance(obj, Mapping):
        raise InvalidInputError(f"{where}: expected a filter object, got {type(obj).__name__}")
    for key in obj:
        if key not in ("and", "or", "not", "field", "op", "value"):
            raise InvalidInputError(f"{where}: unknown key {key!r}")
    logical = [k for k in ("and", "or", "not") if k in obj]
    if logical:
        if len(obj) != 1:
            raise InvalidInputError(f"{where}: {logical[0]!r} must be the only key of its object")
        key = logical[0]
        sub = obj[key]
        if key == "not":
            return Not(_parse(sub, f"{where}.not", level + 1))
        if not isinstance(sub, Sequence) or isinstance(sub, str) or not sub:
            raise InvalidInputError(f"{where}.{key}: expected a non-empty list of filters")
        args = tuple(_parse(s, f"{where}.{key}[{i}]", level + 1) for i, s in enumerate(sub))
        return And(args) if key == "and" else Or(args)
    if "field" not in obj or "op" not in obj:
        raise InvalidInputError(f"{where}: a comparison needs 'field' and 'op'")
    field = _check_path(obj["field"], f"{where}.field")
    op = obj["op"]
    if op not in COMPARISON_OPS:
        raise InvalidInputError(
            f"{where}.op: unknown operator {op!r}; valid: {', '.join(sorted(OPS))}"
        )
    if op == "exists":
        present = obj.get("value", True)
        if not isinstance(present, bool):
            raise InvalidInputError(f"{where}.value: 'exists' takes true or false")
        node = Cmp(field, "exists", True)
        return node if present else Not(node)
    if "value" not in obj:
        raise InvalidInputError(f"{where}.value: {op!r} needs a value")
    return Cmp(field, op, _check_value(op, obj["value"], where))


def canonical(flt: Filter | None) -> str:
    """One string for every way of writing the same filter: a cache key's filter part.

    ``and``/``or`` operands are flattened, deduplicated and sorted, ``in``/``nin`` lists
    deduplicated and sorted, and double negations dropped, so ``a & b``, ``b & a`` and their
    JSON form all give one string. Values keep their type (``3``, ``3.0``, ``"3"`` and ``True``
    give four strings), so filters that might differ never share one; ``None`` gives ``""``.
    """
    return "" if flt is None else _canonical(flt)


_Normal: TypeAlias = "str | tuple[str, frozenset[_Normal]]"
"""A filter in normal form: a comparison's canonical JSON, or ``(connective, operands)`` with
``"and"``/``"or"`` operands flattened and deduplicated (``"not"`` has one)."""


def _canonical(node: Filter) -> str:
    return _render(_normal(node))


def _normal(node: Filter) -> _Normal:
    while isinstance(node, Not) and isinstance(node.arg, Not):
        node = node.arg.arg
    if isinstance(node, Cmp):
        if node.op in ("in", "nin"):
            value = "[" + ",".join(sorted({_typed(v) for v in node.value})) + "]"
        else:
            value = _typed(node.value)
        return f'{{"field":{json.dumps(node.field)},"op":"{node.op}","value":{value}}}'
    if isinstance(node, Not):
        return ("not", frozenset({_normal(node.arg)}))
    assert isinstance(node, And | Or)
    kind = "and" if isinstance(node, And) else "or"
    operands: set[_Normal] = set()
    for arg in node.args:
        sub = _normal(arg)
        if isinstance(sub, tuple) and sub[0] == kind:  # (a & b) & c is a & b & c
            operands |= sub[1]
        else:
            operands.add(sub)
    if len(operands) == 1:  # a & a is a
        return operands.pop()
    return (kind, frozenset(operands))


def _render(normal: _Normal) -> str:
    if isinstance(normal, str):
        return normal
    kind, operands = normal
    if kind == "not":
        (inner,) = operands
        return f'{{"not":{_render(inner)}}}'
    return f'{{"{kind}":[{",".join(sorted(_render(o) for o in operands))}]}}'


def _typed(value: Any) -> str:
    """A filter value with its type: ``["i",3]``, ``["f",3.0]``, ``["s","3"]``, ``["b",true]``."""
    tag = "b" if isinstance(value, bool) else type(value).__name__[0]
    return f'["{tag}",{json.dumps(value)}]'


# --------------------------------------------------------------------------- evaluation

_MISSING = object()


def lookup(payload: Mapping[str, Any] | None, path: str) -> Any:
    """The value at dotted ``path`` in ``payload``, or ``None`` when any step is absent."""
    cur: Any = payload
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part, _MISSING)
        if cur is _MISSING:
            return None
    return cur


# _NUM: a number that is exactly a double (every float, ints within +-2**53); _BIG: any other
# int64, compared as int64 so that 2**53 + 1 stays itself; _HUGE: an int beyond int64 (only in
# data written before payloads were limited to int64), compared in Python; _OTHER: objects,
# nested lists, nulls in lists.
_NUM, _STR, _BOOL, _OTHER, _BIG, _HUGE = 0, 1, 2, 3, 4, 5
_EXACT_INT = 2**53  # every int up to this magnitude is exactly a double
_INT64 = (-(2**63), 2**63 - 1)
_NP_CMP = {"lt": np.less, "lte": np.less_equal, "gt": np.greater, "gte": np.greater_equal}


def double_range(op: str, value: float) -> tuple[str, float]:
    """The comparison ``(op', bound)`` on doubles that holds exactly when ``x op value`` does.

    For a double ``x`` and an int ``value`` no double can hold (beyond ±2**53), ``x < value``
    is ``x <= lo`` and ``x > value`` is ``x >= hi``, where ``lo < value < hi`` are its
    neighbouring doubles: backends whose range bounds are doubles stay exact this way.
    """
    bound = float(value)
    if bound == value:
        return op, bound
    lo, hi = (bound, math.nextafter(bound, math.inf))
    if bound > value:
        lo, hi = math.nextafter(bound, -math.inf), bound
    return ("lte", lo) if op in ("lt", "lte") else ("gte", hi)


def int64_range(op: str, value: float) -> tuple[str, int] | bool:
    """``(op', bound)`` on ints equivalent to ``i op value``, or a constant when no int64 is on
    the other side of ``value``."""
    if isinstance(value, int):
        bound = value
    elif value.is_integer():
        bound = int(value)
    else:  # i < 2.5 is i < 3 and i <= 2.5 is i <= 2, for ints
        bound = math.ceil(value) if op in ("lt", "gte") else math.floor(value)
    if bound > _INT64[1]:
        return op in ("lt", "lte")
    if bound < _INT64[0]:
        return op in ("gt", "gte")
    return op, bound


def _python_match(op: str, value: Any, e: int) -> bool:
    """Does the int ``e`` satisfy ``op value`` (``eq``/``in`` positive forms and ranges)?"""
    if op in RANGE_OPS:
        return bool(_PY_CMP[op](e, value))
    values = value if op == "in" else (value,)
    return any(e == v for v in values if isinstance(v, int | float) and not isinstance(v, bool))


_PY_CMP = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


class _Column:
    """One field path over all rows, as flat typed element arrays (a list field gives many)."""

    __slots__ = ("_arrays", "_chunks", "codes", "has_big", "huge", "n_elems", "n_rows")

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.n_rows = 0
        self.n_elems = 0
        self.has_big = False
        self.huge: list[tuple[int, int]] = []
        """(element position, value) of every _HUGE element: rare, so a Python fallback."""
        self._chunks: list[tuple[npt.NDArray[Any], ...]] = []
        self._arrays: tuple[npt.NDArray[Any], ...] | None = None

    def extend(self, payloads: Sequence[Mapping[str, Any] | None], path: str) -> None:
        rows: list[int] = []
        kinds: list[int] = []
        nums: list[float] = []
        bigs: list[int] = []  # the exact value of every _BIG element, in element order
        codes = self.codes
        base = self.n_rows
        for i, payload in enumerate(payloads):
            value = lookup(payload, path)
            if value is None:
                continue
            elems = value if isinstance(value, list | tuple) else (value,)
            for e in elems:
                rows.append(base + i)
                if isinstance(e, bool):
                    kinds.append(_BOOL)
                    nums.append(float(e))
                elif isinstance(e, float) or (
                    isinstance(e, int) and -_EXACT_INT <= e <= _EXACT_INT
                ):
                    kinds.append(_NUM)
                    nums.append(float(e))
                elif isinstance(e, int) and _INT64[0] <= e <= _INT64[1]:
                    kinds.append(_BIG)
                    nums.append(math.nan)
                    bigs.append(e)
                elif isinstance(e, str):
                    kinds.append(_STR)
                    nums.append(float(codes.setdefault(e, len(codes))))
                elif isinstance(e, int):
                    kinds.append(_HUGE)
                    nums.append(math.nan)
                    self.huge.append((self.n_elems + len(rows) - 1, e))
                else:  # present for 'exists', equal to no scalar
                    kinds.append(_OTHER)
                    nums.append(math.nan)
        self.n_rows += len(payloads)
        self.n_elems += len(rows)
        if rows:
            kind_arr = np.asarray(kinds, dtype=np.int8)
            ints = np.zeros(len(rows), dtype=np.int64)
            if bigs:
                ints[kind_arr == _BIG] = bigs
                self.has_big = True
            self._chunks.append(
                (
                    np.asarray(rows, dtype=np.int64),
                    kind_arr,
                    np.asarray(nums, dtype=np.float64),
                    ints,
                )
            )
            self._arrays = None

    def arrays(self) -> tuple[npt.NDArray[Any], ...]:
        if self._arrays is None:
            if not self._chunks:
                empty = np.empty(0)
                self._arrays = (
                    empty.astype(np.int64),
                    empty.astype(np.int8),
                    empty,
                    empty.astype(np.int64),
                )
            else:
                self._arrays = tuple(np.concatenate(parts) for parts in zip(*self._chunks))
                self._chunks = [self._arrays]
        return self._arrays

    def rows_where(self, op: str, value: Any, n: int) -> npt.NDArray[np.bool_]:
        rows, kinds, nums, ints = self.arrays()
        if op == "exists":
            sel: npt.NDArray[np.bool_] = np.ones(len(rows), dtype=bool)
        elif op in RANGE_OPS:
            dop, bound = double_range(op, value)
            sel = (kinds == _NUM) & _NP_CMP[dop](nums, bound)
            if self.has_big:
                sel |= (kinds == _BIG) & self._big_range(op, value, ints)
        else:
            values = value if op in ("in", "nin") else (value,)
            sel = np.zeros(len(rows), dtype=bool)
            for kind, wanted in self._keys(values):
                if wanted:
                    sel |= (kinds == kind) & np.isin(ints if kind == _BIG else nums, wanted)
        if self.huge and op != "exists":
            for pos, e in self.huge:
                sel[pos] = _python_match(op, value, e)
        out = np.zeros(n, dtype=bool)
        out[rows[sel]] = True
        return out

    @staticmethod
    def _big_range(op: str, value: float, ints: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        cmp = int64_range(op, value)
        if isinstance(cmp, bool):
            return np.full(len(ints), cmp)
        iop, bound = cmp
        return np.asarray(_NP_CMP[iop](ints, bound), dtype=bool)

    def _keys(self, values: Iterable[Any]) -> list[tuple[int, list[Any]]]:
        num: list[float] = []
        big: list[int] = []
        strs: list[float] = []
        bools: list[float] = []
        for v in values:
            if isinstance(v, bool):
                bools.append(float(v))
            elif isinstance(v, str):
                code = self.codes.get(v)
                if code is not None:
                    strs.append(float(code))
            else:
                if float(v) == v:  # a double equals it (an int beyond 2**53 never does)
                    num.append(float(v))
                integral = isinstance(v, int) or v.is_integer()
                if self.has_big and integral and _INT64[0] <= v <= _INT64[1]:
                    big.append(int(v))
        return [(_NUM, num), (_STR, strs), (_BOOL, bools), (_BIG, big)]


def declared_keys(kind: ScalarType, values: Iterable[Any]) -> list[Any]:
    """The values a column of declared type ``kind`` holds that equal one of ``values``, by the
    oracle's strict rules: ``True`` never equals ``1``, ``3`` never ``"3"``, and ``3.0`` equals
    the int ``3``. Values no such column can hold drop out, so an empty list matches nothing."""
    out: list[Any] = []
    for v in values:
        if kind == "keyword":
            ok = type(v) is str
        elif kind == "bool":
            ok = type(v) is bool
        elif isinstance(v, bool | str):
            ok = False
        elif kind == "float":
            ok = float(v) == v  # stored floats are exact doubles; 2**53 + 1 is none of them
            v = float(v)
        else:
            ok = (isinstance(v, int) or v.is_integer()) and _INT64[0] <= v <= _INT64[1]
            v = int(v) if ok else v
        if ok:
            out.append(v)
    return out


_DTYPE: dict[ScalarType, type[np.generic]] = {
    "int": np.int64,
    "float": np.float64,
    "bool": np.bool_,
    "keyword": np.int64,  # categorical codes into _TypedColumn.codes
}


class _TypedColumn:
    """A declared field's column: one typed array, so a filter on it is a plain compare.

    A scalar field is dense (``values[row]``, a ``present`` mask for absent rows); a list field
    is CSR-style (all elements flat in ``values`` with a per-row element count, from which each
    element's row is derived once).
    Keywords are categorical codes. Writes were type-checked against the declaration
    (:func:`edgevec.fields.check_field_values`), so every value fits the dtype exactly.
    """

    __slots__ = ("_chunks", "_dense", "_rows", "codes", "is_list", "kind", "n_rows", "name")

    def __init__(self, name: str, declared: FieldType) -> None:
        self.name = name
        self.kind, self.is_list = element_type(declared)
        self.codes: dict[str, int] = {}
        self.n_rows = 0
        self._chunks: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []
        """(values, present mask or element counts) per appended batch, joined lazily."""
        self._rows: npt.NDArray[np.int64] | None = None
        self._dense: bool | None = None
        """Whether every row holds the (scalar) field; ``None`` until asked after a write."""

    def extend(self, payloads: Sequence[Mapping[str, Any] | None]) -> None:
        name, codes = self.name, self.codes
        raw = [None if p is None else p.get(name) for p in payloads]
        if self.is_list:
            counts = np.fromiter((0 if v is None else len(v) for v in raw), np.int64, len(raw))
            flat = [e for v in raw if v is not None for e in v]
        else:
            counts = np.fromiter((v is not None for v in raw), np.bool_, len(raw))
            flat = [0 if v is None else v for v in raw]
        if self.kind == "keyword":
            flat = [
                codes.setdefault(e, len(codes)) if type(e) is str else 0 for e in flat
            ]  # 0: absent
        self._chunks.append((np.asarray(flat, dtype=_DTYPE[self.kind]), counts))
        self.n_rows += len(raw)
        self._rows = None
        self._dense = None

    def arrays(self) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """``(values, present)`` for a scalar field, ``(values, counts)`` for a list field."""
        if len(self._chunks) != 1:
            dtype = _DTYPE[self.kind]
            joined = (
                (
                    np.concatenate([c[0] for c in self._chunks]),
                    np.concatenate([c[1] for c in self._chunks]),
                )
                if self._chunks
                else (np.empty(0, dtype), np.empty(0, np.int64 if self.is_list else np.bool_))
            )
            self._chunks = [joined]
        return self._chunks[0]

    def _element_rows(self, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        if self._rows is None:
            self._rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        return self._rows

    def rows_where(self, op: str, value: Any) -> npt.NDArray[np.bool_]:
        """Rows with an element satisfying ``op value`` (``eq``/``in``, ranges, ``exists``)."""
        values, present = self.arrays()
        has = present > 0 if self.is_list else present
        if op == "exists":
            return np.array(has, dtype=bool)
        sel = self._elements_where(op, value, values)
        if isinstance(sel, bool):  # no element test needed: all or none of the present rows
            return np.array(has, dtype=bool) if sel else np.zeros(self.n_rows, dtype=bool)
        if not self.is_list:
            if self._dense is None:
                self._dense = bool(present.all())
            # An absent row holds a 0 placeholder, so only a column with none can skip `present`.
            return sel if self._dense else np.asarray(sel & present, dtype=bool)
        out = np.zeros(self.n_rows, dtype=bool)
        out[self._element_rows(present)[sel]] = True
        return out

    def _elements_where(
        self, op: str, value: Any, values: npt.NDArray[Any]
    ) -> npt.NDArray[np.bool_] | bool:
        """Elementwise test over ``values``, or a constant when it is the same for all."""
        if op in RANGE_OPS:
            if self.kind == "int":
                cmp = int64_range(op, value)
                if isinstance(cmp, bool):
                    return cmp
                return np.asarray(_NP_CMP[cmp[0]](values, cmp[1]), dtype=bool)
            if self.kind == "float":
                dop, bound = double_range(op, value)
                return np.asarray(_NP_CMP[dop](values, bound), dtype=bool)
            return False  # ranges only match numbers
        keys = declared_keys(self.kind, value if op == "in" else (value,))
        if self.kind == "keyword":
            keys = [self.codes[k] for k in keys if k in self.codes]
        if not keys:
            return False
        if len(keys) == 1:
            return np.asarray(values == keys[0], dtype=bool)
        return np.isin(values, keys)


class PayloadIndex:
    """Column store over an append-only list of payloads, answering filters with numpy masks.

    Columns are built lazily per field path on first use and extended incrementally as rows are
    appended, so a filter costs a few vectorised passes over typed arrays rather than a Python loop
    per record. Declared ``fields`` get one typed array each (int64, float64, bool, keyword codes;
    CSR-style for lists), so a comparison on them is a single column compare; other paths use
    the type-tagged element columns. Rows are never modified in place; callers tombstone and
    append (FAISS does).
    """

    def __init__(self, fields: Mapping[str, FieldType] = NO_FIELDS) -> None:
        self._payloads: list[Mapping[str, Any] | None] = []
        self._columns: dict[str, _Column] = {}
        self._typed = {name: _TypedColumn(name, kind) for name, kind in fields.items()}

    def __len__(self) -> int:
        return len(self._payloads)

    @property
    def rows(self) -> list[Mapping[str, Any] | None]:
        """The payload of every row (``None`` for cleared rows); read-only by convention."""
        return self._payloads

    def append(self, payloads: Sequence[Mapping[str, Any] | None]) -> None:
        self._payloads.extend(payloads)

    def payload(self, row: int) -> dict[str, Any]:
        """A private deep copy of ``row``'s payload (``{}`` for a cleared row): what a caller
        does to it cannot reach the stored record or its columns."""
        return copy_payload(self._payloads[row])

    def clear_row(self, row: int) -> None:
        """Drop a dead row's payload (its column entries are masked out by the caller)."""
        self._payloads[row] = None

    def mask(self, flt: Filter) -> npt.NDArray[np.bool_]:
        """Boolean mask over all rows: ``True`` where the row's payload satisfies ``flt``."""
        n = len(self._payloads)
        if isinstance(flt, And):
            out = self.mask(flt.args[0])
            for a in flt.args[1:]:
                out &= self.mask(a)
            return out
        if isinstance(flt, Or):
            out = self.mask(flt.args[0])
            for a in flt.args[1:]:
                out |= self.mask(a)
            return out
        if isinstance(flt, Not):
            return ~self.mask(flt.arg)
        if not isinstance(flt, Cmp):
            raise InvalidInputError(f"not a filter node: {flt!r}")
        typed = self._typed.get(flt.field)
        if typed is not None:
            if typed.n_rows < n:
                typed.extend(self._payloads[typed.n_rows :])
            if flt.op in ("ne", "nin"):
                return ~typed.rows_where("eq" if flt.op == "ne" else "in", flt.value)
            return typed.rows_where(flt.op, flt.value)
        col = self._column(flt.field)
        if flt.op == "ne":
            return ~col.rows_where("eq", flt.value, n)
        if flt.op == "nin":
            return ~col.rows_where("in", flt.value, n)
        return col.rows_where(flt.op, flt.value, n)

    def _column(self, path: str) -> _Column:
        col = self._columns.get(path)
        if col is None:
            col = self._columns[path] = _Column()
        if col.n_rows < len(self._payloads):
            col.extend(self._payloads[col.n_rows :], path)
        return col
