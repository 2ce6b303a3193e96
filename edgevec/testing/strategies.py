"""Hypothesis strategies for payloads and filters over one small shared schema.

The schema is tuned so random filters select a real share of records and hit the tricky cases:
``3`` vs ``"3"`` vs ``True``, ints vs floats, list fields, nested paths and absent fields.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from edgevec.filters import OPS, And, Cmp, Filter, Not, Op, Or

__all__ = ["COLORS", "TAGS", "filters", "random_filter", "random_payloads"]

COLORS = ("red", "green", "blue", "ü-violet")
TAGS = ("a", "b", "c", "d")


def random_payloads(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` payloads: color, n (int or float), tags (list), flag, meta.k; some fields absent."""
    rng = np.random.default_rng(seed)
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
        out.append(p)
    return out


def _leaves(ops: Collection[str]) -> st.SearchStrategy[Filter]:
    color = st.sampled_from(COLORS)
    num = st.integers(0, 20) | st.integers(0, 40).map(lambda x: x / 2)
    k_val = st.integers(0, 4) | st.integers(0, 4).map(str)
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
    for op in ("lt", "lte", "gt", "gte"):
        add(op, st.builds(Cmp, st.just("n"), st.just(op), num))
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
