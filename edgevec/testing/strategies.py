"""Hypothesis strategies for payloads and filters over one small shared schema.

The schema is tuned so random filters select a real share of records and hit the tricky cases:
``3`` vs ``"3"`` vs ``True``, ints vs floats, list fields, nested paths and absent fields, and
(field ``x``) numbers where float64 is not exact: ints around ±2**53 and ±2**63, and floats one
ulp apart or equal to an int.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from edgevec.filters import OPS, And, Cmp, Filter, Not, Op, Or
from edgevec.payloads import float_reads_exactly

__all__ = [
    "ADVERSARIAL_FIELDS",
    "ADVERSARIAL_NUMBERS",
    "ADVERSARIAL_PAYLOADS",
    "ADVERSARIAL_VALUES",
    "COLORS",
    "DECLARED_FIELDS",
    "EDGE_NUMBERS",
    "TAGS",
    "adversarial_payloads",
    "filters",
    "random_filter",
    "random_payloads",
]

COLORS = ("red", "green", "blue", "ü-violet")
TAGS = ("a", "b", "c", "d")
_ULP = (math.nextafter(0.1, 1.0), math.nextafter(0.1, 0.0), math.nextafter(2.0**53, 0.0))
EDGE_NUMBERS: tuple[int | float, ...] = (
    *(2**53 + d for d in (-1, 0, 1, 2, 3)),
    *(-(2**53) + d for d in (-2, -1, 0, 1)),
    float(2**53), float(2**53 + 2), -float(2**53), float(2**62), 2**62, 2**62 + 1,
    2**63 - 1, 2**63 - 2, -(2**63), -(2**63) + 1, float(-(2**63)),
    0.1, *_ULP, 3, 3.0, 7, 7.5, -0.0, 0, 1e300,
)  # fmt: skip
"""Numbers on which a float64 comparison goes wrong: ints beyond ±2**53 (and at int64's ends),
floats one ulp apart, and int-valued floats that must equal their int."""


DECLARED_FIELDS = {
    "i": "int",
    "n": "float",
    "color": "keyword",
    "tags": "keyword[]",
    "flag": "bool",
}
"""The fields :func:`random_payloads` always writes with one type: a collection may declare them,
so the same sweeps check typed columns (``meta.k`` and ``x`` mix types and stay undeclared)."""


def _exact(value: int | float, int_bits: int, exact_floats: bool = True) -> bool:
    if isinstance(value, float):
        return exact_floats or float_reads_exactly(value)
    return int_bits >= 64 or abs(value) <= 2**int_bits


def random_payloads(
    n: int, seed: int, int_bits: int = 64, exact_floats: bool = True
) -> list[dict[str, Any]]:
    """``n`` payloads: color, n (int or float), tags (list), flag, meta.k, x (an edge number
    that the backend's ``exact_int_bits`` and ``exact_floats`` admit); some fields absent."""
    rng = np.random.default_rng(seed)
    edges = [v for v in EDGE_NUMBERS if _exact(v, int_bits, exact_floats)]
    out: list[dict[str, Any]] = []
    for i in range(n):
        p: dict[str, Any] = {"i": i}
        if rng.random() < 0.9:
            p["color"] = COLORS[int(rng.integers(len(COLORS)))]
        if rng.random() < 0.9:
            p["n"] = (
                int(rng.integers(0, 20)) if rng.random() < 0.5 else float(rng.integers(0, 40)) / 2
            )
        if rng.random() < 0.8:
            p["tags"] = sorted(
                {TAGS[int(t)] for t in rng.integers(0, len(TAGS), rng.integers(0, 3))}
            )
        if rng.random() < 0.7:
            p["flag"] = bool(rng.random() < 0.5)
        if rng.random() < 0.7:
            k = int(rng.integers(0, 5))
            p["meta"] = {"k": k if rng.random() < 0.5 else str(k)}
        if rng.random() < 0.8:
            p["x"] = edges[int(rng.integers(len(edges)))]
        out.append(p)
    return out


ADVERSARIAL_PAYLOADS: tuple[dict[str, Any], ...] = (
    {"v": 3}, {"v": "3"}, {"v": True}, {"v": False}, {"v": 3.0}, {"v": 1}, {"v": 0}, {"v": -0.0},
    {}, {"v": None}, {"v": [3, "x"]}, {"v": ["3"]}, {"v": []}, {"v": [None]}, {"v": [[3]]},
    {"v": [{"w": 3}]}, {"v": {"w": 3}}, {"v": {}}, {"v": 2.5}, {"v": 2**53 + 1}, {"v": 2**53},
    {"v": ""}, {"v": " x"}, {"v": "x "}, {"v": "X"}, {"v": "ü 🙂"}, {"v": 'x" or 1==1 or "'},
    {"v": "a\\"}, {"v.w": 3}, {"v": [1, True]}, {"v": [2.5, -1]}, {"m": {"v": 3}},
    {"m": {"v": [True, "3"]}}, {"m": 5}, {"V": 3}, {"m": {"v": {"deep": "x"}}},
    {"m": {"v": None}}, {"v": -7, "m": {"v": 3.5}}, {"v": 2**63 - 1}, {"v": -(2**62) - 1},
)  # fmt: skip
"""Payloads on which a filter translation goes wrong: ``3`` / ``"3"`` / ``True`` / ``3.0``,
lists (mixed, nested, empty, of objects), null and absent fields, a key holding a dot, keys that
differ in case, whitespace, quotes and backslashes in strings, ints beyond 2**53."""
ADVERSARIAL_FIELDS = ("v", "V", "v.w", "m", "m.v", "m.v.deep", "nope")
ADVERSARIAL_VALUES: tuple[Any, ...] = (
    3, "3", True, False, 1, 0, 3.0, 2.5, -1, "", "x", " x", "X", "ü 🙂", 'x" or 1==1 or "', "a\\",
    2**53, 2**53 + 1, float(2**53), -0.0, 3.5, 2**63 - 1,
)  # fmt: skip
ADVERSARIAL_NUMBERS: tuple[int | float, ...] = (
    0, 1, 2.5, 3, 3.0, -1, -0.0, 2**53, 2**53 + 1, float(2**53), 3.5, -7,
)  # fmt: skip


def adversarial_payloads(int_bits: int = 64, exact_floats: bool = True) -> list[dict[str, Any]]:
    """:data:`ADVERSARIAL_PAYLOADS` that a backend with ``exact_int_bits=int_bits`` (and
    ``exact_floats``) admits."""

    def admitted(value: Any) -> bool:
        if isinstance(value, dict):
            return all(admitted(v) for v in value.values())
        if isinstance(value, list):
            return all(admitted(v) for v in value)
        return _exact(value, int_bits, exact_floats) if isinstance(value, int | float) else True

    return [p for p in ADVERSARIAL_PAYLOADS if admitted(p)]


def _leaves(ops: Collection[str]) -> st.SearchStrategy[Filter]:
    color = st.sampled_from(COLORS)
    num = st.integers(0, 20) | st.integers(0, 40).map(lambda x: x / 2)
    k_val = st.integers(0, 4) | st.integers(0, 4).map(str)
    row = st.integers(-1, 300) | st.integers(0, 600).map(lambda x: x / 2)  # "i", 0..n-1
    anchors = st.sampled_from(EDGE_NUMBERS)
    edge = (
        anchors
        | anchors.flatmap(lambda a: st.integers(-2, 2).map(lambda d: _near(a, d)))
        | st.integers(-(2**63), 2**63 - 1)
    )
    cands: list[st.SearchStrategy[Filter]] = []

    def add(op: str, strategy: st.SearchStrategy[Filter]) -> None:
        if op in ops:
            cands.append(strategy)

    for op in ("eq", "ne"):
        add(op, st.builds(Cmp, st.just("color"), st.just(op), color))
        add(op, st.builds(Cmp, st.just("tags"), st.just(op), st.sampled_from(TAGS)))
        add(op, st.builds(Cmp, st.just("flag"), st.just(op), st.booleans()))
        add(op, st.builds(Cmp, st.just("meta.k"), st.just(op), k_val))
        add(op, st.builds(Cmp, st.just("n"), st.just(op), st.integers(0, 20)))
        add(op, st.builds(Cmp, st.just("i"), st.just(op), row | st.just(True)))
        add(op, st.builds(Cmp, st.just("x"), st.just(op), edge))
    for op in ("in", "nin"):
        add(
            op,
            st.builds(
                Cmp,
                st.just("color"),
                st.just(op),
                st.lists(color, min_size=1, max_size=3, unique=True).map(tuple),
            ),
        )
        add(
            op,
            st.builds(
                Cmp,
                st.just("tags"),
                st.just(op),
                st.lists(st.sampled_from(TAGS), min_size=1, max_size=3, unique=True).map(tuple),
            ),
        )
        add(
            op,
            st.builds(
                Cmp,
                st.just("meta.k"),
                st.just(op),
                st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True).map(tuple),
            ),
        )
        add(
            op,
            st.builds(
                Cmp, st.just("x"), st.just(op), st.lists(edge, min_size=1, max_size=3).map(tuple)
            ),
        )
    for op in ("lt", "lte", "gt", "gte"):
        add(op, st.builds(Cmp, st.just("n"), st.just(op), num))
        add(op, st.builds(Cmp, st.just("i"), st.just(op), row))
        add(op, st.builds(Cmp, st.just("x"), st.just(op), edge))
    add(
        "exists",
        st.builds(
            Cmp,
            st.sampled_from(["color", "tags", "meta.k", "flag", "meta"]),
            st.just("exists"),
            st.just(True),
        ),
    )
    return st.one_of(cands)


def _near(anchor: int | float, step: int) -> int | float:
    """``anchor`` moved by ``step`` ints, or ulps for a float, kept inside int64 and finite."""
    if isinstance(anchor, int):
        return min(max(anchor + step, -(2**63)), 2**63 - 1)
    out = anchor
    for _ in range(abs(step)):
        out = math.nextafter(out, math.copysign(math.inf, step))
    return out if math.isfinite(out) else anchor


def filters(ops: Collection[str] = OPS, max_leaves: int = 4) -> st.SearchStrategy[Filter]:
    """Random filter trees using only ``ops`` (a backend's declared ``filter_ops``)."""
    leaves = _leaves(ops)

    def extend(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
        branches: list[st.SearchStrategy[Filter]] = []
        if "and" in ops:
            branches.append(st.lists(children, min_size=2, max_size=3).map(lambda a: And(tuple(a))))
        if "or" in ops:
            branches.append(st.lists(children, min_size=2, max_size=3).map(lambda a: Or(tuple(a))))
        if "not" in ops:
            branches.append(children.map(Not))
        return st.one_of(branches) if branches else children

    return st.recursive(leaves, extend, max_leaves=max_leaves)


_SWEEP_OPS: tuple[Op, ...] = ("eq", "ne", "in", "nin", "lt", "lte", "gt", "gte", "exists")


def random_filter(
    rng: random.Random,
    fields: Sequence[str],
    values: Sequence[Any],
    numbers: Sequence[float],
    depth: int = 0,
) -> Filter:
    """A random filter tree over ``fields`` (plain ``random``, for seeded adversarial sweeps that
    pair every operator with awkward values such as ``3`` / ``"3"`` / ``True`` / ``2**53``)."""
    roll = rng.random()
    if depth < 2 and roll < 0.3:
        args = tuple(
            random_filter(rng, fields, values, numbers, depth + 1) for _ in range(rng.randint(2, 3))
        )
        return And(args) if rng.random() < 0.5 else Or(args)
    if depth < 3 and roll < 0.45:
        return Not(random_filter(rng, fields, values, numbers, depth + 1))
    field = rng.choice(list(fields))
    op = rng.choice(_SWEEP_OPS)
    if op == "exists":
        return Cmp(field, "exists", True)
    if op in ("in", "nin"):
        return Cmp(field, op, tuple(rng.sample(list(values), rng.randint(1, 3))))
    if op in ("eq", "ne"):
        return Cmp(field, op, rng.choice(list(values)))
    return Cmp(field, op, rng.choice(list(numbers)))
