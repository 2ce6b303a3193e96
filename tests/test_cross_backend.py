"""The same real data and filtered queries give the same exact top-k on every engine.

2,000 Fashion-MNIST images (``tests/data``, MIT) with payloads derived from their labels are
written to FAISS (flat), Qdrant (its own local mode), Qdrant Edge (flat, in process) and Milvus
Lite (FLAT), once per metric. 50 filtered queries (every operator, nested ``and``/``or``/``not``,
absent fields, a list field, filters narrower than ``k``, one that matches nothing) and 10
unfiltered ones through ``query_batch`` must give every backend the numpy oracle's answer and the
same ids and scores as each other, for cosine and l2 (dot: the first 20 filtered queries, every
filter family twice).
Vectors are pixels / 255, mean-centred; dot scores reach ~100 there, and float32 engines stay
within 4e-5 of the float64 oracle (Milvus Lite the furthest), inside the 1e-4 tolerance.

Ids are compared exactly except where the exact (float64) scores tie within the score tolerance:
then no engine can be asked to order them alike, and at the ``k``-th place either of the tied
records may be the one returned. Every such allowance is checked against the exact scores.

Each backend runs only when its extra is installed; a pair is skipped when one side is missing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import edgevec
from edgevec import F, Filter, Hits
from edgevec.testing.oracle import (
    SCORE_TOL,
    assert_hits_match,
    exact_scores,
    matches,
    oracle_topk,
)
from edgevec.types import METRICS, Metric

DATA = Path(__file__).resolve().parent / "data" / "fashion_mnist_2k.npz"
K = 10
N_FILTERED = 50
N_UNFILTERED = 10
# Filtered queries per metric: dot reruns the first 20 (every filter family twice) to stay cheap;
# Qdrant local mode and Milvus Lite evaluate filters in Python (~0.1-0.2 s a query here).
FILTERED: dict[Metric, int] = {"cosine": N_FILTERED, "l2": N_FILTERED, "dot": 20}
NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
GROUPS = {0: "tops", 1: "bottoms", 2: "tops", 3: "dresses", 4: "tops",
          5: "shoes", 6: "tops", 7: "shoes", 8: "bags", 9: "shoes"}  # fmt: skip
SUMMER = {0, 3, 5}  # T-shirt, dress, sandal
WINTER = {2, 4, 9}  # pullover, coat, ankle boot
BACKENDS = ("faiss", "qdrant", "qdrant_edge", "milvus", "pinecone", "weaviate")

Vectors = npt.NDArray[np.float32]
Ranked = Sequence[tuple[str, float]]
Results = dict[Metric, list[Hits]]


class Dataset:
    """The sample as edgevec sees it: ids, mean-centred float32 vectors, payloads, queries."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as npz:
            images, labels, rows = npz["images"], npz["labels"], npz["source_rows"]
            q_images = npz["query_images"]
        pixels = images.astype(np.float32) / 255
        mean = pixels.mean(axis=0)
        # Centring spreads cosine scores over [-1, 1] (raw pixels are all >= 0, so every pair
        # would score 0.3-0.99 and near-ties would be everywhere).
        self.vectors: Vectors = np.ascontiguousarray(pixels - mean)
        self.queries: Vectors = np.ascontiguousarray(q_images.astype(np.float32) / 255 - mean)
        self.ids = [f"train-{int(r)}" for r in rows]
        self.row = {rid: n for n, rid in enumerate(self.ids)}
        self.payloads: list[dict[str, Any]] = []
        for img, label, row in zip(images, labels.tolist(), rows.tolist()):
            tags = {"odd" if row % 2 else "even"}
            tags |= {"summer"} if label in SUMMER else {"winter"} if label in WINTER else set()
            payload: dict[str, Any] = {
                "label": label,
                "name": NAMES[label],
                "group": GROUPS[label],
                "bright": round(float(img.mean()) / 255, 4),
                "ink": int(np.count_nonzero(img)),
                "tags": sorted(tags),
            }
            if row % 7 == 0:  # a field most records lack: absent-field semantics
                payload["sale"] = row % 3 == 0
            self.payloads.append(payload)
        self.filters = _filters(self.payloads)


def _filters(payloads: Sequence[Mapping[str, Any]]) -> list[Filter]:
    """50 deterministic filters, five of each family, thresholds taken from the data."""
    bright = np.array([p["bright"] for p in payloads])
    ink = np.array([p["ink"] for p in payloads])
    labels = np.array([p["label"] for p in payloads])
    b_cuts = np.quantile(bright, [0.1, 0.3, 0.5, 0.7, 0.9]).round(4).tolist()
    ink_cuts = np.quantile(ink, [0.2, 0.4, 0.6, 0.8, 0.95]).astype(int).tolist()
    groups = ["tops", "bottoms", "dresses", "shoes", "bags"]

    def narrow(c: int) -> Filter:
        # the 5 inkiest images of class c: fewer matches than k
        fifth = int(np.sort(ink[labels == c])[-5])
        return (F("label") == c) & (F("ink") >= fifth)

    families: list[Callable[[int], Filter]] = [
        lambda j: F("label") == (2 * j + 1) % 10,
        lambda j: F("group") == groups[j],
        lambda j: F("label").isin([j, j + 5, 42]),
        lambda j: (F("bright") >= b_cuts[j] - 0.05) & (F("bright") < b_cuts[j] + 0.05),
        lambda j: (F("group") == "tops") & (F("ink") > ink_cuts[j]),
        lambda j: (F("name") == NAMES[2 * j]) | (F("bright") > b_cuts[4 - j]),
        lambda j: ~(F("group") == groups[j]) & (F("label") != 2 * j),
        # a list field; the last of these matches nothing (no record is both even and odd)
        lambda j: (
            (F("tags") == ["summer", "winter", "summer", "winter", "even"][j])
            & F("tags").notin(["odd"] if j % 2 else ["even"])
        ),
        lambda j: (
            (F("sale").exists() & (F("sale") != (j % 2 == 0))) | (F("ink") <= ink_cuts[j] // 2)
        ),
        narrow,
    ]
    out = [families[i % len(families)](i // len(families)) for i in range(N_FILTERED)]
    assert len(out) == N_FILTERED
    return out


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset(DATA)


@dataclass(frozen=True)
class Case:
    """One query and what the oracle says about it, computed once for all backends."""

    query: Vectors
    filter: Filter | None
    allowed: npt.NDArray[np.intp]  # rows that satisfy the filter
    expected: list[tuple[str, float]]  # the oracle's top-k
    exact: dict[str, float]  # every record's exact score


def _cases(d: Dataset, metric: Metric, allowed: Sequence[npt.NDArray[np.intp]]) -> list[Case]:
    plan: list[tuple[int, Filter | None]] = [(i, d.filters[i]) for i in range(FILTERED[metric])]
    plan += [(N_FILTERED + j, None) for j in range(N_UNFILTERED)]
    everyone = np.arange(len(d.ids))
    cases = []
    for i, flt in plan:
        q = d.queries[i]
        rows = everyone if flt is None else allowed[i]
        # The oracle over the records that pass the filter: the same answer as giving it the
        # filter, without evaluating each filter once per metric.
        sub_ids = [d.ids[r] for r in rows]
        expected = oracle_topk(sub_ids, d.vectors[rows], [{}] * len(rows), q, K, metric)
        exact = dict(zip(d.ids, exact_scores(d.vectors, q, metric).tolist()))
        cases.append(Case(q, flt, rows, expected, exact))
    return cases


@pytest.fixture(scope="module")
def cases(data: Dataset) -> dict[Metric, list[Case]]:
    allowed = [np.flatnonzero([matches(f, p) for p in data.payloads]) for f in data.filters]
    return {metric: _cases(data, metric, allowed) for metric in METRICS}


def _run(store: edgevec.BaseStore, d: Dataset, cases: Mapping[Metric, list[Case]]) -> Results:
    """Write the data once per metric, then run every case; the store is closed after.

    Filtered queries go one by one through ``query``, unfiltered ones in one ``query_batch``.
    """
    results: Results = {}
    try:
        for metric in METRICS:
            coll = store.create_collection(f"fashion_{metric}", d.vectors.shape[1], metric)
            coll.upsert_arrays(d.ids, d.vectors, d.payloads)
            assert coll.count() == len(d.ids)
            filtered = [c for c in cases[metric] if c.filter is not None]
            plain = np.stack([c.query for c in cases[metric] if c.filter is None])
            hits = [coll.query(c.query, k=K, filter=c.filter) for c in filtered]
            results[metric] = hits + coll.query_batch(plain, k=K)
    finally:
        store.close()
    return results


_MISSING = 'extra not installed: pip install "edgevec[{}]"'


@pytest.fixture(scope="module")
def faiss_results(data: Dataset, cases: dict[Metric, list[Case]]) -> Results:
    pytest.importorskip("faiss", reason="FAISS " + _MISSING.format("faiss"))
    return _run(edgevec.connect("faiss", index="flat"), data, cases)


@pytest.fixture(scope="module")
def qdrant_results(data: Dataset, cases: dict[Metric, list[Case]]) -> Results:
    pytest.importorskip("qdrant_client", reason="Qdrant " + _MISSING.format("qdrant"))
    return _run(edgevec.connect("qdrant", location=":memory:"), data, cases)


@pytest.fixture(scope="module")
def qdrant_edge_results(data: Dataset, cases: dict[Metric, list[Case]]) -> Results:
    pytest.importorskip("qdrant_edge", reason="Qdrant Edge " + _MISSING.format("qdrant-edge"))
    return _run(edgevec.connect("qdrant_edge", index="flat"), data, cases)


@pytest.fixture(scope="module")
def milvus_results(
    data: Dataset, cases: dict[Metric, list[Case]], tmp_path_factory: pytest.TempPathFactory
) -> Results:
    pytest.importorskip("pymilvus", reason="Milvus " + _MISSING.format("milvus"))
    if importlib.util.find_spec("milvus_lite") is None:
        pytest.skip('Milvus Lite not installed (no wheel for this platform?): "edgevec[milvus]"')
    uri = str(tmp_path_factory.mktemp("milvus") / "cross.db")
    return _run(edgevec.connect("milvus", uri=uri, index="FLAT"), data, cases)


@pytest.fixture(scope="module")
def pinecone_results(data: Dataset, cases: dict[Metric, list[Case]]) -> Iterator[Results]:
    pytest.importorskip("pinecone", reason="Pinecone " + _MISSING.format("pinecone"))
    from tests.servers.pinecone_server import PineconeTestServer

    # A dotproduct index serves all three metrics; l2 needs two extra dimensions.
    with PineconeTestServer(dimension=data.vectors.shape[1] + 2, metric="dotproduct") as srv:
        store = edgevec.connect("pinecone", host=srv.url, api_key=srv.api_key, exact=True)
        yield _run(store, data, cases)


@pytest.fixture(scope="module")
def weaviate_results(data: Dataset, cases: dict[Metric, list[Case]]) -> Iterator[Results]:
    pytest.importorskip("weaviate", reason="Weaviate " + _MISSING.format("weaviate"))
    from tests.servers.weaviate_server import WeaviateTestServer

    with WeaviateTestServer() as srv:
        yield _run(
            edgevec.connect("weaviate", url=srv.url, grpc_port=srv.grpc_port, index="flat"),
            data,
            cases,
        )


def _results(request: pytest.FixtureRequest, backend: str) -> Results:
    value: Results = request.getfixturevalue(f"{backend}_results")
    return value


def assert_same_topk(
    a: Ranked, b: Ranked, exact: Mapping[str, float], k: int, tol: float = SCORE_TOL
) -> int:
    """Assert two exact top-``k`` lists agree; return how many tie allowances were needed (0/1).

    Scores must agree place by place within ``tol``. Ids must be identical, except that two ids
    may swap places when their exact scores tie within ``tol``, and an id may be replaced by
    another at the boundary when both tie with the ``k``-th exact score.
    """
    assert len(a) == len(b), f"{len(a)} vs {len(b)} hits"
    for place, ((ia, sa), (ib, sb)) in enumerate(zip(a, b)):
        assert abs(sa - sb) <= tol, f"place {place}: {ia!r} scores {sa}, {ib!r} scores {sb}"
    ids_a, ids_b = [i for i, _ in a], [i for i, _ in b]
    if ids_a == ids_b:
        return 0
    for rid in set(ids_a) ^ set(ids_b):
        assert len(a) == k, f"{rid!r} in one list only, and fewer than k={k} records match"
        kth = min(exact[i] for i in ids_a)
        assert abs(exact[rid] - kth) <= tol, (
            f"{rid!r} (exact {exact[rid]}) in one list only, not tied with the k-th ({kth})"
        )
    pos_b = {rid: p for p, rid in enumerate(ids_b)}
    common = [rid for rid in ids_a if rid in pos_b]
    for x, y in combinations(common, 2):  # x before y in a
        if pos_b[x] > pos_b[y]:
            assert abs(exact[x] - exact[y]) <= tol, (
                f"{x!r} (exact {exact[x]}) and {y!r} (exact {exact[y]}) in opposite order"
            )
    return 1


def _ranked(hits: Hits) -> list[tuple[str, float]]:
    return [(h.id, h.score) for h in hits]


def test_sample_is_real_and_filters_are_varied(data: Dataset) -> None:
    """Guards the test's own power: real data, and filters that select very different sets."""
    assert data.vectors.shape == (2000, 784)
    assert data.queries.shape[0] >= N_FILTERED + N_UNFILTERED
    assert len(np.unique(data.vectors, axis=0)) == 2000
    sizes = [sum(matches(f, p) for p in data.payloads) for f in data.filters]
    assert min(sizes) < K < max(sizes) < len(data.payloads)
    assert len(set(sizes)) >= 30, sizes
    for n in set(FILTERED.values()):  # the shorter dot run still covers every operator
        ops = set().union(*(f.ops() for f in data.filters[:n]))
        assert ops == {"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "exists"} | {
            "and", "or", "not"
        }  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_equals_oracle(
    backend: str, data: Dataset, cases: dict[Metric, list[Case]], request: pytest.FixtureRequest
) -> None:
    """Ids (up to exact ties) and scores within 1e-4 of the numpy oracle, payloads intact."""
    results = _results(request, backend)
    for metric in METRICS:
        assert len(results[metric]) == len(cases[metric])
        for i, (hits, case) in enumerate(zip(results[metric], cases[metric])):
            where = f"{backend} {metric} query {i} filter {case.filter!r}"
            # The oracle's own check, over the records that pass the filter (evaluated once,
            # above): a hit outside them is reported as an unknown id.
            rows = case.allowed
            sub_ids = [data.ids[r] for r in rows]
            sub_payloads = [data.payloads[r] for r in rows]
            try:
                assert_hits_match(
                    hits, sub_ids, data.vectors[rows], sub_payloads, case.query, K, metric
                )
                assert_same_topk(_ranked(hits), case.expected, case.exact, K)
            except AssertionError as exc:
                raise AssertionError(f"{where}: {exc}") from exc
            for h in hits:
                assert dict(h.payload) == data.payloads[data.row[h.id]], where


@pytest.mark.parametrize(("first", "second"), list(combinations(BACKENDS, 2)))
def test_backends_agree(
    first: str,
    second: str,
    cases: dict[Metric, list[Case]],
    request: pytest.FixtureRequest,
) -> None:
    """Same top-10 ids (up to exact ties) and the same scores within 1e-4, place by place."""
    a, b = _results(request, first), _results(request, second)
    allowances = 0
    for metric in METRICS:
        for i, (ha, hb, case) in enumerate(zip(a[metric], b[metric], cases[metric])):
            try:
                allowances += assert_same_topk(_ranked(ha), _ranked(hb), case.exact, K)
            except AssertionError as exc:
                where = f"{first} vs {second}, {metric} query {i} filter {case.filter!r}"
                raise AssertionError(f"{where}: {exc}") from exc
    # Ties within 1e-4 are rare on this data; many allowances would mean a loose comparison.
    assert allowances <= 5, f"{allowances} rankings differed only by ties"


def test_comparison_rejects_real_differences() -> None:
    """The tie allowance is not a loophole: a swap or substitution without a tie fails."""
    exact = {"a": 0.9, "b": 0.8, "c": 0.79995, "d": 0.5, "e": 0.79999}
    ranked = [("a", 0.9), ("b", 0.8), ("c", 0.79995)]
    assert assert_same_topk(ranked, ranked, exact, 3) == 0
    tied_swap = [("a", 0.9), ("c", 0.79995), ("b", 0.8)]  # b and c tie within 1e-4
    assert assert_same_topk(ranked, tied_swap, exact, 3) == 1
    boundary = [("a", 0.9), ("b", 0.8), ("e", 0.79999)]  # e ties with the k-th
    assert assert_same_topk(ranked, boundary, exact, 3) == 1
    with pytest.raises(AssertionError, match="opposite order"):
        assert_same_topk(ranked, [("b", 0.9), ("a", 0.8), ("c", 0.79995)], exact, 3)
    with pytest.raises(AssertionError, match="one list only"):
        assert_same_topk(ranked, [("a", 0.9), ("b", 0.8), ("d", 0.79995)], exact, 3)
    with pytest.raises(AssertionError, match="place 2"):
        assert_same_topk(ranked, [("a", 0.9), ("b", 0.8), ("c", 0.7)], exact, 3)
