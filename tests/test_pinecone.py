"""Pinecone backend specifics: filter compilation, payload and id encoding, limits, batching,
partial failures, read-your-writes, score conversion per index metric, options and errors.

Everything runs the official ``pinecone`` client against the loopback test server in
``tests/servers/pinecone_server.py`` (a wire-level reimplementation of Pinecone's data plane);
edgevec's code is never mocked.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip(
    "pinecone", reason='Pinecone extra not installed: pip install "edgevec[pinecone]"'
)

from pinecone import Index  # after the skip guard
from pinecone.errors.exceptions import (
    ApiError,
    NotFoundError,
    PineconeConnectionError,
    PineconeTimeoutError,
    RateLimitError,
    ServiceError,
    UnauthorizedError,
)

import edgevec
from edgevec import F, Record
from edgevec.backends.pinecone import (
    CATALOG_NAMESPACE,
    PineconeOptions,
    PineconeStore,
    compile_filter,
    decode_metadata,
    encode_metadata,
    https_url,
    map_error,
    vector_id,
)
from edgevec.backends.pinecone.retries import client_retries_off, pause
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigError,
    FilterNotSupportedError,
    InvalidInputError,
    InvalidVectorError,
    PartialWriteError,
    StoreClosedError,
)
from edgevec.filters import Filter, as_filter
from edgevec.router.policy import is_retryable
from edgevec.testing.oracle import matches
from edgevec.types import CollectionSpec
from tests.servers.faultproxy import FaultProxy, Mode
from tests.servers.pinecone_server import IndexMetric, PineconeTestServer, matches_filter

SECRET = "pc-s3cr3t-api-key-value"  # noqa: S105  # a dummy key to look for in outputs
Vectors = npt.NDArray[np.float32]


def _rand(n: int, dim: int, seed: int) -> Vectors:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.fixture(scope="module")
def server() -> Iterator[PineconeTestServer]:
    with PineconeTestServer(dimension=12, metric="dotproduct", api_key=SECRET) as srv:
        yield srv


@pytest.fixture
def store(server: PineconeTestServer) -> Iterator[PineconeStore]:
    """A store on the module's server; every collection is dropped afterwards."""
    server.requests.clear()
    s = _connect(server, exact=True)
    with s:
        yield s
        for name in s.list_collections():
            s.drop_collection(name)
    assert server.stored(CATALOG_NAMESPACE) == {}


def _connect(server: PineconeTestServer, **options: Any) -> PineconeStore:
    store = edgevec.connect("pinecone", host=server.url, api_key=server.api_key, **options)
    assert isinstance(store, PineconeStore)
    return store


# --------------------------------------------------------------------------- filters


def _compiled(flt: Any) -> Any:
    return compile_filter(as_filter(flt))


def test_filter_compilation_shapes() -> None:
    assert _compiled(F("c") == "red") == {
        "$or": [{"c": {"$eq": "red"}}, {"~t.c": {"$in": ["s:red"]}}]
    }
    assert _compiled(F("n") == 3) == {"$or": [{"n": {"$eq": 3.0}}, {"~t.n": {"$in": ["n:3"]}}]}
    assert _compiled(F("b") == True) == {  # noqa: E712
        "$or": [{"b": {"$eq": True}}, {"~t.b": {"$in": ["b:true"]}}]
    }
    # Negations never rely on how Pinecone treats a missing field.
    assert _compiled(F("c") != "red") == {
        "$and": [
            {"$or": [{"c": {"$exists": False}}, {"c": {"$ne": "red"}}]},
            {"$or": [{"~t.c": {"$exists": False}}, {"~t.c": {"$nin": ["s:red"]}}]},
        ]
    }
    assert _compiled(F("n") < 2) == {"$or": [{"n": {"$lt": 2.0}}, {"~lo.n": {"$lt": 2.0}}]}
    assert _compiled(F("n") >= 2) == {"$or": [{"n": {"$gte": 2.0}}, {"~hi.n": {"$gte": 2.0}}]}
    assert _compiled(F("x").exists()) == {
        "$or": [{"x": {"$exists": True}}, {"~x.x": {"$exists": True}}]
    }
    # Mixed types split into one operator per kind; tags carry the strict spelling.
    mixed = _compiled(F("t").isin(["a", "b", 1, True]))
    assert {"t": {"$in": ["a", "b"]}} in mixed["$or"]
    assert {"t": {"$eq": 1.0}} in mixed["$or"]
    assert {"t": {"$eq": True}} in mixed["$or"]
    assert {"~t.t": {"$in": ["s:a", "s:b", "n:1", "b:true"]}} in mixed["$or"]
    # Dotted paths address nested payloads; unusual keys are escaped the way payloads are.
    assert _compiled(F("m.k") == 1)["$or"][0] == {"m.k": {"$eq": 1.0}}
    assert _compiled(F("~a.$b.c%d") == 1)["$or"][0] == {"%7Ea.%24b.c%25d": {"$eq": 1.0}}


def test_not_is_rewritten_by_de_morgan_and_operator_negation() -> None:
    assert _compiled(~(F("n") < 3)) == {
        "$or": [{"~n.n": {"$exists": False}}, {"n": {"$gte": 3.0}}, {"~lo.n": {"$gte": 3.0}}]
    }
    assert _compiled(~(F("n") > 3)) == {
        "$or": [{"~n.n": {"$exists": False}}, {"n": {"$lte": 3.0}}, {"~hi.n": {"$lte": 3.0}}]
    }
    assert _compiled(~F("x").exists()) == {
        "$and": [{"x": {"$exists": False}}, {"~x.x": {"$exists": False}}]
    }
    assert _compiled(~~(F("a") == "x")) == _compiled(F("a") == "x")
    assert _compiled(~(F("a") != "x")) == _compiled(F("a") == "x")
    assert _compiled(~F("a").notin(["x", "y"])) == _compiled(F("a").isin(["x", "y"]))
    both = _compiled(~((F("a") == "x") & (F("b") == "y")))
    assert both == {"$or": [_compiled(F("a") != "x"), _compiled(F("b") != "y")]}
    either = _compiled(~((F("a") == "x") | (F("b") == "y")))
    assert either["$and"] == [*_compiled(F("a") != "x")["$and"], *_compiled(F("b") != "y")["$and"]]


def test_big_integers_are_exact_in_equality_and_bounded_in_ranges() -> None:
    big = 2**53 + 1
    assert _compiled(F("n") == big) == {"~t.n": {"$in": [f"n:{big}"]}}  # no double equals it
    lt = _compiled(F("n") < big)["$or"][0]
    assert lt == {"n": {"$lte": float(2**53)}}  # x < 2**53+1  <=>  x <= 2**53 for doubles
    gt = _compiled(F("n") > big)["$or"][0]
    assert gt == {"n": {"$gte": float(2**53 + 2)}}


def test_too_many_values_is_refused_before_io(
    store: PineconeStore, server: PineconeTestServer
) -> None:
    coll = store.create_collection("many", 4, "dot")
    before = len(server.requests)
    flt = F("x").isin([str(i) for i in range(10_001)])
    for call in (lambda: coll.count(flt), lambda: coll.query(np.ones(4, np.float32), filter=flt)):
        with pytest.raises(FilterNotSupportedError, match="10000"):
            call()
    with pytest.raises(FilterNotSupportedError):
        coll.explain(flt)
    assert len(server.requests) == before


EDGE_PAYLOADS: list[dict[str, Any]] = [
    {"v": 3}, {"v": 3.0}, {"v": "3"}, {"v": True}, {"v": 1}, {"v": [2, 3]}, {"v": None},
    {"v": []}, {"v": [None]}, {"v": {"k": 1}}, {}, {"v": -(2**53)}, {"v": 2.0**53},
    {"v": ["a", "b"]}, {"v": ["a", 1, True]}, {"v": 1.5}, {"v": {}}, {"v": ""},
    {"m": {"v": 3}}, {"m": {"v": "x"}}, {"m": 5}, {"a b": {"ü": "yes"}}, {"v": [[1], {"k": 2}]},
]  # fmt: skip

EDGE_FILTERS: list[Filter] = [
    F("v") == 3, F("v") == 3.0, F("v") == "3", F("v") == True, F("v") == 1,  # noqa: E712
    F("v") == 2**53 + 1, F("v") == 2**53, F("v") == "a", F("v") == "",
    F("v").isin([1, True]), F("v").isin(["a", 2]), F("v").notin([3, "3"]), F("v").notin(["a"]),
    F("v") != 3, F("v") != "a", F("v") != True,  # noqa: E712
    F("v") > 2, F("v") <= 1.5, F("v") < 2**53, F("v") >= 2**53, F("v") > -1,
    F("v").exists(), ~F("v").exists(), F("m.v") == 3, F("m.v").exists(), F("m").exists(),
    F("a b.ü") == "yes", ~(F("v") < 2), ~(F("v") >= 3), ~(F("v").isin([3, "a"])),
    ~((F("v") > 1) & (F("m.v") != "x")), (F("v") == "3") | (F("m.v") == "x"),
]  # fmt: skip


def test_filters_on_the_server_equal_the_oracle(store: PineconeStore) -> None:
    """Awkward payloads (mixed lists, big ints, nulls, empty containers, nested objects): every
    filter, negations included, selects exactly what edgevec's reference semantics say."""
    coll = store.create_collection("edge", 2, "l2")
    ids = [f"p{i}" for i in range(len(EDGE_PAYLOADS))]
    coll.upsert_arrays(ids, _rand(len(ids), 2, 6), EDGE_PAYLOADS)
    for flt in EDGE_FILTERS:
        want = {i for i, p in zip(ids, EDGE_PAYLOADS, strict=True) if matches(flt, p)}
        got = set(coll.query(np.ones(2, np.float32), k=100, filter=flt).ids)
        assert got == want, flt.explain()
        assert coll.count(flt) == len(want), flt.explain()
    got_back = {r.id: dict(r.payload) for r in coll.get(ids)}
    assert got_back == dict(zip(ids, EDGE_PAYLOADS, strict=True))
    # Pinecone compares numbers as doubles: an int no double holds is refused when written,
    # since "< 2**53 + 1" would otherwise select a stored 2**53 + 1.
    with pytest.raises(InvalidInputError, match=r"payload #0 is not JSON: payload\['v'\]\[1\]"):
        coll.upsert_arrays(["big"], _rand(1, 2, 7), [{"v": [1, 2**53 + 1]}])
    assert coll.count() == len(ids)


def test_count_by_filter_is_measured_or_refused() -> None:
    """A server without ``fetch_by_metadata`` answers 404, as Pinecone does for an absent
    namespace. Read as "no records", count(filter) once said 0 and the caller's following
    delete(filter=...) removed 394 records: a 404 on a namespace that holds records is an error.
    """
    pays = [{"label": 9 if i % 3 else 1} for i in range(600)]
    want = sum(p["label"] == 9 for p in pays)
    with (
        PineconeTestServer(dimension=4, metric="dotproduct", metadata_endpoint=False) as bare,
        _connect(bare, read_your_writes=True) as s,
    ):
        coll = s.create_collection("labels", 4, "dot")
        assert coll.count(F("label") == 9) == 0  # no namespace yet: measured by the stats
        coll.upsert_arrays([f"r{i}" for i in range(600)], _rand(600, 4, 8), pays)
        with pytest.raises(BackendError, match="fetch_by_metadata"):
            coll.count(F("label") == 9)
        with pytest.raises(BackendError, match="fetch_by_metadata"):
            coll.delete(filter=F("label") == 9)  # it could not confirm it: nothing is deleted
        assert coll.count() == 600
    with PineconeTestServer(dimension=4, metric="dotproduct") as full, _connect(full) as s:
        coll = s.create_collection("labels", 4, "dot")
        coll.upsert_arrays([f"r{i}" for i in range(600)], _rand(600, 4, 8), pays)
        assert coll.count(F("label") == 9) == want == 400
        assert coll.count(F("label") == 7) == 0


def test_test_server_semantics_are_pinecones() -> None:
    """The rules the compiler is written against, as the test server implements them."""
    md = {"s": "x", "n": 3.0, "l": ["a", "b"], "b": True}
    assert matches_filter({"n": {"$eq": 3}}, md)
    assert not matches_filter({"b": {"$eq": 1}}, md)  # booleans are not numbers
    assert not matches_filter({"missing": {"$ne": "x"}}, md)  # $ne needs the field
    assert matches_filter({"l": "a"}, md)  # a list takes on each of its values
    assert not matches_filter({"l": {"$nin": ["a"]}}, md)
    assert not matches_filter({"s": {"$gt": 1}}, md)  # ranges compare numbers only


# ----------------------------------------------------------------- payloads and ids


AWKWARD_PAYLOAD: dict[str, Any] = {
    "a.b": 1, "a": {"b": 2, "c": {"d": [1, "x"]}}, "%25": "pct", "~t": "tilde", "$op": "dollar",
    "": "empty key", "ü ✓": {"": None}, "i": 7, "f": 7.0, "neg": -0.0, "l": ["s"], "e": [],
    "o": {}, "big": -(2**53), "nested": {"list": [{"k": 1}], "deep": {"deeper": {"x": True}}},
}  # fmt: skip


def test_key_encoding_round_trips_and_is_pinecone_legal() -> None:
    md = encode_metadata(AWKWARD_PAYLOAD)
    for key, value in md.items():  # what Pinecone accepts: no nesting, lists of strings only
        assert isinstance(value, str | bool | int | float) or (
            isinstance(value, list) and all(isinstance(e, str) for e in value)
        ), key
    assert md["a%2Eb"] == 1  # a key holding a dot is not a path
    assert md["a.b"] == 2
    assert md["~t.a.c.d"] == ["n:1", "s:x"]
    assert {"%7Et", "%24op", "%", "%2525"} <= set(md)
    # Pinecone hands numbers back as doubles: the side record restores the ints.
    as_read = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
               for k, v in md.items()}  # fmt: skip
    payload, side = decode_metadata(as_read)
    assert payload == AWKWARD_PAYLOAD
    assert type(payload["i"]) is int
    assert type(payload["f"]) is float
    assert "i" in side
    assert "x" in side


def test_stored_form_on_the_server(store: PineconeStore, server: PineconeTestServer) -> None:
    coll = store.create_collection("stored", 3, "cosine")
    vecs = _rand(3, 3, 1) * 4
    ids = ["plain-id", "ü/ 🙂", "é" * 256]
    coll.upsert_arrays(ids, vecs, [{"k": "v", "n": 2, "nested": {"x": [1, 2]}}] * 3)
    raw = server.stored("stored")
    assert set(raw) == {"plain-id", vector_id(ids[1]), vector_id(ids[2])}
    assert vector_id(ids[1]) == "~q:%C3%BC/ %F0%9F%99%82"  # printable ASCII stays readable
    assert vector_id(ids[2]) == "~h:" + hashlib.sha256(ids[2].encode()).hexdigest()
    assert vector_id("~x") == "~q:~x"  # a leading "~" marks encoded ids
    assert vector_id("a\x00b") == "~q:a%00b"
    md = raw["plain-id"]["metadata"]
    assert md["n"] == 2.0  # a double, as Pinecone keeps numbers
    assert md["~t.nested.x"] == ["n:1", "n:2"]
    assert (md["~lo.nested.x"], md["~hi.nested.x"]) == (1.0, 2.0)
    # cosine on a dotproduct index: unit vectors, padded to the index dimension
    values = np.asarray(raw["plain-id"]["values"])
    assert values.shape == (12,)
    assert abs(np.linalg.norm(values) - 1) < 1e-6
    got = coll.get(ids)
    assert [r.id for r in got] == ids
    for r, v in zip(got, vecs, strict=True):
        assert r.vector is not None
        np.testing.assert_allclose(r.vector, v, rtol=1e-5)
        assert r.payload == {"k": "v", "n": 2, "nested": {"x": [1, 2]}}
    top = coll.query(vecs[2], k=1)[0]
    assert top.id == ids[2]  # the hashed id comes back through the side record


def test_foreign_namespace_opens_with_the_index_metric(server: PineconeTestServer) -> None:
    raw = Index(host=server.url, api_key=server.api_key)
    try:
        raw.upsert(
            vectors=[{"id": "a", "values": [1.0] + [0.0] * 11, "metadata": {"g": "x", "y": 2}}],
            namespace="othertool",
        )
    finally:
        raw.close()
    with _connect(server) as s:
        assert "othertool" not in s.list_collections()
        coll = s.collection("othertool")
        assert (coll.dim, coll.metric) == (12, "dot")
        hit = coll.query(np.eye(12, dtype=np.float32)[0], k=1, filter=F("g") == "x")[0]
        assert (hit.id, dict(hit.payload)) == ("a", {"g": "x", "y": 2.0})
        with pytest.raises(CollectionNotFoundError):
            s.collection("nothing_here")


# -------------------------------------------------------------------------- limits


def test_size_limits_are_checked_before_any_request(
    store: PineconeStore, server: PineconeTestServer
) -> None:
    coll = store.create_collection("limits", 4, "dot")
    before = len(server.requests)
    with pytest.raises(InvalidInputError, match="40 KB"):
        coll.upsert([Record("ok", _rand(1, 4, 0)[0]), Record("big", _rand(1, 4, 1)[0],
                     {"blob": "x" * 41_000})])  # fmt: skip
    with pytest.raises(InvalidVectorError, match="all zeros"):
        coll.upsert([Record("z", np.zeros(4, np.float32))])  # Pinecone rejects zero vectors
    with pytest.raises(InvalidInputError, match="params"):
        coll.query(np.ones(4, np.float32), params={"ef": 1})
    assert len(server.requests) == before
    assert coll.count() == 0


def test_collection_shapes_the_index_cannot_hold(server: PineconeTestServer) -> None:
    with PineconeTestServer(dimension=8, metric="cosine") as cosine, _connect(cosine) as s:
        with pytest.raises(InvalidInputError, match="dotproduct"):
            s.create_collection("d", 4, "dot")
        with pytest.raises(InvalidInputError, match="dim=9"):
            s.create_collection("c", 9, "cosine")
        with pytest.raises(ConfigError, match="no options"):
            s.create_collection("c", 4, "cosine", hnsw_m=8)
        assert s.list_collections() == []
    with _connect(server) as s, pytest.raises(InvalidInputError, match="2 spare"):
        s.create_collection("l", 11, "l2")  # l2 on a 12-d dotproduct index: at most 10


def test_batches_split_by_count_and_bytes(store: PineconeStore, server: PineconeTestServer) -> None:
    coll = store.create_collection("batches", 4, "dot")
    n = 2_300
    ids = [f"id-{i:05d}" for i in range(n)]
    vecs = _rand(n, 4, 2)
    server.requests.clear()
    coll.upsert_arrays(ids, vecs, [{"i": i} for i in range(n)])
    upserts = server.calls("/vectors/upsert")
    assert [len(r.body["vectors"]) for r in upserts] == [1000, 1000, 300]
    # ~30 KB payloads: 2 MB holds about 60 of them per request
    server.requests.clear()
    coll.upsert_arrays(ids[:150], vecs[:150], [{"blob": "y" * 30_000}] * 150)
    sizes = [r.size for r in server.calls("/vectors/upsert")]
    assert len(sizes) == 3
    assert max(sizes) <= 2_000_000
    server.requests.clear()
    assert len(coll.get(ids)) == n
    fetches = server.calls("/vectors/fetch")
    assert len(fetches) >= 3
    assert max(len(r.query["ids"]) for r in fetches) <= 1000
    coll.delete(ids=ids[:2_100])
    assert [len(r.body["ids"]) for r in server.calls("/vectors/delete")] == [1000, 1000, 100]
    assert coll.count() == 200


def test_batch_size_option(server: PineconeTestServer) -> None:
    with _connect(server, batch_size=7) as s:
        coll = s.create_collection("small_batches", 4, "dot")
        assert coll.capabilities.max_batch == 7
        server.requests.clear()
        coll.upsert_arrays([str(i) for i in range(20)], _rand(20, 4, 3))
        assert [len(r.body["vectors"]) for r in server.calls("/vectors/upsert")] == [7, 7, 6]
        s.drop_collection("small_batches")


def test_partial_batch_failure_names_what_was_written(
    store: PineconeStore, server: PineconeTestServer
) -> None:
    coll = store.create_collection("partial", 4, "dot")
    ids = [f"r{i:04d}" for i in range(2_500)]
    server.fail_next("/vectors/upsert", 400, "simulated rejection")  # the first request
    with pytest.raises(BackendError, match="simulated") as first:
        coll.upsert_arrays(ids, _rand(2_500, 4, 4))
    assert not isinstance(first.value, PartialWriteError)  # nothing was written
    assert coll.count() == 0
    server.requests.clear()
    server.fail_next("/vectors/upsert", 400, "second request rejected", after=1)
    with pytest.raises(PartialWriteError, match="1000 of 2500") as info:
        coll.upsert_arrays(ids, _rand(2_500, 4, 5))
    err = info.value
    assert err.written == tuple(ids[:1000])
    assert set(err.failed) == set(ids[1000:])
    assert isinstance(err.__cause__, BackendError)
    assert isinstance(err.__cause__.__cause__, ApiError)
    assert len(server.calls("/vectors/upsert")) == 2  # the third request was never sent
    assert set(server.stored("partial")) == set(ids[:1000])


# ---------------------------------------------------------------- read-your-writes


def test_writes_are_eventually_visible_without_the_option() -> None:
    with (
        PineconeTestServer(dimension=4, metric="dotproduct", lag=0.5) as lagging,
        _connect(lagging) as s,
    ):
        coll = s.create_collection("lazy", 4, "dot")
        coll.upsert_arrays(["a", "b"], _rand(2, 4, 6))
        assert coll.count() == 0  # the lag is real: an acknowledged write is not visible yet


def test_read_your_writes_waits_for_queries_to_catch_up() -> None:
    with (
        PineconeTestServer(dimension=4, metric="dotproduct", lag=0.15) as lagging,
        _connect(lagging, read_your_writes=True) as s,
    ):
        coll = s.create_collection("eager", 4, "dot")
        assert "eager" in s.list_collections()
        vecs = _rand(3, 4, 7)
        coll.upsert_arrays(["a", "b", "c"], vecs, [{"g": 1}, {"g": 2}, {"g": 2}])
        assert coll.query(vecs[0], k=3).ids[0] == "a"  # visible at once
        probes = [r for r in lagging.calls("/query") if r.body["topK"] == 1]
        assert probes, "the wait compares log positions through a probe query"
        coll.delete(ids=["a"])
        assert coll.get(["a"]) == []
        coll.delete(filter=F("g") == 2)
        assert coll.count() == 0
        s.drop_collection("eager")
        assert "eager" not in s.list_collections()


def test_read_your_writes_without_log_positions_compares_records() -> None:
    with (
        PineconeTestServer(dimension=4, metric="euclidean", lag=0.1, lsn_headers=False) as srv,
        _connect(srv, read_your_writes=True) as s,
    ):
        coll = s.create_collection("nolsn", 4, "l2")
        coll.upsert_arrays(["a"], _rand(1, 4, 8), [{"v": 1}])
        assert coll.get(["a"])[0].payload == {"v": 1}
        coll.upsert_arrays(["a"], _rand(1, 4, 9), [{"v": 2}])  # an overwrite, not just an id
        assert coll.get(["a"])[0].payload == {"v": 2}


def test_read_your_writes_deadline() -> None:
    with (
        PineconeTestServer(dimension=4, metric="dotproduct", lag=30) as stuck,
        _connect(stuck, read_your_writes=True, consistency_timeout=0.3) as s,
        pytest.raises(BackendTimeoutError, match=r"not visible after 0\.3 s"),
    ):
        s.create_collection("never", 4, "dot")


# ------------------------------------------------------------------------- scores


@pytest.mark.parametrize(
    ("index_metric", "metric"),
    [
        ("cosine", "cosine"),
        ("dotproduct", "dot"),
        ("euclidean", "l2"),
        ("dotproduct", "cosine"),
        ("dotproduct", "l2"),
        ("euclidean", "cosine"),
    ],
)
def test_scores_equal_numpy(index_metric: IndexMetric, metric: str) -> None:
    x = _rand(30, 6, 10) * 3
    q = _rand(1, 6, 11)[0]
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    if metric == "dot":
        want = x64 @ q64
    elif metric == "cosine":
        want = x64 @ q64 / np.linalg.norm(x64, axis=1) / np.linalg.norm(q64)
    else:
        want = -np.linalg.norm(x64 - q64, axis=1)
    with PineconeTestServer(dimension=9, metric=index_metric) as srv, _connect(srv) as s:
        coll = s.create_collection("s", 6, metric)
        coll.upsert_arrays([str(i) for i in range(30)], x)
        hits = coll.query(q, k=30, include_vectors=True)
        assert hits.ids == [str(i) for i in np.argsort(-want, kind="stable")]
        np.testing.assert_allclose(hits.scores, np.sort(want)[::-1], atol=1e-5)
        for h in hits:
            assert h.vector is not None
            np.testing.assert_allclose(h.vector, x[int(h.id)], rtol=1e-5, atol=1e-6)


def test_euclidean_raw_score_is_the_squared_distance() -> None:
    """The documented fact behind the l2 conversion, as the test server serves it: Pinecone's
    euclidean score is ‖a-b‖² (lower is better), so edgevec's score is -sqrt(raw)."""
    with PineconeTestServer(dimension=3, metric="euclidean") as srv:
        raw = Index(host=srv.url, api_key=srv.api_key)
        try:
            raw.upsert(vectors=[{"id": "a", "values": [1.0, 2.0, 2.0]}], namespace="e")
            (match,) = raw.query(vector=[0.0, 0.0, 0.0], top_k=1, namespace="e").matches
        finally:
            raw.close()
        assert match.score == pytest.approx(9.0)  # ‖a‖ = 3
        with _connect(srv) as s:
            assert s.collection("e").query(np.zeros(3, np.float32), k=1)[0].score == -3.0


# ------------------------------------------------------------------------ options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of host"),
        ({"host": "https://a.svc.pinecone.io", "index": "x"}, "exactly one of host"),
        ({"host": "http://a.svc.pinecone.io"}, "plain http"),
        ({"host": "ftp://a"}, "host must look like"),
        ({"host": "a.svc.pinecone.io", "controller_host": "https://c"}, "only applies with index"),
        ({"index": "x", "controller_host": "http://api.pinecone.io"}, "plain http"),
        ({"host": "a.svc.pinecone.io", "metric": "manhattan"}, "metric"),
        ({"host": "a.svc.pinecone.io", "namespace_prefix": "ü"}, "namespace_prefix"),
        ({"host": "a.svc.pinecone.io", "batch_size": 1001}, "batch_size"),
        ({"host": "a.svc.pinecone.io", "retries": -1}, "retries"),
        ({"host": "a.svc.pinecone.io", "nope": 1}, "unknown option 'nope'"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        edgevec.connect("pinecone", api_key=SECRET, **options)
    assert SECRET not in str(info.value)


def test_option_defaults_and_aliases() -> None:
    opts = PineconeOptions.model_validate(
        {"api_key": SECRET, "host": "a.svc.pinecone.io", "metric": "l2"}
    )
    assert opts.metric == "euclidean"
    assert (opts.timeout, opts.retries, opts.batch_size, opts.exact, opts.read_your_writes) == (
        10.0, 1, 1000, False, False,
    )  # fmt: skip
    assert https_url("a.svc.pinecone.io") == "https://a.svc.pinecone.io"
    assert https_url("http://localhost:5080/") == "http://localhost:5080"
    assert https_url("http://[::1]:5080") == "http://[::1]:5080"


def test_metric_from_the_option_when_the_index_does_not_say() -> None:
    with PineconeTestServer(dimension=4, metric="euclidean", report_metric=False) as srv:
        with _connect(srv) as s, pytest.raises(ConfigError, match="pass metric="):
            s.create_collection("m", 4, "l2")
        with _connect(srv, metric="l2") as s:
            assert s.create_collection("m", 4, "l2").metric == "l2"
    with (
        PineconeTestServer(dimension=4, metric="cosine") as srv,
        _connect(srv, metric="dotproduct") as s,
        pytest.raises(ConfigError, match="contradicts"),
    ):
        s.create_collection("m", 4, "cosine")


def test_index_name_resolves_through_the_control_plane() -> None:
    with PineconeTestServer(dimension=5, metric="euclidean", report_metric=False) as srv:
        options = {"index": srv.name, "controller_host": srv.url, "api_key": srv.api_key}
        with edgevec.connect("pinecone", **options) as s:
            coll = s.create_collection("named", 5, "cosine")  # metric read from the description
            coll.upsert_arrays(["a"], _rand(1, 5, 12))
            assert coll.count() == 1

        async def main() -> int:
            async with edgevec.connect_async("pinecone", **options) as a:
                acoll = await a.collection("named")
                return await acoll.count()

        assert asyncio.run(main()) == 1
        with pytest.raises(CollectionNotFoundError):
            edgevec.connect("pinecone", **{**options, "index": "missing-index"})


async def test_async_store_is_native(server: PineconeTestServer) -> None:
    async with edgevec.connect_async("pinecone", host=server.url, api_key=SECRET) as s:
        coll = await s.create_collection("native_async", 4, "l2", exist_ok=True)
        assert coll.capabilities.native_async
        assert type(s).__name__ == "AsyncPineconeStore"
        await coll.upsert_arrays(["a", "b"], _rand(2, 4, 13), [{"k": 1}, {"k": 2}])
        assert (await coll.query(np.zeros(4, np.float32), k=5, filter=F("k") > 1)).ids == ["b"]
        await s.drop_collection("native_async")


def test_import_edgevec_does_not_import_pinecone() -> None:
    code = "import sys, edgevec; sys.exit('pinecone' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ------------------------------------------------------------------------- errors


def test_wrong_api_key_maps_and_chains(server: PineconeTestServer) -> None:
    wrong = "pc-wrong-key-000"
    with (
        edgevec.connect("pinecone", host=server.url, api_key=wrong) as s,
        pytest.raises(AuthenticationError) as info,
    ):
        s.list_collections()
    assert isinstance(info.value.__cause__, UnauthorizedError)
    assert wrong not in str(info.value)
    assert wrong not in repr(s)
    assert not server.requests[-1].key_ok


def test_not_found_timeout_and_unreachable(server: PineconeTestServer) -> None:
    with _connect(server) as s:
        coll = s.create_collection("errs", 4, "dot")
        server.fail_next("/query", 404, "no such index")
        with pytest.raises(CollectionNotFoundError) as nf:
            coll.query(np.ones(4, np.float32))
        assert isinstance(nf.value.__cause__, NotFoundError)
        coll.delete(ids=["never-written"])  # a 404 for an absent namespace is not an error
        s.drop_collection("errs")
    with _connect(server, timeout=0.1) as s:
        server.delay = 0.3
        try:
            with pytest.raises(BackendTimeoutError) as to:
                s.list_collections()
        finally:
            server.delay = 0.0
        assert isinstance(to.value.__cause__, PineconeTimeoutError)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with edgevec.connect("pinecone", host=f"http://127.0.0.1:{port}", api_key=SECRET) as s:
        with pytest.raises(BackendUnavailableError) as un:
            s.list_collections()
        assert isinstance(un.value.__cause__, PineconeConnectionError)
        assert SECRET not in str(un.value)


async def test_async_query_batch_runs_concurrently_within_one_deadline(
    server: PineconeTestServer,
) -> None:
    """Per-vector queries go out together; one slow query times the whole call out at the
    deadline instead of the batch taking the sum of its requests."""
    async with edgevec.connect_async("pinecone", host=server.url, api_key=SECRET) as s:
        coll = await s.create_collection("afan", 4, "dot")
        await coll.upsert([Record("a", np.ones(4, np.float32))])
        server.delay, server.peak = 0.1, 0
        try:
            start = time.monotonic()
            hits = await coll.query_batch(np.ones((24, 4), np.float32), k=1)  # 2.4 s in sequence
            assert time.monotonic() - start < 1.5
            assert [h.ids for h in hits] == [["a"]] * 24
            assert server.peak >= 8  # one at a time would be 1
            server.delay = 0.0
            server.slow_next(2.0)
            start = time.monotonic()
            with edgevec.deadline(0.5), pytest.raises(BackendTimeoutError, match="deadline"):
                await coll.query_batch(np.ones((6, 4), np.float32), k=1)
            assert 0.45 < time.monotonic() - start < 1.2
        finally:
            server.delay = 0.0
        await s.drop_collection("afan")


def test_sync_query_batch_sends_requests_on_threads(server: PineconeTestServer) -> None:
    with _connect(server) as s:
        coll = s.create_collection("fan", 4, "dot")
        coll.upsert([Record("a", np.ones(4, np.float32))])
        server.delay, server.peak = 0.1, 0
        try:
            start = time.monotonic()
            hits = coll.query_batch(np.ones((16, 4), np.float32), k=1)  # 1.6 s in sequence
            assert time.monotonic() - start < 1.2
            assert [h.ids for h in hits] == [["a"]] * 16
            assert server.peak >= 4
        finally:
            server.delay = 0.0
        s.drop_collection("fan")


def test_error_mapping_table() -> None:
    cases: list[tuple[BaseException, type[Exception]]] = [
        (RateLimitError("slow down", 429), BackendUnavailableError),
        (ServiceError("down", 503), BackendUnavailableError),
        (ServiceError("gateway timeout", 504), BackendTimeoutError),
        (ServiceError("boom", 500), BackendError),
        (ApiError("bad request", 400), BackendError),
        (PineconeTimeoutError("slow"), BackendTimeoutError),
        (PineconeConnectionError("refused"), BackendUnavailableError),
        (RuntimeError("client has been closed"), BackendUnavailableError),
    ]
    statuses = [429, 503, 504, 500, 400, None, None, None]
    for (exc, kind), status in zip(cases, statuses, strict=True):
        mapped = map_error(exc, "do it")
        assert type(mapped) is kind, (exc, mapped)
        assert mapped.status == status, (exc, mapped)  # type: ignore[attr-defined]
    # The router fails over on all but the 400: the 500 is retryable by its status.
    retryable = [is_retryable(map_error(exc, "do it")) for exc, _ in cases]  # type: ignore[arg-type]
    assert retryable == [True, True, True, True, False, True, True, True]
    assert map_error(KeyError("x"), "do it") is None


# ------------------------------------------------------------------------ retries

FAULT_DEADLINE = 0.2
FAULT_BOUND = 0.3
"""How soon a call under a 0.2 s deadline must raise when its endpoint refuses or resets
connections (generous for a loaded CI machine; the client's own retries took 1 to 4 s)."""


@pytest.fixture
def proxy(server: PineconeTestServer) -> Iterator[FaultProxy]:
    with FaultProxy(int(server.url.rsplit(":", 1)[1])) as p:
        yield p


def _faulty(server: PineconeTestServer, proxy: FaultProxy, fault: Mode) -> list[float]:
    """Seconds each of 5 queries through ``proxy`` took to fail once it refuses or resets."""
    with edgevec.connect("pinecone", host=proxy.url, api_key=server.api_key) as s:
        coll = s.create_collection(f"fault_{fault}", 4, "dot", exist_ok=True)
        proxy.set(fault)
        tried = proxy.connections
        took = []
        for _ in range(5):
            start = time.perf_counter()
            with edgevec.deadline(FAULT_DEADLINE), pytest.raises(BackendUnavailableError) as info:
                coll.query(np.ones(4, np.float32), k=1)
            took.append(time.perf_counter() - start)
            assert isinstance(info.value.__cause__, PineconeConnectionError)
            assert info.value.status is None  # no HTTP answer
        # One connection per call: the client no longer repeats it ("down" accepts none).
        assert proxy.connections - tried == (5 if fault == "reset" else 0)
        proxy.set("up")
        assert coll.query(np.ones(4, np.float32), k=1).ids == []
        s.drop_collection(f"fault_{fault}")
    return took


@pytest.mark.parametrize("fault", ["down", "reset"])
def test_refused_or_reset_endpoint_fails_at_once(
    server: PineconeTestServer, proxy: FaultProxy, fault: Mode
) -> None:
    assert max(_faulty(server, proxy, fault)) < FAULT_BOUND


@pytest.mark.parametrize("fault", ["down", "reset"])
async def test_async_refused_or_reset_endpoint_fails_at_once(
    server: PineconeTestServer, proxy: FaultProxy, fault: Mode
) -> None:
    """The async driver cancels a call at its deadline, so under a 0.2 s deadline a loop
    stalled by a loaded machine could turn the failure into a timeout: a 1 s deadline keeps the
    error's type to the connection's, and 0.3 s is still far below the client's own retries
    (0.75 s of backoff at least)."""
    options = {"host": proxy.url, "api_key": server.api_key}
    async with edgevec.connect_async("pinecone", **options) as s:
        coll = await s.create_collection(f"afault_{fault}", 4, "dot", exist_ok=True)
        proxy.set(fault)
        for _ in range(5):
            start = time.perf_counter()
            with edgevec.deadline(1.0), pytest.raises(BackendUnavailableError) as info:
                await coll.query(np.ones(4, np.float32), k=1)
            assert time.perf_counter() - start < FAULT_BOUND
            assert isinstance(info.value.__cause__, PineconeConnectionError)
        proxy.set("up")
        await s.drop_collection(f"afault_{fault}")


def test_busy_answers_are_retried_within_the_deadline(server: PineconeTestServer) -> None:
    q = np.ones(4, np.float32)
    for retries, status in ((None, 503), (2, 429)):  # None: the default, 1 retry
        with _connect(server, **({} if retries is None else {"retries": retries})) as s:
            coll = s.create_collection("busy", 4, "dot", exist_ok=True)
            coll.upsert([Record("a", q)])
            for _ in range(retries or 1):
                server.fail_next("/query", status)
            before = len(server.calls("/query"))
            assert coll.query(q, k=1).ids == ["a"]
            assert len(server.calls("/query")) - before == (retries or 1) + 1
    with _connect(server, retries=0) as s:
        coll = s.collection("busy")
        server.fail_next("/query", 503)
        before = len(server.calls("/query"))
        with pytest.raises(BackendUnavailableError) as info:
            coll.query(q, k=1)
        assert (info.value.status, len(server.calls("/query")) - before) == (503, 1)
        s.drop_collection("busy")


def test_endless_busy_answers_end_at_the_deadline(
    server: PineconeTestServer, proxy: FaultProxy
) -> None:
    with edgevec.connect("pinecone", host=proxy.url, api_key=server.api_key, retries=10) as s:
        coll = s.create_collection("endless", 4, "dot", exist_ok=True)
        proxy.set("status", status=503)
        start = time.perf_counter()
        with edgevec.deadline(FAULT_DEADLINE), pytest.raises(BackendUnavailableError) as info:
            coll.query(np.ones(4, np.float32), k=1)
        assert time.perf_counter() - start < FAULT_BOUND
        assert info.value.status == 503
        assert 2 <= proxy.answered <= 11  # retried, but only while the backoff fit
        proxy.set("up")
        s.drop_collection("endless")


def test_a_client_whose_retries_cannot_be_switched_off_is_refused() -> None:
    """Another ``pinecone`` release could move the retry policy: the store then refuses to
    open instead of leaving the client retrying outside the deadline."""
    with pytest.raises(ConfigError, match="retries off"):
        client_retries_off(cast(Index, object()))


def test_a_retry_that_cannot_finish_in_time_is_not_started() -> None:
    asked = RateLimitError("slow down", retry_after=1.0)
    busy = ServiceError("unavailable", 503)
    assert pause(busy, 0, 2) is None  # outside any deadline: nothing bounds a retry
    with edgevec.deadline(5.0):
        assert pause(asked, 0, 2) == 1.0  # the server's Retry-After
        assert pause(asked, 2, 2) is None  # no retries left
        delay = pause(busy, 1, 2)
        assert delay is not None
        assert 0.0 <= delay <= 0.1
        for never in (
            ApiError("bad request", 400),
            PineconeConnectionError("refused"),
            PineconeTimeoutError("slow"),
        ):
            assert pause(never, 0, 2) is None
    with edgevec.deadline(0.5):
        assert pause(asked, 0, 2) is None  # would end past the deadline


def test_closed_store_refuses_calls(server: PineconeTestServer) -> None:
    s = _connect(server)
    s.close()
    with pytest.raises(StoreClosedError):
        s.list_collections()


def test_secrets_stay_out_of_repr_and_errors(server: PineconeTestServer) -> None:
    server.requests.clear()
    with _connect(server) as s:
        s.list_collections()
        assert SECRET not in repr(s)
        assert SECRET not in repr(s.options)
        assert "**********" in repr(s.options)
    astore = edgevec.connect_async("pinecone", host="a.svc.pinecone.io", api_key=SECRET)
    assert SECRET not in repr(astore)
    with pytest.raises(ConfigError) as info:
        edgevec.connect("pinecone", host="a.svc.pinecone.io", api_key=SECRET, timeout=0)
    assert SECRET not in str(info.value)
    (sent,) = server.requests  # the key travelled in the Api-Key header, with the API version
    assert sent.key_ok
    assert sent.api_version == "2026-07"


def test_catalog_keeps_dimension_metric_and_fingerprint(server: PineconeTestServer) -> None:
    with _connect(server) as s:
        assert isinstance(s, PineconeStore)
        s._create(CollectionSpec("fp", 6, "l2", {}, "model:abc123:6"))  # as an embedder would
        assert "fp" in s.list_collections()
    with _connect(server) as again:
        coll = again.collection("fp")
        assert (coll.dim, coll.metric, coll.spec.fingerprint) == (6, "l2", "model:abc123:6")
        again.drop_collection("fp")
        assert not again.has_collection("fp")
