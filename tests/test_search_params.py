"""The portable search-params model and its check against a backend's declared capabilities."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import edgevec
from edgevec import Capabilities, InvalidInputError, SearchParams
from edgevec.search_params import DEFAULT, as_search_params
from edgevec.testing.wrappers import VectorEmbedder


def test_mapping_and_model_are_one_value() -> None:
    assert as_search_params({"ef": np.int64(64), "exact": np.bool_(True)}) == SearchParams(64, True)
    assert as_search_params(None) is DEFAULT
    assert DEFAULT.asked() == frozenset()
    assert SearchParams(ef=8, exact=True).asked() == {"ef", "exact"}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"ef": "abc"}, "'ef'"),
        ({"ef": 1.5}, "'ef'"),
        ({"ef": 10**6}, "'ef'"),
        ({"exact": 0}, "'exact'"),
    ],
)
def test_wrong_types_raise_typed_errors(kwargs: dict[str, object], named: str) -> None:
    """``ef_search="abc"`` used to surface as a raw ``ValueError`` from the engine."""
    with pytest.raises(InvalidInputError, match=named):
        SearchParams(**kwargs)  # type: ignore[arg-type]


def test_capabilities_name_what_they_honour() -> None:
    ann = Capabilities(exact=False, search_params=frozenset({"ef"}))
    assert ann.honoured_params() == {"ef"}
    assert Capabilities().honoured_params() == {"exact"}  # an exact collection is always exact
    ann.check_params(SearchParams(ef=32), "x")
    with pytest.raises(InvalidInputError, match=r"exact.*it honours: ef"):
        ann.check_params(SearchParams(exact=True), "x")
    with pytest.raises(InvalidInputError, match="honours: none"):
        Capabilities(exact=False).check_params(SearchParams(exact=True), "x")


@pytest.mark.skipif(
    importlib.util.find_spec("faiss") is None,
    reason='needs the faiss extra: pip install "edgevec[faiss]"',
)
def test_a_score_equal_to_the_threshold_is_kept() -> None:
    """``score >= threshold``, inclusive: checked on FAISS flat, whose scores repeat exactly."""
    store = edgevec.connect("faiss")
    coll = store.create_collection("ties", dim=3, metric="l2")
    coll.upsert_arrays(["a", "b", "c"], np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0]], np.float32))
    q = np.zeros(3, np.float32)
    assert coll.query(q, k=3, score_threshold=-1.0).ids == ["a", "b"]
    assert coll.query(q, k=3, score_threshold=np.float32(-0.5)).ids == ["a"]
    assert coll.query(q, k=1, score_threshold=-2.0).ids == ["a"]  # the k best, then the threshold
    assert coll.query_batch(np.stack([q, q]), k=3, score_threshold=-2) == [
        coll.query(q, k=3),
        coll.query(q, k=3),
    ]
    store.close()


@pytest.mark.skipif(
    importlib.util.find_spec("faiss") is None,
    reason='needs the faiss extra: pip install "edgevec[faiss]"',
)
def test_bound_search_takes_the_threshold_and_params() -> None:
    """Image de-duplication searches by item: ``search`` passes both options to ``query``."""
    store = edgevec.connect("faiss", index="hnsw")
    coll = store.create_collection("bound", embedder=VectorEmbedder(3, "cosine"))
    coll.add(["a", "b"], [np.array([1, 0, 0], np.float32), np.array([0.6, 0.8, 0], np.float32)])
    item = np.array([1, 0.01, 0], np.float32)
    assert coll.search(item, k=2, score_threshold=0.98, params={"ef": 32}).ids == ["a"]
    assert coll.query_by_id("a", k=2).ids == ["b"]
    store.close()
