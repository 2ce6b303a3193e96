"""The portable filter: builder, JSON form, validation errors and the columnar evaluator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

from edgevec import F, InvalidInputError
from edgevec.filters import And, Cmp, Not, Or, PayloadIndex, as_filter
from edgevec.testing.oracle import matches
from edgevec.testing.strategies import filters, random_payloads

PAYLOADS = random_payloads(400, seed=1)


def test_builder_produces_the_tree() -> None:
    f = (F("price") < 20) & (F("color") == "red")
    assert f == And((Cmp("price", "lt", 20), Cmp("color", "eq", "red")))
    assert ~F("a").exists() == Not(Cmp("a", "exists", True))
    assert (F("a") == 1) | (F("b") != 2) == Or((Cmp("a", "eq", 1), Cmp("b", "ne", 2)))
    assert F("t").isin(["x", "y"]) == Cmp("t", "in", ("x", "y"))
    assert F("t").notin({3}) == Cmp("t", "nin", (3,))
    assert (F("n") >= 1.5).op == "gte"
    assert (F("n") <= 1).op == "lte"
    assert (F("n") > 1).op == "gt"


def test_explain_is_readable() -> None:
    f = ((F("price") < 20) & (F("color") == "red")) | ~F("tag").isin(["a"])
    assert f.explain() == "((price < 20) and (color == 'red')) or (not (tag in ['a']))"
    assert f.ops() == {"or", "and", "lt", "eq", "not", "in"}


@given(filters())
def test_json_round_trip(flt: Any) -> None:
    assert as_filter(flt.to_json()) == flt


def test_filters_have_no_truth_value() -> None:
    with pytest.raises(TypeError):
        bool(F("a") == 1)
    with pytest.raises(TypeError):
        _ = (F("a") == 1) & "b"  # type: ignore[operator]


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"field": "x", "op": "like", "value": 1}, "filter.op"),
        (
            {
                "and": [
                    {"field": "x", "op": "eq", "value": 1},
                    {"field": "y", "op": "lt", "value": "3"},
                ]
            },
            "filter.and[1].value",
        ),
        ({"or": []}, "filter.or"),
        ({"not": {"field": "", "op": "eq", "value": 1}}, "filter.not.field"),
        ({"field": "x", "op": "in", "value": []}, "filter.value"),
        ({"field": "x", "op": "in", "value": "abc"}, "filter.value"),
        ({"field": "x", "op": "in", "value": [1, None]}, "filter.value[1]"),
        ({"field": "x", "op": "eq", "value": None}, "filter.value"),
        ({"field": "x", "op": "eq", "value": [1]}, "filter.value"),
        ({"field": "x", "op": "eq"}, "filter.value"),
        ({"field": "x", "op": "lt", "value": True}, "filter.value"),
        ({"field": "x", "op": "gt", "value": float("nan")}, "filter.value"),
        ({"field": "x", "op": "exists", "value": "yes"}, "filter.value"),
        ({"field": "a..b", "op": "eq", "value": 1}, "filter.field"),
        ({"field": "x", "op": "eq", "value": 1, "extra": 2}, "filter: unknown key"),
        ({"and": [{"field": "x", "op": "eq", "value": 1}], "or": []}, "filter"),
        ([1, 2], "filter"),
    ],
)
def test_invalid_filters_name_the_bad_node(bad: Any, where: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^{where.replace('[', '.').replace(']', '.')}"):
        as_filter(bad)


def test_builder_validates_values() -> None:
    with pytest.raises(InvalidInputError):
        _ = F("x") < "3"  # type: ignore[operator]
    with pytest.raises(InvalidInputError):
        F("x").isin([])
    with pytest.raises(InvalidInputError):
        _ = F("x") == None  # noqa: E711
    with pytest.raises(InvalidInputError):
        _ = F("x") == 2**64
    with pytest.raises(InvalidInputError):
        F("")


def test_exists_false_is_not_exists() -> None:
    assert as_filter({"field": "x", "op": "exists", "value": False}) == ~F("x").exists()


def test_strict_value_semantics() -> None:
    rows: list[dict[str, Any]] = [{"v": 3}, {"v": "3"}, {"v": True}, {"v": 3.0}, {}, {"v": [1, 3]}]
    assert [matches(F("v") == 3, r) for r in rows] == [True, False, False, True, False, True]
    assert [matches(F("v") == True, r) for r in rows] == [False, False, True, False, False, False]  # noqa: E712
    assert [matches(F("v") != 3, r) for r in rows] == [False, True, True, False, True, False]
    assert [matches(F("v") > 2, r) for r in rows] == [True, False, False, True, False, True]
    absent: list[dict[str, Any]] = [{}, {"v": None}, {"v": []}, {"v": 0}]
    assert [matches(F("v").exists(), r) for r in absent] == [
        False, False, False, True,
    ]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(flt=filters(max_leaves=6))
def test_columnar_evaluator_equals_reference(flt: Any) -> None:
    index = PayloadIndex()
    index.append(PAYLOADS[:250])
    index.append(PAYLOADS[250:])  # columns are extended incrementally
    expected = np.array([matches(flt, p) for p in PAYLOADS])
    np.testing.assert_array_equal(index.mask(flt), expected)


def test_evaluator_handles_incremental_appends_after_first_use() -> None:
    index = PayloadIndex()
    index.append([{"c": "red"}, {"c": "blue"}])
    assert index.mask(F("c") == "red").tolist() == [True, False]
    index.append([{"c": "red"}, {"c": "green"}, None])
    assert index.mask(F("c") == "red").tolist() == [True, False, True, False, False]
    assert index.mask(F("c").isin(["green", "nope"])).tolist() == [False, False, False, True, False]


def test_evaluator_exists_agrees_with_reference_on_odd_values() -> None:
    rows: list[dict[str, Any] | None] = [
        {"v": {"a": 1}}, {"v": [None]}, {"v": []}, {"v": None}, {}, None, {"v": [[1]]}, {"v": 0},
    ]  # fmt: skip
    index = PayloadIndex()
    index.append(rows)
    for flt in (F("v").exists(), F("v") == 1, F("v") != 1, F("v") < 5):
        expected = [matches(flt, r or {}) for r in rows]
        assert index.mask(flt).tolist() == expected, flt.explain()
