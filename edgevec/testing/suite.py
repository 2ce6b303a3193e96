"""The conformance suite every backend passes: subclass :class:`ConformanceSuite` in a test module.

::

    import pytest
    from edgevec.testing import ConformanceSuite

    class TestMyBackend(ConformanceSuite):
        @pytest.fixture
        def connect_options(self, tmp_path):
            return {"backend": "mine", "path": str(tmp_path)}

Every test runs twice, through ``edgevec.connect`` and ``edgevec.connect_async`` (the async store is
driven from a background event loop, see :mod:`edgevec.testing.blocking`). Mixing in
:class:`ThroughWrappers` runs every test also through an identity wrapper and a bound collection
(see :mod:`edgevec.testing.wrappers`; a suite may add the result cache, ``CACHED``); tests named
in ``direct_only`` then run only directly. What a backend can do comes from its capability
manifest: exact backends must equal the numpy oracle, approximate ones must reach the recall
floor, and filter operators a backend does not declare are expected to raise
:class:`~edgevec.errors.FilterNotSupportedError` before any I/O.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import os
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgevec.capabilities import Capabilities
from edgevec.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    DimensionMismatchError,
    FilterNotSupportedError,
    InvalidInputError,
    InvalidVectorError,
    RecordNotFoundError,
    StoreClosedError,
)
from edgevec.filters import MAX_DEPTH as MAX_FILTER_DEPTH
from edgevec.filters import OPS, And, Cmp, F, Filter, Not
from edgevec.payloads import float_reads_exactly, int_range
from edgevec.search_params import PARAM_NAMES, SearchParams
from edgevec.testing.blocking import connected
from edgevec.testing.oracle import (
    SCORE_TOL,
    assert_hits_match,
    exact_scores,
    matches,
    oracle_topk,
)
from edgevec.testing.strategies import (
    ADVERSARIAL_FIELDS,
    ADVERSARIAL_NUMBERS,
    ADVERSARIAL_VALUES,
    DECLARED_FIELDS,
    EDGE_NUMBERS,
    adversarial_payloads,
    filters,
    random_filter,
    random_payloads,
)
from edgevec.testing.wrappers import CACHED, WRAPPERS, VectorEmbedder, handle_of, wrap_store
from edgevec.types import METRICS, Metric, Record

__all__ = ["SWEEPS", "ConformanceSuite", "ThroughWrappers", "recall_at_k"]

EXAMPLES = int(os.environ.get("EDGEVEC_HYPOTHESIS_EXAMPLES", "25"))
THRESHOLD_TIE = 1e-6
"""How near the threshold a score may lie and fall on either side of it on another backend
(float32 arithmetic); the threshold itself is compared exactly with the score returned."""
AWKWARD_IDS = ["1", "ü/ 🙂", "with space", "x" * 512, "é" * 256, "a:b/c?d=e&f#g", "0" * 36]


def recall_at_k(got: list[list[str]], truth: list[list[str]]) -> float:
    """Mean share of the true top-k ids found, over all queries."""
    found = sum(len(set(g) & set(t)) for g, t in zip(got, truth))
    total = sum(len(t) for t in truth)
    return found / total if total else 1.0


SWEEPS = frozenset(
    {
        "test_recall",
        "test_random_filters_match_oracle",
        "test_every_filter_leaf_matches_oracle",
        "test_random_filter_trees_match_oracle",
    }
)
"""The long query sweeps: they drive only ``_query``, which every other test drives too, so a
backend whose engine is slow may keep them to the direct run (``direct_only = SWEEPS``)."""


def _rand(n: int, dim: int, seed: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _unique() -> str:
    return f"conf_{uuid.uuid4().hex[:12]}"


class ThroughWrappers:
    """Mix in before :class:`ConformanceSuite` to run every test directly, through the identity
    wrapper and through a bound collection (``direct_only`` names tests that run directly only).
    """

    @pytest.fixture(params=WRAPPERS)
    def wrapper(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


class Metric_(enum.Enum):  # noqa: N801  # an Enum payload value (JSON would keep only its value)
    COSINE = "cosine"


@dataclasses.dataclass
class _Point:  # a dataclass payload value (orjson would turn it into a dict)
    x: int
    y: int


class ConformanceSuite:
    """Backend-agnostic tests. Subclasses provide ``connect_options`` (and may override
    ``collection_options`` and ``recall_floor``)."""

    recall_floor = 0.95
    direct_only: ClassVar[frozenset[str]] = frozenset()
    """Tests that run only without a wrapper (for example :data:`SWEEPS`)."""

    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        raise NotImplementedError("subclasses provide the connect options of their backend")

    @pytest.fixture
    def collection_options(self) -> dict[str, Any]:
        """Extra ``create_collection`` keyword arguments (index kind and parameters)."""
        return {}

    @pytest.fixture(params=["sync", "async"])
    def api(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def wrapper(self) -> str:
        """How tests reach collections (one of ``WRAPPERS``); subclasses may parametrize it."""
        return "direct"

    @pytest.fixture
    def store(
        self,
        connect_options: dict[str, Any],
        api: str,
        wrapper: str,
        request: pytest.FixtureRequest,
    ) -> Iterator[Any]:
        name = request.node.originalname
        if wrapper != "direct" and name in self.direct_only:
            pytest.skip(f"{name} runs only without a wrapper here")
        if wrapper == CACHED and name in SWEEPS:  # fresh queries only miss: nothing cached
            pytest.skip(f"{name} never repeats a query, so it proves nothing about a cache")
        oracle = getattr(request.node, "callspec", None)
        metric = oracle.params.get("oracle_data", ("cosine",))[0] if oracle else "cosine"
        if wrapper != "direct" and metric != "cosine":  # the direct run covers every metric
            pytest.skip(f"a wrapper forwards filters whatever the metric: {name} runs on cosine")
        with connected(connect_options, api) as raw:
            yield wrap_store(raw, wrapper)

    @pytest.fixture
    def make(self, store: Any, collection_options: dict[str, Any]) -> Iterator[Callable[..., Any]]:
        """Create a collection (uniquely named unless ``name`` is given); all are dropped after."""
        made: list[str] = []

        def make(dim: int = 8, metric: Metric = "cosine", name: str = "", **kw: Any) -> Any:
            name = name or _unique()
            made.append(name)
            return store.create_collection(name, dim, metric, **{**collection_options, **kw})

        yield make
        for name in made:
            store.drop_collection(name, missing_ok=True)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _write(coll: Any, ids: list[str], vecs: Any, pays: Any = None) -> None:
        """``upsert_arrays``, or ``add`` on a collection bound to a :class:`VectorEmbedder`."""
        if isinstance(getattr(coll, "embedder", None), VectorEmbedder):
            coll.add(ids, list(vecs), pays)
        else:
            coll.upsert_arrays(ids, vecs, pays)

    @classmethod
    def _fill(
        cls,
        coll: Any,
        n: int,
        dim: int,
        seed: int = 0,
        payloads: list[dict[str, Any]] | None = None,
    ) -> tuple[list[str], npt.NDArray[np.float32], list[dict[str, Any]]]:
        ids = [f"r{i}" for i in range(n)]
        vecs = _rand(n, dim, seed)
        caps = ConformanceSuite._caps(coll)
        pays = (
            payloads
            if payloads is not None
            else random_payloads(n, seed, caps.exact_int_bits, caps.exact_floats)
        )
        cls._write(coll, ids, vecs, pays)
        return ids, vecs, pays

    @staticmethod
    def _need_declared_fields(store: Any) -> None:
        if not store.capabilities.declared_fields:
            pytest.skip(f"backend {store.backend!r} does not keep declared fields yet")

    @staticmethod
    def _caps(coll: Any) -> Capabilities:
        caps = coll.capabilities
        assert isinstance(caps, Capabilities)
        return caps

    def _check(
        self, coll: Any, hits: Any, data: tuple[Any, ...], q: Any, k: int, flt: Filter | None
    ) -> None:
        ids, vecs, pays = data
        if self._caps(coll).exact:
            assert_hits_match(hits, ids, vecs, pays, q, k, coll.metric, flt)
        else:
            truth = [i for i, _ in oracle_topk(ids, vecs, pays, q, k, coll.metric, flt)]
            assert len(hits) == len(truth)
            assert all(matches(flt, pays[ids.index(h.id)]) for h in hits)

    # -- collections -----------------------------------------------------------------------

    def test_collection_lifecycle(self, store: Any, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="dot")
        assert coll.name in store.list_collections()
        assert store.has_collection(coll.name)
        again = store.collection(coll.name)
        assert (again.dim, again.metric) == (4, "dot")
        with pytest.raises(CollectionExistsError):
            store.create_collection(coll.name, 4, "dot")
        same = store.create_collection(coll.name, 4, "dot", exist_ok=True)
        assert same.dim == 4
        with pytest.raises(CollectionExistsError):
            store.create_collection(coll.name, 5, "dot", exist_ok=True)
        store.drop_collection(coll.name)
        assert coll.name not in store.list_collections()
        with pytest.raises(CollectionNotFoundError):
            store.collection(coll.name)
        with pytest.raises(CollectionNotFoundError):
            store.drop_collection(coll.name)

    def test_one_handle_per_name(self, store: Any, make: Callable[..., Any]) -> None:
        """Opening, re-creating (also from many threads at once) and binding share one handle;
        dropping retires it and a later create gives a new one."""
        coll = make(dim=4)
        handle = handle_of(coll)
        assert handle_of(store.collection(coll.name)) is handle
        assert handle_of(store.create_collection(coll.name, 4, "cosine", exist_ok=True)) is handle
        name = _unique()
        with ThreadPoolExecutor(8) as pool:
            raced = list(pool.map(lambda _: make(dim=4, name=name, exist_ok=True), range(8)))
        assert len({id(handle_of(c)) for c in raced}) == 1
        self._write(raced[3], ["a"], _rand(1, 4, 30))
        assert [c.count() for c in raced] == [1] * 8
        store.drop_collection(coll.name)
        with pytest.raises(CollectionNotFoundError):
            coll.count()
        fresh = make(dim=4, name=coll.name)
        assert handle_of(fresh) is not handle
        assert fresh.count() == 0
        with pytest.raises(CollectionNotFoundError):
            coll.get(["a"])

    def test_closed_means_closed(
        self, store: Any, connect_options: dict[str, Any], api: str
    ) -> None:
        """After ``close()`` the store and every handle it gave out raise StoreClosedError."""
        name = _unique()
        coll = store.create_collection(name, 4, "l2")
        ids, vecs, _ = self._fill(coll, 3, 4)
        again = store.collection(name)
        store.close()
        calls: list[Callable[[], Any]] = [
            lambda: coll.upsert([Record("x", vecs[0])]),
            lambda: self._write(coll, ["x"], vecs[:1]),
            lambda: coll.query(vecs[0]),
            lambda: coll.query_batch(vecs),
            lambda: coll.get(ids),
            lambda: coll.delete(ids=ids),
            lambda: coll.delete(filter=F("n") > 0),
            lambda: coll.count(),
            lambda: coll.explain(F("n") > 0),
            lambda: coll.scan(),
            lambda: again.count(),
            lambda: store.collection(name),
            lambda: store.create_collection(name, 4, "l2", exist_ok=True),
            lambda: store.has_collection(name),
            lambda: store.list_collections(),
            lambda: store.drop_collection(name),
        ]
        if isinstance(getattr(coll, "embedder", None), VectorEmbedder):
            calls.append(lambda: coll.search(vecs[0]))
        for call in calls:
            with pytest.raises(StoreClosedError):
                call()
        store.close()  # idempotent
        with connected(connect_options, api) as reopened:  # the engine was released
            reopened.drop_collection(name, missing_ok=True)

    def test_invalid_collection_specs(self, store: Any) -> None:
        for name in ["", "has space", "1starts_with_digit", "x" * 64, "dash-ed"]:
            with pytest.raises(InvalidInputError):
                store.create_collection(name, 4)
        with pytest.raises(InvalidInputError):
            store.create_collection("okname", 0)
        with pytest.raises(InvalidInputError):
            store.create_collection("okname", 4, "manhattan")

    def test_empty_collection(self, make: Callable[..., Any]) -> None:
        coll = make()
        assert coll.count() == 0
        assert list(coll.query(np.ones(8, np.float32), k=5)) == []
        assert coll.get(["nope"]) == []
        coll.delete(ids=["nope"])
        assert coll.count(F("color") == "red") == 0

    # -- ids and payloads -------------------------------------------------------------------

    def test_id_round_trip(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="l2")
        vecs = _rand(len(AWKWARD_IDS), 4, 1)
        coll.upsert([Record(i, v, {"i": n}) for n, (i, v) in enumerate(zip(AWKWARD_IDS, vecs))])
        got = coll.get(AWKWARD_IDS)
        assert [r.id for r in got] == AWKWARD_IDS
        for r, v in zip(got, vecs):
            assert r.vector is not None
            np.testing.assert_allclose(r.vector, v, rtol=1e-5, atol=1e-6)
        for n, v in enumerate(vecs):
            top = coll.query(v, k=1)[0]
            assert top.id == AWKWARD_IDS[n]
            assert top.payload == {"i": n}
        with pytest.raises(InvalidInputError):
            coll.upsert([Record("x" * 513, vecs[0])])
        with pytest.raises(InvalidInputError):
            self._write(coll, [""], vecs[:1])
        assert coll.count() == len(AWKWARD_IDS)

    def test_payload_round_trip(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="cosine")
        payloads: list[dict[str, Any]] = [
            {},
            {"s": "héllo ✓ 日本", "i": -7, "f": 2.5, "b": True, "null": None},
            {"nested": {"deep": {"x": [1, 2, 3], "y": "z"}}, "list": ["a", "b"]},
            {"big": 2**53 + 1, "neg": -(2**31), "zero": 0.0, "empty_list": [], "e": {}},
        ]
        if self._caps(coll).exact_int_bits < 64:  # the largest int such a backend stores
            payloads[-1]["big"] = 2**53
        ids = [f"p{i}" for i in range(len(payloads))]
        self._write(coll, ids, _rand(len(ids), 4, 2), payloads)
        got = {r.id: dict(r.payload) for r in coll.get(ids)}
        assert got == dict(zip(ids, payloads))

    def test_non_json_payload_rejected(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4)
        vecs = _rand(2, 4, 3)
        for bad in [
            {"x": object()},
            {"x": float("nan")},
            {1: "int key"},
            {"x": {"y": float("inf")}},
        ]:
            with pytest.raises(InvalidInputError):
                self._write(coll, ["good", "bad"], vecs, [{"ok": 1}, bad])
        assert coll.count() == 0

    # -- writes ----------------------------------------------------------------------------

    def test_upsert_overwrite_is_idempotent(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="l2")
        v = _rand(3, 4, 4)
        recs = [Record(f"id{i}", v[i], {"v": 1}) for i in range(3)]
        coll.upsert(recs)
        coll.upsert(recs)
        assert coll.count() == 3
        coll.upsert([Record("id1", v[0] + 10, {"v": 2})])
        assert coll.count() == 3
        (r,) = coll.get(["id1"])
        assert r.payload == {"v": 2}
        assert r.vector is not None
        np.testing.assert_allclose(r.vector, v[0] + 10, rtol=1e-5)
        top = coll.query(v[0] + 10, k=1)[0]
        assert (top.id, top.payload) == ("id1", {"v": 2})
        assert coll.count(F("v") == 1) == 2

    def test_duplicate_ids_in_one_batch_last_wins(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4)
        v = _rand(2, 4, 5)
        coll.upsert([Record("a", v[0], {"n": 1}), Record("a", v[1], {"n": 2})])
        assert coll.count() == 1
        assert coll.get(["a"])[0].payload == {"n": 2}

    def test_get_missing_ids_are_absent(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4)
        ids, _, _ = self._fill(coll, 5, 4)
        got = coll.get(["missing", ids[3], "also-missing", ids[0]])
        assert [r.id for r in got] == [ids[3], ids[0]]
        assert all(r.vector is None for r in coll.get(ids, include_vectors=False))

    def test_delete_by_ids(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="dot")
        ids, vecs, _ = self._fill(coll, 10, 4)
        coll.delete(ids=[ids[0], ids[5], "not-there"])
        assert coll.count() == 8
        assert coll.get([ids[0], ids[5]]) == []
        assert ids[0] not in coll.query(vecs[0], k=10).ids
        coll.delete(ids=[])
        assert coll.count() == 8
        with pytest.raises(InvalidInputError):
            coll.delete()
        with pytest.raises(InvalidInputError):
            coll.delete(ids=["a"], filter=F("x") == 1)
        with pytest.raises(InvalidInputError):
            coll.delete(ids="r1")  # a lone str is a slip, not a list of one-char ids

    def test_delete_by_filter(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4)
        ids, vecs, pays = self._fill(coll, 60, 4)
        flt = (F("color") == "red") | (F("n") > 15)
        doomed = {i for i, p in zip(ids, pays) if matches(flt, p)}
        assert doomed
        coll.delete(filter=flt)
        assert coll.count() == 60 - len(doomed)
        assert coll.count(flt) == 0
        left = {r.id for r in coll.get(ids)}
        assert left == set(ids) - doomed
        hits = coll.query(vecs[0], k=60)
        assert not doomed & set(hits.ids)

    def test_count_with_and_without_filter(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4)
        _, _, pays = self._fill(coll, 80, 4)
        assert coll.count() == 80
        for flt in [F("color") == "red", F("n") >= 10, F("tags").isin(["a"]), ~F("flag").exists()]:
            if flt.ops() <= self._caps(coll).filter_ops:
                assert coll.count(flt) == sum(matches(flt, p) for p in pays), flt.explain()

    # -- scan ------------------------------------------------------------------------------

    @staticmethod
    def _scanned(coll: Any, page_size: int, **kw: Any) -> list[Record]:
        """Every record ``scan`` yields, checking each page's size on the way."""
        pages = list(coll.scan(page_size=page_size, **kw))
        assert all(1 <= len(page) <= page_size for page in pages)
        return [r for page in pages for r in page]

    def test_scan_returns_every_record_once(self, make: Callable[..., Any]) -> None:
        """Pages of 1, 7 and more than the collection hold each record once, as written; a scan
        after deletes lacks them; the parts left out come back empty; bad sizes raise first."""
        coll = make(dim=4, metric="cosine")
        assert list(coll.scan()) == []
        ids, vecs, pays = self._fill(coll, 12, 4, seed=41)
        for size in (1, 7, 100):
            got = self._scanned(coll, size)
            assert sorted(r.id for r in got) == sorted(ids)
            by_id = {r.id: r for r in got}
            for rid, vec, pay in zip(ids, vecs, pays):
                stored = by_id[rid].vector
                assert stored is not None
                np.testing.assert_allclose(stored, vec, rtol=1e-5, atol=1e-6)
                assert by_id[rid].payload == pay
        bare = self._scanned(coll, 5, include_vectors=False, include_payload=False)
        assert sorted(r.id for r in bare) == sorted(ids)
        assert all(r.vector is None and r.payload == {} for r in bare)
        coll.delete(ids=ids[::3])
        assert sorted(r.id for r in self._scanned(coll, 4)) == sorted(set(ids) - set(ids[::3]))
        for bad in (0, -1, True, 10_001, "7", 2.0):
            with pytest.raises(InvalidInputError):
                coll.scan(page_size=bad)

    def test_scan_under_concurrent_writes(self, make: Callable[..., Any]) -> None:
        """While other threads upsert and delete other ids between (and during) its pages, a
        scan returns every record that existed throughout exactly once, and nothing else."""
        coll = make(dim=4, metric="l2")
        stable, _, _ = self._fill(coll, 24, 4, seed=42)
        written: set[str] = set()
        go, done = threading.Semaphore(0), threading.Semaphore(0)
        stop = threading.Event()

        def churn(worker: int) -> None:
            """One upsert (ids sorting among the stable ones) and one delete per turn."""
            rng = np.random.default_rng(worker)
            n = 0
            while go.acquire(timeout=30) and not stop.is_set():
                new = [f"r{rng.integers(24)}-{worker}-{n}", f"c{worker}-{n}"]
                written.update(new)
                coll.upsert([Record(i, v) for i, v in zip(new, _rand(2, 4, n))])
                coll.delete(ids=[f"c{worker}-{n - 1}"])
                n += 1
                done.release()

        seen: list[str] = []
        with ThreadPoolExecutor(2) as pool:
            workers = [pool.submit(churn, w) for w in range(2)]
            try:
                for page in coll.scan(page_size=5, include_vectors=False):
                    seen.extend(r.id for r in page)
                    go.release(2)  # both write; one is done, the other may overlap the next page
                    assert done.acquire(timeout=30)
            finally:
                stop.set()
                go.release(2)
            for w in workers:
                w.result()
        assert len(seen) == len(set(seen)), "a record came back twice"
        assert set(stable) <= set(seen)
        assert set(seen) <= set(stable) | written

    # -- bad input -------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "bad",
        [
            pytest.param(lambda v: v[:, :3], id="short"),
            pytest.param(lambda v: np.hstack([v, v[:, :1]]), id="long"),
            pytest.param(lambda v: np.where(np.arange(len(v))[:, None] == 1, np.nan, v), id="nan"),
            pytest.param(lambda v: np.where(np.arange(len(v))[:, None] == 2, np.inf, v), id="inf"),
            pytest.param(lambda v: v * 1e39, id="overflow"),
        ],
    )
    def test_rejected_batch_writes_nothing(
        self, make: Callable[..., Any], bad: Callable[[Any], Any]
    ) -> None:
        coll = make(dim=4, metric="l2")
        self._fill(coll, 3, 4, seed=9)
        vecs = bad(_rand(4, 4, 10).astype(np.float64))
        with pytest.raises((DimensionMismatchError, InvalidVectorError)):
            self._write(coll, [f"n{i}" for i in range(4)], vecs)
        assert coll.count() == 3
        assert coll.get([f"n{i}" for i in range(4)]) == []

    def test_bad_records_and_queries(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="cosine")
        v = _rand(2, 4, 11)
        with pytest.raises(DimensionMismatchError):
            coll.upsert([Record("a", v[0]), Record("b", np.ones(5, np.float32))])
        with pytest.raises(InvalidVectorError):
            coll.upsert([Record("z", np.zeros(4, np.float32))])  # cosine of a zero vector
        with pytest.raises(InvalidInputError):
            coll.upsert([Record("a", None)])
        assert coll.count() == 0
        self._fill(coll, 3, 4)
        with pytest.raises(DimensionMismatchError):
            coll.query(np.ones(3, np.float32))
        with pytest.raises(InvalidVectorError):
            coll.query(np.array([np.nan, 1, 1, 1], np.float32))
        for k in (0, -1, 1.5, True):
            with pytest.raises(InvalidInputError):
                coll.query(v[0], k=k)
        with pytest.raises(InvalidInputError):
            coll.query(v[0], filter={"field": "x", "op": "regex", "value": "a"})
        with pytest.raises(InvalidInputError):
            coll.query(v[0], filter={"field": "x", "op": "in", "value": []})
        with pytest.raises(InvalidInputError):
            coll.count({"field": "x", "op": "lt", "value": "3"})

    def test_unsupported_filter_raises_before_io(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4)
        missing = OPS - self._caps(coll).filter_ops
        if not missing:
            pytest.skip("backend declares every filter operator")
        op = sorted(missing)[0]
        leaf: dict[str, Any] = {"field": "x", "op": "eq", "value": 1}
        flt: dict[str, Any]
        if op == "not":
            flt = {"not": leaf}
        elif op in ("and", "or"):
            flt = {op: [leaf, leaf]}
        else:
            value = [1] if op in ("in", "nin") else True if op == "exists" else 1
            flt = {"field": "x", "op": op, "value": value}
        with pytest.raises(FilterNotSupportedError):
            coll.query(np.ones(4, np.float32), filter=flt)

    # -- search ----------------------------------------------------------------------------

    @pytest.mark.parametrize("metric", METRICS)
    def test_scores_follow_the_contract(self, make: Callable[..., Any], metric: Metric) -> None:
        coll = make(dim=6, metric=metric)
        data = self._fill(coll, 50, 6, seed=12)
        q = _rand(1, 6, 13)[0]
        hits = coll.query(q, k=10)
        assert len(hits) == 10
        scores = hits.scores
        assert np.all(np.diff(scores) <= 1e-6), "scores must be best-first, higher is better"
        if self._caps(coll).exact:
            assert_hits_match(hits, *data, q, 10, metric)
        true = exact_scores(data[1], q, metric)
        row = {rid: i for i, rid in enumerate(data[0])}
        for h in hits:
            assert abs(h.score - true[row[h.id]]) < 1e-4
        if metric == "l2":
            assert all(h.score <= 0 for h in hits)
        if metric == "cosine":
            assert all(-1 - 1e-5 <= h.score <= 1 + 1e-5 for h in hits)
        assert not hits.partial
        assert hits.missing == []

    def test_self_query_ranks_first(self, make: Callable[..., Any]) -> None:
        for metric in ("cosine", "l2"):
            coll = make(dim=8, metric=metric)
            ids, vecs, _ = self._fill(coll, 40, 8, seed=14)
            top = coll.query(vecs[7], k=1)[0]
            assert top.id == ids[7]
            assert abs(top.score - (1.0 if metric == "cosine" else 0.0)) < 1e-4

    def test_k_larger_than_collection(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="l2")
        data = self._fill(coll, 7, 4, seed=15)
        q = _rand(1, 4, 16)[0]
        hits = coll.query(q, k=100)
        assert len(hits) == 7
        if self._caps(coll).exact:
            assert_hits_match(hits, *data, q, 100, "l2")
        flt = F("color") == "red"
        expect = sum(matches(flt, p) for p in data[2])
        assert len(coll.query(q, k=100, filter=flt)) == expect

    def test_query_batch_equals_single_queries(self, make: Callable[..., Any]) -> None:
        coll = make(dim=8, metric="dot")
        self._fill(coll, 100, 8, seed=17)
        qs = _rand(5, 8, 18)
        batch = coll.query_batch(qs, k=4, filter=F("n") >= 3)
        assert len(batch) == 5
        for q, hits in zip(qs, batch):
            single = coll.query(q, k=4, filter=F("n") >= 3)
            assert hits.ids == single.ids
            np.testing.assert_allclose(hits.scores, single.scores, atol=1e-5)
        assert coll.query_batch(np.zeros((0, 8), np.float32), k=3) == []

    def test_query_arrays_equals_query_batch(self, make: Callable[..., Any]) -> None:
        coll = make(dim=8, metric="l2")
        self._fill(coll, 30, 8, seed=21)
        qs = _rand(4, 8, 22)
        flt = F("n") >= 3
        ids, scores = coll.query_arrays(qs, k=40, filter=flt)  # k beyond the matches: padded
        assert ids.shape == scores.shape == (4, 40)
        assert scores.dtype == np.float32
        for row, hits in enumerate(coll.query_batch(qs, k=40, filter=flt)):
            assert list(ids[row, : len(hits)]) == hits.ids
            np.testing.assert_allclose(scores[row, : len(hits)], hits.scores, atol=1e-5)
            assert all(i is None for i in ids[row, len(hits) :])
            assert np.isnan(scores[row, len(hits) :]).all()
        empty = coll.query_arrays(np.zeros((0, 8), np.float32), k=3)
        assert empty.ids.shape == empty.scores.shape == (0, 3)

    def test_include_vectors_and_payload(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="cosine")
        _ids, vecs, pays = self._fill(coll, 10, 4, seed=19)
        hit = coll.query(vecs[2], k=1, include_vectors=True)[0]
        assert hit.vector is not None
        np.testing.assert_allclose(hit.vector, vecs[2], rtol=1e-5, atol=1e-6)
        assert hit.payload == pays[2]
        bare = coll.query(vecs[2], k=1, include_payload=False)[0]
        assert bare.vector is None
        assert bare.payload == {}

    def test_filter_semantics(self, make: Callable[..., Any]) -> None:
        """Strict types, absent fields, lists and nested paths behave as the oracle says."""
        coll = make(dim=4)
        pays: list[dict[str, Any]] = [
            {"v": 3}, {"v": "3"}, {"v": True}, {"v": 3.0}, {"v": 1}, {},
            {"v": None}, {"v": [3, 4]}, {"v": ["3"]}, {"v": []}, {"v": 2.5},
            {"m": {"v": 3}}, {"m": {"v": "x"}}, {"m": 5},
        ]  # fmt: skip
        ids = [f"s{i}" for i in range(len(pays))]
        self._write(coll, ids, _rand(len(pays), 4, 20), pays)
        cases = [
            F("v") == 3, F("v") == "3", F("v") == True, F("v") == 1, F("v") != 3,  # noqa: E712
            F("v").isin([3, "x"]), F("v").notin(["3"]), F("v") > 2, F("v") <= 3,
            F("v").exists(), ~F("v").exists(), F("m.v") == 3, F("m.v").exists(),
            (F("v") >= 1) & (F("v") < 3), (F("v") == "3") | (F("m.v") == "x"),
        ]  # fmt: skip
        supported = self._caps(coll).filter_ops
        checked = 0
        for flt in cases:
            if not flt.ops() <= supported:
                continue
            want = sorted(i for i, p in zip(ids, pays) if matches(flt, p))
            assert coll.count(flt) == len(want), flt.explain()
            got = sorted(coll.query(np.ones(4, np.float32), k=len(ids), filter=flt).ids)
            assert got == want, flt.explain()
            checked += 1
        assert checked >= 5, "too few filter operators to check the semantics"

    def test_filter_json_form_equals_builder(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4)
        _, vecs, _ = self._fill(coll, 30, 4, seed=21)
        built = (F("n") < 10) & (F("color") == "red")
        as_json = {
            "and": [
                {"field": "n", "op": "lt", "value": 10},
                {"field": "color", "op": "eq", "value": "red"},
            ]
        }
        assert (
            coll.query(vecs[0], k=30, filter=as_json).ids
            == coll.query(vecs[0], k=30, filter=built).ids
        )
        assert isinstance(coll.explain(built), str)

    # -- search params, score_threshold, query_by_id ---------------------------------------

    def test_search_params_are_checked_before_io(self, make: Callable[..., Any]) -> None:
        """Unknown keys, wrong types and params the backend cannot honour raise
        ``InvalidInputError`` naming them; an empty batch proves no hook ran first."""
        coll = make(dim=4, metric="l2")
        ids, vecs, pays = self._fill(coll, 30, 4, seed=40)
        honoured = self._caps(coll).honoured_params()
        empty = np.zeros((0, 4), np.float32)
        bad: list[tuple[Any, str]] = [
            ({"ef_search": 8}, "ef_search"), ({"ef": "abc"}, "'ef'"), ({"ef": 0}, "'ef'"),
            ({"ef": True}, "'ef'"), ({"exact": "yes"}, "'exact'"), (5, "params"),
        ]  # fmt: skip
        bad += [({name: 16 if name == "ef" else True}, name) for name in PARAM_NAMES - honoured]
        for params, named in bad:
            with pytest.raises(InvalidInputError, match=named):
                coll.query(vecs[0], k=3, params=params)
            with pytest.raises(InvalidInputError, match=named):
                coll.query_batch(empty, k=3, params=params)
        q = _rand(1, 4, 41)[0]
        for name in honoured:
            params = SearchParams(ef=64) if name == "ef" else {name: True}
            for flt in (None, F("n") >= 3):
                hits = coll.query(q, k=5, filter=flt, params=params)
                if name == "exact":  # the exact answer, whatever the index
                    assert_hits_match(hits, ids, vecs, pays, q, 5, "l2", flt)
                else:
                    self._check(coll, hits, (ids, vecs, pays), q, 5, flt)

    @pytest.mark.parametrize("metric", METRICS)
    def test_score_threshold_keeps_hits_at_least_that_good(
        self, make: Callable[..., Any], metric: Metric
    ) -> None:
        """The ``k`` best hits, then only those scoring >= the threshold: compared with the
        same query unthresholded and with the oracle (scores within ``THRESHOLD_TIE`` of the
        threshold may fall either way), with filters, ties and empty answers."""
        coll = make(dim=6, metric=metric)
        ids, vecs, pays = self._fill(coll, 60, 6, seed=42)
        q = _rand(1, 6, 43)[0]
        true = dict(zip(ids, exact_scores(vecs, q, metric)))
        for flt in (None, F("n") >= 3):
            full = coll.query(q, k=20, filter=flt)
            for tie in (0, 4, len(full) - 1):
                # A threshold equal to a hit's score: engines may recompute that score a few
                # ulps apart (Qdrant local mode does), so the hit may fall either side of it.
                t = full[tie].score
                got = coll.query(q, k=20, filter=flt, score_threshold=t)
                assert all(h.score >= t for h in got)
                assert np.all(np.diff(got.scores) <= 1e-6)
                kept = {h.id for h in full if h.score >= t + THRESHOLD_TIE}
                assert kept <= set(got.ids) <= {h.id for h in full if h.score >= t - THRESHOLD_TIE}
                surely = {h.id for h in full if true[h.id] >= t + THRESHOLD_TIE + SCORE_TOL}
                assert surely <= set(got.ids)
                assert all(true[i] >= t - THRESHOLD_TIE - SCORE_TOL for i in got.ids)
                if self._caps(coll).exact:
                    top = oracle_topk(ids, vecs, pays, q, 20, metric, flt)
                    assert {i for i, s in top if s >= t + SCORE_TOL} <= set(got.ids)
            batch = coll.query_batch(np.stack([q, vecs[0]]), k=20, filter=flt, score_threshold=t)
            assert kept <= set(batch[0].ids) <= {h.id for h in full if h.score >= t - THRESHOLD_TIE}
            arrays = coll.query_arrays(q[None, :], k=20, filter=flt, score_threshold=t)
            row = [i for i in arrays.ids[0] if i is not None]
            assert kept <= set(row) <= {h.id for h in full if h.score >= t - THRESHOLD_TIE}
            assert list(arrays.ids[0][: len(row)]) == row  # blanks only after the last hit
            assert np.all(np.isnan(arrays.scores[0][len(row) :]))
            assert all(h.score >= t for h in batch[1])
        above = {"cosine": 1.01, "l2": 1e-3, "dot": float(max(true.values())) + 1.0}[metric]
        nothing = coll.query(q, k=20, score_threshold=above)
        assert nothing == []
        assert not nothing.partial
        assert coll.query_batch(np.stack([q, q]), k=5, score_threshold=above) == [[], []]
        for wrong in ("0.5", float("nan"), float("inf"), True):
            with pytest.raises(InvalidInputError, match="score_threshold"):
                coll.query(q, k=3, score_threshold=wrong)

    @pytest.mark.parametrize("metric", METRICS)
    def test_query_by_id_is_more_like_this(self, make: Callable[..., Any], metric: Metric) -> None:
        """``query_by_id`` equals a query with the record's own vector, the record left out
        (unless ``include_self``); a missing id raises ``RecordNotFoundError``."""
        coll = make(dim=8, metric=metric)
        ids, vecs, pays = self._fill(coll, 40, 8, seed=44)
        others = [i for i in range(40) if i != 5]
        rest = ([ids[i] for i in others], vecs[others], [pays[i] for i in others])
        for flt in (None, F("n") >= 3):
            hits = coll.query_by_id(ids[5], k=6, filter=flt)
            assert ids[5] not in hits.ids
            self._check(coll, hits, rest, vecs[5], 6, flt)
        mine = coll.query_by_id(ids[5], k=6, include_self=True, include_vectors=True)
        if metric != "dot":  # under dot a longer vector may outscore the record itself
            assert mine[0].id == ids[5]
        assert all(h.vector is not None for h in mine)
        self._check(coll, mine, (ids, vecs, pays), vecs[5], 6, None)
        t = hits[2].score - THRESHOLD_TIE  # clear of the engine's rounding, not of hits[3]
        assert coll.query_by_id(ids[5], k=6, filter=flt, score_threshold=t).ids == hits.ids[:3]
        with pytest.raises(RecordNotFoundError, match="nope"):
            coll.query_by_id("nope", k=3)
        with pytest.raises(LookupError):
            coll.query_by_id("nope")
        with pytest.raises(InvalidInputError):
            coll.query_by_id("", k=3)
        with pytest.raises(InvalidInputError):
            coll.query_by_id(ids[0], k=0)

    @pytest.fixture(
        params=[(m, d) for m in METRICS for d in ("json", "declared")],
        ids=lambda p: "-".join(p),
    )
    def oracle_data(
        self, store: Any, make: Callable[..., Any], request: pytest.FixtureRequest
    ) -> tuple[Any, ...]:
        """One filled collection per metric, with and without the payload generator's fields
        declared, shared by every hypothesis example of a test."""
        metric, payloads = request.param
        kw: dict[str, Any] = {}
        if payloads == "declared":
            self._need_declared_fields(store)
            kw["fields"] = DECLARED_FIELDS
        coll = make(dim=16, metric=metric, **kw)
        return coll, self._fill(coll, 300, 16, seed=22)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_random_filters_match_oracle(
        self, oracle_data: tuple[Any, ...], data: st.DataObject
    ) -> None:
        """Random vectors and random filters: exact backends equal the oracle (ids and scores)."""
        coll, filled = oracle_data
        flt = data.draw(filters(self._caps(coll).filter_ops), label="filter")
        k = data.draw(st.integers(1, 40), label="k")
        seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
        q = _rand(1, 16, seed)[0]
        hits = coll.query(q, k=k, filter=flt)
        self._check(coll, hits, filled, q, k, flt)
        assert coll.count(flt) == sum(matches(flt, p) for p in filled[2])

    @pytest.mark.parametrize("share", [None, 0.2, 0.02])
    def test_recall(self, make: Callable[..., Any], share: float | None) -> None:
        """Recall@10 >= the floor, unfiltered and with broad and narrow filters."""
        n, dim = 2000, 32
        coll = make(dim=dim, metric="l2")
        rng = np.random.default_rng(23)
        centers = rng.normal(size=(20, dim))
        vecs = (centers[rng.integers(0, 20, n)] + rng.normal(scale=0.6, size=(n, dim))).astype(
            np.float32
        )
        ids = [f"v{i}" for i in range(n)]
        bucket = rng.random(n)
        pays = [{"b": round(float(b), 6)} for b in bucket]  # 6 digits: every engine reads them
        self._write(coll, ids, vecs, pays)
        flt = None if share is None else F("b") < share
        qs = (centers[rng.integers(0, 20, 40)] + rng.normal(scale=0.6, size=(40, dim))).astype(
            np.float32
        )
        got = [h.ids for h in coll.query_batch(qs, k=10, filter=flt)]
        truth = [[i for i, _ in oracle_topk(ids, vecs, pays, q, 10, "l2", flt)] for q in qs]
        floor = 1.0 if self._caps(coll).exact else self.recall_floor
        assert recall_at_k(got, truth) >= floor

    # -- declared fields: typed columns, same semantics -------------------------------------

    def test_declared_fields_keep_filter_semantics(
        self, store: Any, make: Callable[..., Any]
    ) -> None:
        """Absent fields, null, lists, bool vs number and 3 vs 3.0 on typed columns: the oracle's
        answers, as on undeclared fields."""
        self._need_declared_fields(store)
        declared = {"iv": "int", "fv": "float", "bv": "bool", "kv": "keyword", "lv": "int[]"}
        coll = make(dim=4, fields=declared)
        lo, hi = int_range(self._caps(coll).exact_int_bits)  # the ints this backend stores
        big = min(2**53 + 1, hi)
        pays: list[dict[str, Any]] = [
            {"iv": 3, "fv": 3, "bv": True, "kv": "3", "lv": [3, 4]},
            {"iv": big, "fv": 3.0, "bv": False, "kv": "x", "lv": []},
            {"iv": lo, "fv": 2.5, "lv": [big, 1]},
            {"iv": None, "fv": None, "bv": None, "kv": None, "lv": None},
            {}, {"iv": 1, "fv": 0.1, "kv": ""}, {"iv": hi, "fv": -0.0, "lv": [0]},
        ]  # fmt: skip
        ids = [f"d{i}" for i in range(len(pays))]
        self._write(coll, ids, _rand(len(pays), 4, 24), pays)
        cases = [
            F("iv") == 3, F("iv") == 3.0, F("iv") == True, F("iv") == "3", F("iv") != 3,  # noqa: E712
            F("iv") == big, F("iv") > 2**53, F("iv") < 2.5, F("iv") >= 2**63 - 1,
            F("iv").isin([1, 3.5, "x"]), F("iv").notin([3]), F("fv") == 3, F("fv") < 3,
            F("fv") == 0.1, F("fv") > 0, F("fv") >= big, F("bv") == True, F("bv") == 1,  # noqa: E712
            F("bv") != False, F("bv") > 0, F("kv") == "3", F("kv") == 3, F("kv") != "x",  # noqa: E712
            F("kv").exists(), F("kv").isin(["", "y"]), F("lv") == 3, F("lv") != 3, F("lv") > 2,
            F("lv") == big, F("lv").notin([0, 1]), F("lv").exists(), ~F("iv").exists(),
            ~((F("iv") > 1) & (F("kv") == "x")), (F("lv") < 1) | (F("fv") == 2.5),
        ]  # fmt: skip
        supported = self._caps(coll).filter_ops
        for flt in cases:
            if not flt.ops() <= supported:
                continue
            want = sorted(i for i, p in zip(ids, pays) if matches(flt, p))
            assert coll.count(flt) == len(want), flt.explain()
            got = sorted(coll.query(np.ones(4, np.float32), k=len(ids), filter=flt).ids)
            assert got == want, flt.explain()
        assert [r.payload for r in coll.get(ids)] == pays  # typed columns change no value

    @pytest.mark.parametrize(
        ("kind", "value"),
        [
            ("int", 3.0), ("int", True), ("int", "3"), ("float", True), ("float", 2**53 + 1),
            ("float", "1.5"), ("bool", 1), ("keyword", 3), ("int[]", 3), ("int[]", [1, None]),
            ("keyword[]", ["a", 1]), ("keyword", ["a"]),
        ],
    )  # fmt: skip
    def test_declared_field_types_are_enforced(
        self, store: Any, make: Callable[..., Any], kind: str, value: Any
    ) -> None:
        """A value of another type in a declared field rejects the whole batch, naming the
        record and the field; missing and null are always valid."""
        self._need_declared_fields(store)
        coll = make(dim=2, fields={"f": kind})
        ok = [{}, {"f": None}, {"other": "any type"}]
        with pytest.raises(InvalidInputError, match=r"payload #3.*'f'"):  # or not JSON here
            self._write(coll, ["a", "b", "c", "d"], _rand(4, 2, 25), [*ok, {"f": value}])
        assert coll.count() == 0
        self._write(coll, ["a", "b", "c"], _rand(3, 2, 25), ok)
        assert coll.count() == 3

    def test_declared_fields_belong_to_the_collection(
        self, store: Any, make: Callable[..., Any]
    ) -> None:
        """``exist_ok`` with other fields is a typed error, like another dim; a bad declaration
        raises before anything is created; a backend without the ability refuses it."""
        fields = {"label": "int", "tags": "keyword[]"}
        if not store.capabilities.declared_fields:
            with pytest.raises(InvalidInputError, match="declared fields"):
                make(dim=4, fields=fields)
            return
        coll = make(dim=4, fields=fields)
        same = store.create_collection(coll.name, 4, "cosine", exist_ok=True, fields=fields)
        assert handle_of(same) is handle_of(coll)
        for other in (None, {"label": "float", "tags": "keyword[]"}, {"label": "int"}):
            with pytest.raises(CollectionExistsError, match="fields"):
                store.create_collection(coll.name, 4, "cosine", exist_ok=True, fields=other)
        for bad in ({"label": "integer"}, {"a.b": "int"}, {"": "int"}, ["label"], {1: "int"}):
            with pytest.raises(InvalidInputError):
                make(dim=4, fields=bad)

    @pytest.fixture
    def adversarial(self, make: Callable[..., Any]) -> tuple[Any, list[str], list[dict[str, Any]]]:
        """A collection holding the adversarial payloads this backend admits."""
        coll = make(dim=4)
        caps = self._caps(coll)
        pays = adversarial_payloads(caps.exact_int_bits, caps.exact_floats)
        ids = [f"a{i}" for i in range(len(pays))]
        coll.upsert_arrays(ids, _rand(len(ids), 4, 5), pays)
        return coll, ids, pays

    def test_every_filter_leaf_matches_oracle(
        self, adversarial: tuple[Any, list[str], list[dict[str, Any]]]
    ) -> None:
        """Each operator on each field with each value, and its negation: strict types,
        whitespace and case in strings, lists, absent and nested fields, ints beyond 2**53."""
        coll, _, pays = adversarial
        ops = self._caps(coll).filter_ops
        leaves: list[Filter] = []
        for field in ADVERSARIAL_FIELDS:
            leaves.append(Cmp(field, "exists", True))
            leaves += [Cmp(field, op, v) for op in ("eq", "ne") for v in ADVERSARIAL_VALUES]
            leaves += [
                Cmp(field, op, v) for op in ("lt", "lte", "gt", "gte") for v in ADVERSARIAL_NUMBERS
            ]
            leaves += [Cmp(field, "in", (3, "x", 2**53 + 1)), Cmp(field, "nin", (True, "3", 2.5))]
        for leaf in leaves:
            for flt in (leaf, Not(leaf)):
                if flt.ops() <= ops:
                    want = sum(matches(flt, p) for p in pays)
                    assert coll.count(flt) == want, flt.explain()

    def test_random_filter_trees_match_oracle(
        self, adversarial: tuple[Any, list[str], list[dict[str, Any]]]
    ) -> None:
        """Seeded random trees over the adversarial payloads: counts and query results."""
        coll, ids, pays = adversarial
        ops = self._caps(coll).filter_ops
        rng = random.Random(20240501)
        q = np.ones(4, np.float32)
        for i in range(120):
            flt = random_filter(rng, ADVERSARIAL_FIELDS, ADVERSARIAL_VALUES, ADVERSARIAL_NUMBERS)
            if not flt.ops() <= ops:
                continue
            want = sorted(r for r, p in zip(ids, pays, strict=True) if matches(flt, p))
            assert coll.count(flt) == len(want), flt.explain()
            if i % 4 == 0:  # search too, less often: it is the slower call
                assert sorted(coll.query(q, k=len(ids), filter=flt).ids) == want, flt.explain()

    # -- numbers, payload values and inputs: exact, copied, bounded ---------------------------

    def test_integers_compare_exactly(self, make: Callable[..., Any]) -> None:
        """Ints beyond 2**53 and floats one ulp apart compare by exact value, as the oracle
        does; a backend that stores numbers as doubles refuses such ints instead, and one whose
        engine reads floats inexactly refuses the floats it would misread."""
        coll = make(dim=2)
        caps = self._caps(coll)
        bits = caps.exact_int_bits
        pays: list[dict[str, Any]] = [
            {"x": v}
            for v in EDGE_NUMBERS
            if isinstance(v, float) or int_range(bits)[1] >= abs(v)
            if caps.exact_floats or not isinstance(v, float) or float_reads_exactly(v)
        ]
        ids = [f"x{i}" for i in range(len(pays))]
        coll.upsert_arrays(ids, _rand(len(ids), 2, 30), pays)
        if bits < 64:
            with pytest.raises(InvalidInputError, match=r"payload #0 is not JSON: payload\['x'\]"):
                coll.upsert_arrays(["big"], _rand(1, 2, 31), [{"x": 2**53 + 1}])
        if not caps.exact_floats:
            with pytest.raises(InvalidInputError, match=r"payload #1 .*\['m'\]\[0\]"):
                coll.upsert_arrays(
                    ["ok", "ulp"], _rand(2, 2, 31), [{"x": 0.1}, {"m": [0.09999999999999999]}]
                )
            assert coll.get(["ok", "ulp"]) == []  # the whole batch refused
        big = 2**53 + 1
        cases = [
            F("x") == big, F("x") != big, F("x").isin([big]), F("x") >= big, F("x") < big,
            F("x") == 2**53, F("x") == float(2**53), F("x") > 2**53, F("x") <= float(2**53),
            F("x") == 2**63 - 1, F("x") > 2**62, F("x") < -(2**63) + 1, F("x") == 0.1,
            F("x") > 0.1, F("x").notin([3, 0.1]), F("x") == 7.5, F("x") >= 1e300,
        ]  # fmt: skip
        for flt in cases:
            if not flt.ops() <= self._caps(coll).filter_ops:
                continue
            want = sorted(i for i, p in zip(ids, pays) if matches(flt, p))
            assert coll.count(flt) == len(want), flt.explain()
            got = coll.query(np.ones(2, np.float32), k=len(ids), filter=flt).ids
            assert sorted(got) == want, flt.explain()

    def test_payloads_follow_the_json_model(self, make: Callable[..., Any]) -> None:
        """Values JSON has no type for are refused (naming record and path); tuples and numpy
        scalars are stored as the JSON value they stand for."""
        coll = make(dim=4)
        vecs = _rand(2, 4, 32)
        coll.upsert_arrays(
            ["ok"],
            vecs[:1],
            [{"t": (1, "a"), "n": np.int64(5), "f": np.float32(0.5), "b": np.bool_(True)}],
        )
        got = dict(coll.get(["ok"])[0].payload)
        assert got == {"t": [1, "a"], "n": 5, "f": 0.5, "b": True}
        assert [type(got[k]) for k in "tnfb"] == [list, int, float, bool]
        too_big = 2**63 if self._caps(coll).exact_int_bits >= 64 else 2**53 + 1
        for bad, path in [
            ({"d": datetime.datetime(2024, 1, 1)}, "['d']"),
            ({"u": [uuid.uuid4()]}, "['u'][0]"),
            ({"e": {"k": Metric_("cosine")}}, "['e']['k']"),
            ({"c": _Point(1, 2)}, "['c']"),
            ({"raw": b"x"}, "['raw']"),
            ({"s": {1, 2}}, "['s']"),
            ({"m": {1: "int key"}}, "['m']"),
            ({"f": [1.0, float("nan")]}, "['f'][1]"),
            ({"i": too_big}, "['i']"),
        ]:
            with pytest.raises(
                InvalidInputError, match=re.escape(f"payload #1 is not JSON: payload{path}")
            ):
                coll.upsert_arrays(["good", "bad"], vecs, [{"ok": 1}, bad])
        assert coll.count() == 1

    def test_payloads_are_copied_in_and_out(self, make: Callable[..., Any]) -> None:
        """Changing the caller's payload after a write, or a payload a read returned, changes
        neither the stored record nor which filters it matches."""
        coll = make(dim=4)
        vecs = _rand(2, 4, 33)
        original: dict[str, Any] = {"tags": ["a"], "m": {"k": 1}}
        given = copy.deepcopy(original)
        coll.upsert_arrays(["a"], vecs[:1], [given])
        record_payload = copy.deepcopy(original)
        coll.upsert([Record("b", vecs[1], record_payload)])
        for p in (given, record_payload):
            p["tags"].append("x")
            p["m"]["k"] = 2
        for rec in coll.get(["a", "b"]):
            assert rec.payload == original
            rec.payload["tags"].append("y")
            rec.payload["m"]["k"] = 3
        for hit in coll.query(vecs[0], k=2):
            assert hit.payload == original
            hit.payload["tags"].append("z")
            hit.payload["m"]["k"] = 4
        assert [r.payload for r in coll.get(["a", "b"])] == [original, original]
        assert coll.count(F("m.k") == 1) == 2
        if "in" in self._caps(coll).filter_ops:
            assert coll.count(F("tags").isin(["x", "y", "z"])) == 0

    def test_filter_depth_is_bounded(self, make: Callable[..., Any]) -> None:
        """A filter deeper than MAX_DEPTH raises InvalidInputError before I/O (no
        RecursionError); MAX_DEPTH itself works, and long chains of & stay flat."""
        coll = make(dim=4)
        _, vecs, pays = self._fill(coll, 20, 4, seed=34)
        leaf: dict[str, Any] = {"field": "n", "op": "gte", "value": 3}
        deep: dict[str, Any] = leaf
        for _ in range(300):
            deep = {"and": [leaf, deep]}
        with pytest.raises(InvalidInputError, match="deep"):
            coll.query(vecs[0], filter=deep)
        with pytest.raises(InvalidInputError, match="deep"):
            coll.count(deep)
        with pytest.raises(InvalidInputError, match="deep"):
            coll.delete(filter=deep)
        built: Filter = F("n") >= 3
        for _ in range(MAX_FILTER_DEPTH - 1):
            built = Not(built)
        with pytest.raises(InvalidInputError, match="deep"):
            Not(built)  # the builder refuses as well, at the first level too many
        assert coll.count() == 20
        at_limit: Filter = F("n") >= 3
        for _ in range(MAX_FILTER_DEPTH - 1):
            at_limit = And((F("n") < 100, at_limit))
        chain: Filter = F("n") >= 3
        for i in range(40):
            chain = chain & (F("n") != 1000 + i)
        for flt in (at_limit, chain):
            assert coll.count(flt) == sum(matches(flt, p) for p in pays)

    def test_cosine_norms_float32_cannot_square_are_refused(self, make: Callable[..., Any]) -> None:
        """[1e-30, 0] and [1e20, 1e20] would score NaN or come back as zeros: refused on write
        and query alike; norms inside the range score and round-trip correctly."""
        coll = make(dim=2, metric="cosine")
        for v in ([1e-30, 0.0], [1e20, 1e20]):
            vec = np.array(v, np.float32)
            with pytest.raises(InvalidVectorError):
                coll.upsert([Record("bad", vec)])
            with pytest.raises(InvalidVectorError):
                coll.query(vec)
        assert coll.count() == 0
        ok = np.array([[1e-15, 2e-15], [1e15, -1e15]], np.float32)
        coll.upsert_arrays(["small", "large"], ok)
        for rid, vec in zip(["small", "large"], ok):
            hit = coll.query(vec, k=1, include_vectors=True)[0]
            assert hit.id == rid
            assert abs(hit.score - 1.0) <= SCORE_TOL
            assert hit.vector is not None
            np.testing.assert_allclose(hit.vector, vec, rtol=1e-5)

    def test_malformed_vectors_raise_typed_errors(self, make: Callable[..., Any]) -> None:
        coll = make(dim=4, metric="l2")
        with pytest.raises(InvalidVectorError):
            Record("x", ["a", "b", "c", "d"])  # type: ignore[arg-type]
        with pytest.raises(InvalidVectorError):
            Record("x", [[1, 2], [3]])  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            coll.upsert(None)
        for bad in (
            [[1, 2, 3, 4], [1, 2]],
            np.ones((2, 4), np.complex64),
            np.array([[1, 2, 3, "4"], [1, 2, 3, 4]], dtype=object),
            None,
        ):
            with pytest.raises(InvalidVectorError):
                coll.upsert_arrays(["a", "b"], bad)
        with pytest.raises(InvalidVectorError):
            coll.query(np.ones(4, np.complex64))
        assert coll.count() == 0
