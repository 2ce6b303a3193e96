"""The lean FAISS query path keeps its contract: private payload copies, fresh filter masks.

The query path hands out flat payloads (atoms only) with one ``dict.copy`` and nested ones with a
deep copy, reuses a filter object's mask until the next write, and calls the index's C search
entry point. Each test drives a real in-process FAISS collection and checks what a caller sees.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from edgevec import F, Hits, Record
from edgevec.base import BaseCollection
from edgevec.prepare import prepare_query
from edgevec.testing import oracle_topk

DIM = 8
FLAT = {"label": 1, "name": "a", "price": 2.5, "ok": True, "none": None}
NESTED = {"label": 2, "tags": ["x", "y"], "m": {"k": 1, "deep": [{"z": 1}]}}


@pytest.fixture(params=["flat", "hnsw"])
def coll(request: pytest.FixtureRequest) -> Any:
    store = edgevec.connect("faiss", index=request.param)
    yield store.create_collection("c", dim=DIM, metric="l2", fields={"label": "int"})
    store.close()


def _vecs(n: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _mutate(payload: Any) -> None:
    """Everything a caller might do to a payload it was given, top level and nested."""
    payload["added"] = 1
    payload.pop("label", None)
    for value in payload.values():
        if isinstance(value, list):
            value.append("mutated")
        elif isinstance(value, dict):
            value["k"] = "mutated"
            value.clear()


def _read_paths(coll: BaseCollection, vecs: Any) -> dict[str, Callable[[], list[Any]]]:
    """Every read that hands out payloads; each returns the payloads it got (dicts)."""

    def hits(result: Hits) -> list[Any]:
        return [h.payload for h in result]

    return {
        "query": lambda: hits(coll.query(vecs[0], k=4)),
        "query vectors": lambda: hits(coll.query(vecs[0], k=4, include_vectors=True)),
        "query_batch": lambda: [p for r in coll.query_batch(vecs[:2], k=4) for p in hits(r)],
        "query_by_id": lambda: hits(coll.query_by_id("flat", k=3, include_self=True)),
        "filtered": lambda: hits(coll.query(vecs[0], k=4, filter=F("label") >= 0)),
        "get": lambda: [r.payload for r in coll.get(["flat", "nested", "empty"])],
        "scan": lambda: [r.payload for page in coll.scan(page_size=2) for r in page],
    }


def test_returned_payloads_are_private_copies(coll: BaseCollection) -> None:
    """Mutating any payload a read returned (flat or nested, at any depth) changes neither the
    stored records, nor later reads, nor which filters match; two reads never share a dict."""
    vecs = _vecs(4, 1)
    coll.upsert_arrays(
        ["flat", "nested", "empty", "other"],
        vecs,
        [copy.deepcopy(FLAT), copy.deepcopy(NESTED), {}, {"label": 3}],
    )
    expected = {"flat": FLAT, "nested": NESTED, "empty": {}, "other": {"label": 3}}
    for name, read in _read_paths(coll, vecs).items():
        first, second = read(), read()
        assert first, name
        assert first == second, name
        assert all(a is not b for a, b in zip(first, second, strict=True)), name
        for payload in first:
            _mutate(payload)
        assert [r.payload for r in coll.get(list(expected))] == list(expected.values()), name
        assert read() == second, name
        assert coll.count(F("label") == 1) == 1, name
        assert coll.count(F("tags") == "x") == 1, name


def test_payload_kind_follows_overwrites(coll: BaseCollection) -> None:
    """A record rewritten from a flat to a nested payload (and back) is copied as what it
    holds now: the per-slot note of a flat payload dies with the slot it was written to."""
    vecs = _vecs(2, 2)
    coll.upsert_arrays(["a", "b"], vecs, [copy.deepcopy(FLAT), {"label": 5}])
    for payload in (NESTED, FLAT, NESTED):
        coll.upsert([Record("a", vecs[0], copy.deepcopy(payload))])
        for _ in range(2):
            hit = coll.query(vecs[0], k=1)[0]
            assert hit.id == "a"
            assert hit.payload == payload
            _mutate(hit.payload)
        assert coll.get(["a"])[0].payload == payload


def test_reused_filter_object_follows_every_write(coll: BaseCollection) -> None:
    """One filter object queried before and after upserts, overwrites, deletes and the
    compaction they trigger answers as the oracle does each time (no stale mask)."""
    rng = np.random.default_rng(3)
    ids = [f"r{i}" for i in range(200)]
    vecs = _vecs(200, 4)
    pays: dict[str, dict[str, Any]] = {i: {"label": int(rng.integers(0, 4))} for i in ids}
    coll.upsert_arrays(ids, vecs, [pays[i] for i in ids])
    stored = dict(zip(ids, vecs, strict=True))
    flt = (F("label") == 1) | (F("label") == 3)
    others = [(v, F("label") == v) for v in range(4)] * 3  # more filter objects than cached
    query = _vecs(1, 5)[0]

    def check() -> None:
        names = list(stored)
        want = oracle_topk(
            names, np.stack([stored[i] for i in names]), [pays[i] for i in names],
            query, 10, "l2", flt,
        )  # fmt: skip
        got = coll.query(query, k=10, filter=flt, params={"exact": True})
        assert got.ids == [i for i, _ in want]
        assert coll.count(flt) == sum(pays[i]["label"] in (1, 3) for i in names)
        for value, other in others:
            assert coll.count(other) == sum(pays[i]["label"] == value for i in names)

    check()
    for step, start in enumerate(range(0, 150, 10)):  # 150 of 200 deleted: compactions too
        new_id, vec = f"n{step}", _vecs(1, 100 + step)[0]
        coll.upsert([Record(new_id, vec, {"label": 1})])
        stored[new_id], pays[new_id] = vec, {"label": 1}
        check()
        coll.upsert([Record(ids[150 + step], vecs[150 + step], {"label": 3})])  # overwrite
        pays[ids[150 + step]] = {"label": 3}
        check()
        coll.delete(ids[start : start + 10])
        for gone in ids[start : start + 10]:
            del stored[gone], pays[gone]
        check()
    coll.delete(filter=flt)  # through the very filter object queried above
    for gone in [i for i in stored if pays[i]["label"] in (1, 3)]:
        del stored[gone], pays[gone]
    check()


def test_reused_filter_under_concurrent_writes(coll: BaseCollection) -> None:
    """Readers counting with one shared filter object while a writer adds matching records
    each see a count that never goes back and never passes what was written."""
    vecs = _vecs(40, 6)
    coll.upsert_arrays([f"s{i}" for i in range(20)], vecs[:20], [{"label": 0}] * 20)
    flt = F("label") == 1
    seen: list[list[int]] = [[] for _ in range(3)]
    done = threading.Event()

    def reader(out: list[int]) -> None:
        while not done.is_set():
            out.append(coll.count(flt))

    threads = [threading.Thread(target=reader, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    try:
        for i in range(20):
            coll.upsert([Record(f"w{i}", vecs[20 + i], {"label": 1})])
    finally:
        done.set()
        for t in threads:
            t.join()
    assert coll.count(flt) == 20
    for counts in seen:
        assert counts == sorted(counts)
        assert counts[-1] <= 20


def test_search_hook_accepts_a_strided_query(coll: BaseCollection) -> None:
    """A wrapper may hand ``_query`` a PreparedQuery of a non-contiguous view; the search
    reads the right numbers, not the view's raw buffer."""
    vecs = _vecs(30, 7)
    coll.upsert_arrays([str(i) for i in range(30)], vecs)
    q = prepare_query(
        vecs[3], 5, None, dim=DIM, metric="l2", capabilities=coll.capabilities, backend="faiss"
    )
    wide = np.zeros((1, 2 * DIM), np.float32)
    wide[0, ::2] = vecs[3]
    strided = dataclasses.replace(q, vectors=wide[:, ::2])
    assert not strided.vectors.flags.c_contiguous
    assert [h.id for h in coll._query(strided)[0]] == [h.id for h in coll._query(q)[0]]


def test_declared_column_gains_an_absent_row(coll: BaseCollection) -> None:
    """A declared column with a value in every row answers without its presence mask; the
    first row lacking the field (its slot holds a 0 placeholder) must bring that mask back."""
    vecs = _vecs(6, 8)
    coll.upsert_arrays([f"d{i}" for i in range(4)], vecs[:4], [{"label": i} for i in range(4)])
    zero, small = F("label") == 0, F("label") < 2
    assert (coll.count(zero), coll.count(small)) == (1, 2)
    coll.upsert_arrays(["absent", "other"], vecs[4:], [{}, {"name": "x"}])
    for flt in (zero, small, F("label") == 0, F("label").isin([0, 5]), F("label") <= 0):
        assert {h.id for h in coll.query(vecs[4], k=6, filter=flt)} <= {"d0", "d1"}
    assert (coll.count(zero), coll.count(small), coll.count(~zero)) == (1, 2, 5)


def test_query_arrays_pads_like_query_batch(coll: BaseCollection) -> None:
    """``query_arrays`` holds what ``query_batch`` returns, blank (None/NaN) past the last hit:
    with k beyond the collection, beyond a filter's matches, and with every row full."""
    vecs = _vecs(12, 9)
    coll.upsert_arrays([f"a{i}" for i in range(12)], vecs, [{"label": i % 3} for i in range(12)])
    for k, flt in ((20, None), (6, F("label") == 1), (3, None), (3, F("label") == 2)):
        ids, scores = coll.query_arrays(vecs[:4], k=k, filter=flt)
        assert ids.shape == scores.shape == (4, k)
        for row, hits in enumerate(coll.query_batch(vecs[:4], k=k, filter=flt)):
            width = len(hits)
            assert ids[row, :width].tolist() == hits.ids
            np.testing.assert_array_equal(scores[row, :width], hits.scores)
            assert all(i is None for i in ids[row, width:])
            assert np.isnan(scores[row, width:]).all()
