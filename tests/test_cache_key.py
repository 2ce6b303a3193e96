"""The cache key and the canonical filter it holds: pure, no engine needed.

Equal queries must share a key (else the cache never hits) and queries that may answer
differently must not (else it serves a wrong answer); the canonical filter form is judged by
the filter oracle on random payloads.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgevec.capabilities import Capabilities
from edgevec.filters import And, Cmp, F, Filter, Not, Or, as_filter, canonical
from edgevec.prepare import PreparedQuery, prepare_query
from edgevec.router.cache_key import (
    _MAX_SEEDS,
    KEY_BYTES,
    _canonicals,
    _seeds,
    cache_key,
    region_selection,
    selected_region,
)
from edgevec.search_params import SearchParams
from edgevec.testing.oracle import matches
from edgevec.testing.strategies import filters, random_payloads

DIM = 4
PAYLOADS = random_payloads(60, seed=3)


def _query(flt: Filter | None = None) -> PreparedQuery:
    return prepare_query(
        np.arange(DIM, dtype=np.float32), 5, flt, dim=DIM, metric="cosine",
        capabilities=Capabilities(), backend="test",
    )  # fmt: skip


def _rewritten(flt: Filter, rng: random.Random) -> Filter:
    """The same filter written differently: operands reordered, repeated, regrouped, ``in``
    lists shuffled with a duplicate, some nodes doubly negated."""
    if isinstance(flt, And | Or):
        args = [_rewritten(a, rng) for a in flt.args]
        args.append(rng.choice(args))
        rng.shuffle(args)
        if len(args) > 2 and rng.random() < 0.5:  # regroup: (a & b) & c
            args = [type(flt)(tuple(args[:2])), *args[2:]]
        out: Filter = type(flt)(tuple(args))
    elif isinstance(flt, Not):
        out = Not(_rewritten(flt.arg, rng))
    else:
        assert isinstance(flt, Cmp)
        out = flt
        if flt.op in ("in", "nin"):
            values = [*flt.value, flt.value[0]]
            rng.shuffle(values)
            out = Cmp(flt.field, flt.op, tuple(values))
    return Not(Not(out)) if rng.random() < 0.2 else out


@settings(max_examples=60, deadline=None)
@given(filters(), st.randoms(use_true_random=False))
def test_a_filter_rewritten_or_sent_as_json_has_one_canonical_form(
    flt: Filter, rng: random.Random
) -> None:
    other = _rewritten(flt, rng)
    assert canonical(other) == canonical(flt)
    assert canonical(as_filter(other.to_json())) == canonical(flt)
    assert [matches(other, p) for p in PAYLOADS] == [matches(flt, p) for p in PAYLOADS]


@settings(max_examples=60, deadline=None)
@given(filters(), filters())
def test_filters_sharing_a_canonical_form_select_the_same_records(a: Filter, b: Filter) -> None:
    if canonical(a) == canonical(b):
        assert [matches(a, p) for p in PAYLOADS] == [matches(b, p) for p in PAYLOADS]


def test_values_keep_their_type_in_the_canonical_form() -> None:
    forms = {canonical(F("a") == v) for v in (3, 3.0, "3", True, 1)}
    assert len(forms) == 5
    assert canonical(F("a").isin([1, 2])) != canonical(F("a").isin([1.0, 2]))
    assert canonical(None) == ""


def test_equal_queries_share_a_key_of_the_digest_size() -> None:
    one = cache_key("ns/items", 0, "hits", _query((F("a") == 1) & (F("b") < 2)))
    two = cache_key("ns/items", 0, "hits", _query((F("b") < 2) & (F("a") == 1)))
    assert one == two
    assert len(one) == KEY_BYTES


@pytest.mark.parametrize(
    "change",
    [
        {"scope": "ns/other"},
        {"generation": 1},
        {"kind": "arrays"},
        {"vectors": np.arange(DIM, dtype=np.float32)[::-1].copy()},
        {"vectors": np.arange(DIM, dtype=np.float32)[None, :].repeat(2, axis=0)},
        {"vectors": np.nextafter(np.arange(DIM, dtype=np.float32), np.float32(9))},
        {"k": 6},
        {"filter": F("a") == 1},
        {"include_vectors": True},
        {"include_payload": False},
        {"params": SearchParams(ef=32)},
        {"params": SearchParams(exact=True)},
        {"score_threshold": 0.5},
        {"region": "us"},
        {"region": ("eu", "us")},
    ],
)
def test_anything_that_may_change_the_answer_changes_the_key(change: dict[str, object]) -> None:
    base = _query()
    args: dict[str, object] = {"scope": "ns/items", "generation": 0, "kind": "hits"}
    query_change = {k: v for k, v in change.items() if k not in (*args, "region")}
    args.update({k: v for k, v in change.items() if k in args})
    query = dataclasses.replace(base, **query_change)  # type: ignore[arg-type]
    region = change.get("region")
    with region_selection(region):
        assert selected_region() == region
        changed = cache_key(args["scope"], args["generation"], args["kind"], query)  # type: ignore[arg-type]
    assert changed != cache_key("ns/items", 0, "hits", base)
    assert selected_region() is None


def test_a_reused_hash_state_gives_the_key_a_fresh_one_does() -> None:
    queries = [_query(), _query(F("a") == 1), dataclasses.replace(_query(), k=3)]
    keys = [cache_key("ns/items", 0, "hits", q) for q in queries]
    _seeds.clear()
    assert [cache_key("ns/items", 0, "hits", q) for q in reversed(queries)] == keys[::-1]
    assert len(set(keys)) == len(keys)
    for generation in range(_MAX_SEEDS + 1):  # past the bound the states are dropped, not grown
        cache_key("ns/items", generation, "hits", queries[0])
    assert len(_seeds) <= _MAX_SEEDS
    assert cache_key("ns/items", 0, "hits", queries[0]) == keys[0]


def test_equal_options_spelled_differently_share_a_key() -> None:
    base = dataclasses.replace(_query(), score_threshold=0.0)
    flags: dict[str, Any] = {"include_vectors": 0, "include_payload": 1}  # as a caller may pass
    same = dataclasses.replace(base, score_threshold=-0.0, **flags)
    key = cache_key("ns/items", 0, "hits", same)
    _seeds.clear()  # whichever spelling came first, the key is the same
    assert cache_key("ns/items", 0, "hits", base) == key


def test_a_filter_object_keeps_its_canonical_form_but_equal_ones_do_not_share_it() -> None:
    one, true = F("n") == 1, F("n") == True  # noqa: E712  # equal dataclasses, other queries
    assert one == true
    key_one = cache_key("ns/items", 0, "hits", _query(one))
    assert id(one) in _canonicals
    assert cache_key("ns/items", 0, "hits", _query(one)) == key_one
    assert cache_key("ns/items", 0, "hits", _query(true)) != key_one


def test_a_filter_whose_value_can_change_is_normalised_each_time() -> None:
    values = [1, 2]
    flt = Cmp("n", "in", values)  # built by hand, around the checks F and JSON parsing make
    before = cache_key("ns/items", 0, "hits", _query(flt))
    values.append(3)
    assert cache_key("ns/items", 0, "hits", _query(flt)) != before
    assert id(flt) not in _canonicals
