"""Federated merge: by score (judged by the exact oracle over sharded data) and by rank fusion."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgevec
from edgevec.base import PreparedQuery
from edgevec.errors import InvalidInputError
from edgevec.router.merge import Scoring, merge_topk, needs_rank_fusion, rrf_merge
from edgevec.testing.oracle import assert_hits_match, exact_scores, oracle_topk
from edgevec.types import METRICS, Hit, Hits, Metric, Record
from edgevec.wrapped import WrappedCollection

# -- merge by score: shards of one data set merge to the global exact top-k ------------------


def shard_answers(
    ids: list[str],
    vectors: npt.NDArray[np.float32],
    query: npt.NDArray[np.float32],
    k: int,
    metric: Metric,
    shards: dict[str, list[int]],
) -> dict[str, Hits]:
    """Each shard's exact top-k, as a region holding those rows would answer."""
    out = {}
    for name, rows in shards.items():
        top = oracle_topk([ids[r] for r in rows], vectors[rows], [{}] * len(rows), query, k, metric)
        out[name] = Hits([Hit(rid, score) for rid, score in top])
    return out


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    n_shards=st.integers(1, 6),
    k=st.integers(1, 20),
    metric=st.sampled_from(METRICS),
    overlapping=st.booleans(),
)
def test_merged_shards_equal_the_global_exact_topk(
    seed: int, n: int, n_shards: int, k: int, metric: Metric, overlapping: bool
) -> None:
    rng = np.random.default_rng(seed)
    # Small integer coordinates make exact score ties common, the case tie-breaks must survive.
    vectors = rng.integers(-2, 3, size=(n, 4)).astype(np.float32)
    vectors[~vectors.any(axis=1)] = 1.0  # cosine needs non-zero vectors
    query = rng.integers(-2, 3, size=4).astype(np.float32)
    query[0] = query[0] or 1.0
    ids = [f"r{i}" for i in range(n)]
    names = [f"region-{s}" for s in range(n_shards)]
    shards: dict[str, list[int]] = {name: [] for name in names}
    for row in range(n):
        homes = np.flatnonzero(rng.random(n_shards) < 0.5) if overlapping else np.array([])
        for s in homes if len(homes) else [rng.integers(n_shards)]:
            shards[names[int(s)]].append(row)
    answers = shard_answers(ids, vectors, query, k, metric, shards)

    merged = merge_topk(answers, k)

    assert_hits_match(merged, ids, vectors, [{}] * n, query, k, metric)
    for hit in merged:
        assert hit.source is not None
        assert ids.index(hit.id) in shards[hit.source]
    assert (merged.partial, merged.missing, merged.fused) == (False, [], False)
    assert merge_topk(dict(reversed(answers.items())), k) == merged

    # Regions that break ties by id as the merge does: the merge is then exactly the canonical
    # global list, and a record held by several regions names the first of them.
    scores = exact_scores(vectors, query, metric)

    def canonical(rows: Iterable[int]) -> list[int]:
        return sorted(rows, key=lambda r: (-scores[r], ids[r]))[:k]

    tidy = {
        name: Hits([Hit(ids[r], float(scores[r])) for r in canonical(rows)])
        for name, rows in shards.items()
    }
    expected = canonical(range(n))
    exact = merge_topk(tidy, k)
    assert exact.ids == [ids[r] for r in expected]
    assert [h.source for h in exact] == [min(s for s in names if r in shards[s]) for r in expected]
    # No input order is trusted: an engine's own order of ties (or any order) changes nothing.
    scrambled = {
        name: Hits([hits[i] for i in rng.permutation(len(hits))]) for name, hits in tidy.items()
    }
    assert merge_topk(scrambled, k) == exact


def test_ties_break_by_id_then_region_whatever_the_answer_order() -> None:
    answers = {
        "us": Hits([Hit("b", 0.9), Hit("a", 0.9), Hit("c", 0.5)]),  # an engine's own tie order
        "eu": Hits([Hit("c", 0.9), Hit("b", 0.9)]),
        "ap": Hits([Hit("d", 0.5)]),
    }
    for order in itertools.permutations(answers):
        merged = merge_topk({name: answers[name] for name in order}, 4)
        # b ties across regions: the first region name wins; c's better copy is eu's.
        assert [(h.id, h.score, h.source) for h in merged] == [
            ("a", 0.9, "us"),
            ("b", 0.9, "eu"),
            ("c", 0.9, "eu"),
            ("d", 0.5, "ap"),
        ]
        top2 = merge_topk({name: answers[name] for name in order}, 2)
        assert [(h.id, h.source) for h in top2] == [("a", "us"), ("b", "eu")]
    # The cut at k reads past the k-th hit while scores tie: the smaller id wins the last place.
    assert merge_topk({"us": Hits([Hit("c", 0.9), Hit("a", 0.9)])}, 1).ids == ["a"]


def test_merge_keeps_the_best_copy_and_leaves_the_inputs_alone() -> None:
    vec = np.ones(2, np.float32)
    eu = Hits([Hit("x", 0.7, {"from": "eu"}, None)])
    us = Hits([Hit("x", 0.8, {"from": "us"}, vec), Hit("y", 0.1)])
    merged = merge_topk({"eu": eu, "us": us}, 5)
    assert merged == [Hit("x", 0.8, {"from": "us"}, vec, "us"), Hit("y", 0.1, source="us")]
    assert eu[0].source is None
    assert us[0].source is None


def test_missing_regions_make_the_answer_partial() -> None:
    inner = Hits([Hit("a", 0.5)], partial=True, missing=["ap"])
    for merge in (merge_topk, rrf_merge):
        full = merge({"eu": Hits([Hit("a", 0.5)])}, 3)
        assert (full.partial, full.missing) == (False, [])
        part = merge({"eu": Hits([Hit("a", 0.5)])}, 3, missing=["us"])
        assert (part.partial, part.missing, part.ids) == (True, ["us"], ["a"])
        nested = merge({"world": inner, "eu": Hits()}, 3, missing=["us"])
        assert (nested.partial, nested.missing) == (True, ["us", "world/ap"])
        assert "partial=True" in repr(nested)


def test_an_already_fused_answer_is_fused_again_rather_than_compared_by_score() -> None:
    inner = rrf_merge({"eu-1": Hits([Hit("a", 0.9)]), "eu-2": Hits([Hit("b", -3.0)])}, 2)
    outer = merge_topk({"eu": inner, "us": Hits([Hit("b", 0.99), Hit("c", 0.5)])}, 3)
    assert outer.fused
    assert outer.ids == ["b", "a", "c"]  # b: rank 2 in eu, rank 1 in us
    assert outer.scores == pytest.approx([1 / 62 + 1 / 61, 1 / 61, 1 / 62])


def test_score_threshold_drops_hits_before_merging() -> None:
    answers = {
        "eu": Hits([Hit("a", 0.9), Hit("b", 0.4)]),
        "us": Hits([Hit("c", 0.6), Hit("b", 0.3), Hit("d", 0.1)]),
    }
    assert merge_topk(answers, 5, score_threshold=0.4).ids == ["a", "c", "b"]
    fused = rrf_merge(answers, 5, score_threshold=0.5)  # b and d fall out before fusing
    assert fused.ids == ["a", "c"]
    assert fused.scores == pytest.approx([1 / 61, 1 / 61])
    inner = Hits([Hit("x", 0.01)], fused=True)  # fused ranks: already filtered by its regions
    assert rrf_merge({"world": inner, **answers}, 5, score_threshold=0.5).ids == ["a", "c", "x"]


class TwoRegions(WrappedCollection):
    """Two real collections answering as one, fused by rank: a federated query in miniature."""

    def __init__(self, eu: edgevec.Collection, us: edgevec.Collection) -> None:
        super().__init__(eu)
        self.us = us

    def _query(self, q: PreparedQuery) -> list[Hits]:
        rows = zip(self.inner._query(q), self.us._query(q))
        return [
            rrf_merge({"eu": e, "us": u}, q.k, score_threshold=q.score_threshold) for e, u in rows
        ]


def test_a_fused_answer_is_thresholded_by_region_scores_not_by_fused_ones() -> None:
    with edgevec.connect("tiny") as store:
        eu = store.create_collection("eu", dim=2, metric="cosine")
        us = store.create_collection("us", dim=2, metric="cosine")
        eu.upsert(
            [
                Record("near", np.array([1, 0.1], np.float32)),
                Record("far", np.array([0, 1], np.float32)),
            ]
        )
        us.upsert([Record("mid", np.array([1, 1], np.float32))])
        both = TwoRegions(eu, us)
        q = np.array([1, 0], np.float32)
        hits = both.query(q, k=3, score_threshold=0.5)  # cosine: near 0.995, mid 0.707, far 0
        assert hits.fused
        assert hits.ids == ["mid", "near"]  # both rank 1 in their region: a tie, broken by id
        assert [h.source for h in hits] == ["us", "eu"]
        assert both.query(q, k=3).ids == ["mid", "near", "far"]


def test_edge_sizes() -> None:
    for merge in (merge_topk, rrf_merge):
        assert merge({}, 10) == []
        assert merge({"eu": Hits(), "us": []}, 10) == []
        assert merge({"eu": Hits([Hit("a", 1.0)])}, 0) == []
        for bad in (-1, 1.5, True):
            with pytest.raises(InvalidInputError):
                merge({}, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        rrf_merge({}, 3, rank_constant=-1)


# -- reciprocal rank fusion -----------------------------------------------------------------


def test_rrf_scores_by_rank_and_says_it_fused() -> None:
    answers = {
        "eu": Hits([Hit("a", 0.99), Hit("b", 0.98)]),  # cosine similarities
        "us": Hits([Hit("b", -0.1, {"n": 1}), Hit("c", -0.2), Hit("a", -0.3)]),  # -l2 distances
    }
    fused = rrf_merge(answers, 3)
    assert fused.fused
    assert "fused=True" in repr(fused)
    assert fused.ids == ["b", "a", "c"]
    assert fused.scores == pytest.approx([1 / 62 + 1 / 61, 1 / 61 + 1 / 63, 1 / 62])
    assert [h.source for h in fused] == ["us", "eu", "us"]  # where each ranked best
    assert fused[0].payload == {"n": 1}
    assert rrf_merge(answers, 3, rank_constant=0).scores == pytest.approx([1.5, 1 + 1 / 3, 0.5])


def test_rrf_counts_a_repeated_id_once_per_region() -> None:
    answers = {"eu": Hits([Hit("a", 0.9), Hit("a", 0.8), Hit("b", 0.7)])}
    fused = rrf_merge(answers, 5)
    assert fused.ids == ["a", "b"]
    assert fused.scores == pytest.approx([1 / 61, 1 / 62])


ranked_lists = st.dictionaries(
    st.sampled_from(["eu", "us", "ap", "sa", "af"]),
    st.lists(st.sampled_from("abcdefghij"), max_size=10, unique=True),
    max_size=5,
)


@settings(max_examples=100, deadline=None)
@given(lists=ranked_lists, k=st.integers(0, 12), seed=st.integers(0, 2**16))
def test_rrf_is_deterministic_and_dedupes(lists: dict[str, list[str]], k: int, seed: int) -> None:
    answers = {
        name: Hits([Hit(rid, 1.0 - i / 10) for i, rid in enumerate(ids)])
        for name, ids in lists.items()
    }
    fused = rrf_merge(answers, k)
    shuffled = list(answers.items())
    random.Random(seed).shuffle(shuffled)
    again = rrf_merge(dict(shuffled), k)
    assert [(h.id, h.score, h.source) for h in again] == [(h.id, h.score, h.source) for h in fused]
    distinct = {rid for ids in lists.values() for rid in ids}
    assert len(fused) == min(k, len(distinct))
    assert len(set(fused.ids)) == len(fused)
    assert all(a.score >= b.score for a, b in itertools.pairwise(fused))
    for hit in fused:  # each score is the sum over the regions that listed the id
        ranks = [ids.index(hit.id) + 1 for ids in lists.values() if hit.id in ids]
        assert hit.score == pytest.approx(sum(1 / (60 + r) for r in ranks))
        assert hit.source in lists
        assert lists[hit.source].index(hit.id) + 1 == min(ranks)


# -- choosing between them ------------------------------------------------------------------


def test_rank_fusion_when_metrics_differ_or_a_member_is_approximate() -> None:
    cos, l2 = Scoring("cosine"), Scoring("l2")
    assert not needs_rank_fusion([])
    assert not needs_rank_fusion([Scoring("dot", exact=False)])  # one list needs no merging
    assert not needs_rank_fusion([cos, cos, Scoring("cosine", exact=True)])
    assert needs_rank_fusion([cos, l2])
    assert needs_rank_fusion([cos, Scoring("cosine", exact=False)])


def test_scoring_of_an_exact_collection() -> None:
    with edgevec.connect("tiny") as store:
        coll = store.create_collection("items", dim=3, metric="dot")
        assert Scoring.of(coll) == Scoring("dot", exact=True)


def test_scoring_of_an_approximate_index_unless_the_query_asks_for_exact() -> None:
    pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')
    with edgevec.connect("faiss") as store:
        coll = store.create_collection("items", dim=3, metric="l2", index="hnsw")
        assert Scoring.of(coll) == Scoring("l2", exact=False)
        assert Scoring.of(coll, edgevec.SearchParams(exact=True)) == Scoring("l2", exact=True)
