"""Frozen cache entries: pure, no engine needed.

An entry must give back exactly the answer it was made from (every payload value with its type:
``1``, ``1.0`` and ``True`` differ, so does ``-0.0``), share nothing a caller could change with
that answer or with any other thawed copy, and refuse what it could not give back as it was.
Payloads are kept as flat dicts or, when nested, as JSON: both forms are checked.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from edgevec.router.cache_entry import FrozenArrays, FrozenRows, freeze
from edgevec.testing.strategies import ADVERSARIAL_PAYLOADS, EDGE_NUMBERS, random_payloads
from edgevec.types import ArrayHits, Hit, Hits

FLOATS = (5e-324, -5e-324, 1.7976931348623157e308, math.nextafter(1.0, 2.0), 1 / 3, -0.0)
PAYLOADS: list[dict[str, Any]] = [
    *ADVERSARIAL_PAYLOADS,
    *random_payloads(40, seed=5),
    {"edges": list(EDGE_NUMBERS), "floats": list(FLOATS), "u": "\u0000\ud7ff\U0010ffff"},
    {"deep": {"a": [{"b": [[], {}, [None, False]]}]}},
]


def _rows(with_vectors: bool = False) -> list[Hits]:
    rng = np.random.default_rng(1)
    hits = [
        Hit(
            f"r{i}",
            float(i) / 7,
            p,
            rng.normal(size=4).astype(np.float32) if with_vectors else None,
        )
        for i, p in enumerate(PAYLOADS)
    ]
    return [Hits(hits[:10]), Hits(hits[10:])]


def _frozen(result: list[Hits]) -> FrozenRows:
    entry = freeze(result)
    assert isinstance(entry, FrozenRows)
    return entry


def _exact(rows: list[Hits]) -> list[list[tuple[str, str, str, str | None, list[float] | None]]]:
    """Every field of every hit, with payloads as ``repr`` (which tells 1, 1.0, True, -0.0
    and key order apart where ``==`` does not)."""
    return [
        [
            (
                h.id,
                repr(h.score),
                repr(h.payload),
                h.source,
                None if h.vector is None else h.vector.tolist(),
            )
            for h in row
        ]
        for row in rows
    ]


def test_a_thawed_answer_is_the_answer_exactly() -> None:
    for with_vectors in (False, True):
        rows = _rows(with_vectors)
        expected = _exact(rows)
        entry = _frozen(rows)
        assert [type(row.payloads) for row in entry.rows] == [tuple, bytes]  # flat, nested
        thawed = entry.thaw()
        assert _exact(thawed) == expected
        assert [type(row) for row in thawed] == [Hits, Hits]
        for row in thawed:
            for hit in row:
                assert hit.vector is None or hit.vector.dtype == np.float32


def test_sources_fused_and_mixed_vectors_survive() -> None:
    vector = np.ones(3, np.float32)
    row = Hits([Hit("a", 0.5, source="eu"), Hit("b", 0.25, {"x": 1}, vector)], fused=True)
    (again,) = _frozen([row]).thaw()
    assert again == row
    assert again.fused
    assert [h.source for h in again] == ["eu", None]
    assert again[0].vector is None


def test_nothing_a_caller_can_change_reaches_the_entry() -> None:
    rows = _rows(with_vectors=True)
    expected = _exact(rows)
    entry = _frozen(rows)
    rows[0][0].payload["tags"] = "changed"  # type: ignore[index]  # the cached-from answer
    assert rows[0][0].vector is not None
    rows[0][0].vector[:] = 0.0
    first = entry.thaw()
    hit = first[1][-1]  # the nested payload
    hit.payload["deep"]["a"][0]["b"][2].append("x")
    hit.score = -1.0
    assert hit.vector is not None
    hit.vector *= 2
    first[0].clear()
    first[1].partial = True
    assert _exact(entry.thaw()) == expected
    assert not entry.thaw()[1].partial


def test_kept_vectors_and_arrays_are_read_only() -> None:
    entry = _frozen(_rows(with_vectors=True))
    vectors = entry.rows[0].vectors
    assert vectors is not None
    kept = vectors[0]
    assert kept is not None
    with pytest.raises(ValueError, match="read-only"):
        kept[0] = 1.0
    answer = ArrayHits(np.array([["a", None]], dtype=object), np.array([[0.5, np.nan]], np.float32))
    frozen = freeze(answer)
    assert isinstance(frozen, FrozenArrays)
    answer.ids[0, 0] = "changed"
    with pytest.raises(ValueError, match="read-only"):
        frozen.scores[0, 0] = 1.0
    thawed = frozen.thaw()
    thawed.scores[0, 0] = 2.0  # the copy handed out is the caller's to change
    again = frozen.thaw()
    assert again.ids.tolist() == [["a", None]]
    np.testing.assert_array_equal(again.scores, [[0.5, np.nan]])


def test_partial_answers_are_not_kept() -> None:
    assert freeze([Hits([Hit("a", 1.0)]), Hits([], partial=True, missing=["us"])]) is None


def test_flat_and_nested_payloads_take_their_own_forms() -> None:
    odd: dict[Any, Any] = {"i": 2**70, 3: "int key"}  # JSON cannot carry it; a dict copy can
    flat = {"s": "x", "f": -0.0, "b": True, "n": None}
    nested = {"v": [1, {"w": 2.5}]}
    rows = [Hits([Hit("a", 1.0, odd)]), Hits([Hit("b", 1.0, flat), Hit("c", 1.0, nested)])]
    entry = _frozen(rows)
    assert isinstance(entry.rows[0].payloads, tuple)  # kept as private dicts
    assert isinstance(entry.rows[1].payloads, bytes)  # one nests: JSON for the row
    (one,), (two, three) = entry.thaw()
    assert [repr(h.payload) for h in (one, two, three)] == [repr(odd), repr(flat), repr(nested)]
    assert one.payload is not entry.rows[0].payloads[0]


@pytest.mark.parametrize(
    "payload",
    [
        {"v": {1: "int key"}},
        {"v": [2**64]},
        {"v": [-(2**63) - 1]},
        {"v": {1, 2}},
        {"v": ["\ud800"]},
    ],
    ids=["non-str key", "beyond u64", "beyond i64", "set", "lone surrogate"],
)
def test_nested_payloads_json_cannot_carry_are_not_kept(payload: dict[str, Any]) -> None:
    assert freeze([Hits([Hit("a", 1.0, {"ok": [1]}), Hit("b", 0.5, payload)])]) is None
