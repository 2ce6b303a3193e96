"""Qdrant backend specifics: id mapping, score conversion, filter compilation, options, errors.

Search behaviour runs on Qdrant's own local mode (the real engine). Wire-level behaviour (batches,
``wait=true``, the API key header, HTTP and gRPC error statuses) runs against small loopback
servers in this file that answer the way a Qdrant server does; edgevec's code is never mocked.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from pydantic import SecretStr

pytest.importorskip(
    "qdrant_client", reason='Qdrant extra not installed: pip install "edgevec[qdrant]"'
)

from qdrant_client import QdrantClient, models  # after the skip guard

import edgevec
from edgevec import F, Record
from edgevec.backends.qdrant import (
    ID_NAMESPACE,
    RESERVED_KEY,
    QdrantOptions,
    QdrantStore,
    client_kwargs,
    compile_filter,
    point_id,
    server_url,
)
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigError,
    FilterNotSupportedError,
    InvalidInputError,
    StoreClosedError,
)
from edgevec.filters import as_filter
from edgevec.router.policy import is_retryable
from tests.servers.faultproxy import FaultProxy

SECRET = "s3cr3t-api-key-value"  # noqa: S105  # a dummy key to look for in outputs


def _rand(n: int, dim: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.fixture
def store() -> Iterator[QdrantStore]:
    with edgevec.connect("qdrant") as s:
        assert isinstance(s, QdrantStore)
        yield s


# ------------------------------------------------------------------------------- ids


def test_point_ids_are_uuid5_in_one_fixed_namespace() -> None:
    assert point_id("sku-1") == str(uuid.uuid5(ID_NAMESPACE, "sku-1"))
    assert point_id("sku-1") == point_id("sku-1")
    assert point_id("1") != point_id("01")
    assert str(ID_NAMESPACE) == "6f1c3f9e-5d2a-5b8e-9a47-2c0e8d1b7a35"  # never changes


def test_stored_points_carry_uuid_and_original_id(tmp_path: Path) -> None:
    """What lands in Qdrant: uuid5 point ids, the id and norm under the reserved key, and
    unit-length vectors for cosine; edgevec hands back the caller's id and vector."""
    path = str(tmp_path / "q")
    ids = ["ü/ 🙂", "1", "x" * 512]
    vecs = _rand(3, 4, 0) * 5
    with edgevec.connect("qdrant", path=path) as s:
        coll = s.create_collection("items", 4, "cosine")
        coll.upsert_arrays(ids, vecs, [{"n": i} for i in range(3)])
        got = coll.get(ids)
        assert [r.id for r in got] == ids
        assert [dict(r.payload) for r in got] == [{"n": i} for i in range(3)]
        for r, v in zip(got, vecs, strict=True):
            assert r.vector is not None
            np.testing.assert_allclose(r.vector, v, rtol=1e-6)
    raw = QdrantClient(path=path)
    try:
        points = raw.retrieve("items", [point_id(i) for i in ids], with_vectors=True)
    finally:
        raw.close()
    by_id = {str(p.id): p for p in points}
    for i, v in zip(ids, vecs, strict=True):
        p = by_id[point_id(i)]
        assert p.payload is not None
        assert p.payload[RESERVED_KEY]["id"] == i
        assert p.payload[RESERVED_KEY]["norm"] == pytest.approx(float(np.linalg.norm(v)))
        assert isinstance(p.vector, list)
        # Reopened local mode returns the vector as written, a server the unit vector: edgevec
        # rescales to the stored norm, so only the direction matters here.
        raw_vec = np.asarray(p.vector)
        np.testing.assert_allclose(
            raw_vec / np.linalg.norm(raw_vec), v / np.linalg.norm(v), rtol=1e-5
        )


def test_reserved_key_is_rejected_before_any_write() -> None:
    with edgevec.connect("qdrant", batch_size=2) as s:
        coll = s.create_collection("c", 2, "dot")
        assert coll.capabilities.max_batch == 2
        pays: list[dict[str, Any]] = [{}, {}, {}, {RESERVED_KEY: 1}]
        with pytest.raises(InvalidInputError, match=RESERVED_KEY):
            coll.upsert_arrays(["a", "b", "c", "d"], _rand(4, 2, 1), pays)
        assert coll.count() == 0  # not even the first chunk was sent
        coll.upsert_arrays([f"r{i}" for i in range(5)], _rand(5, 2, 2))  # 3 requests
        assert coll.count() == 5


# ---------------------------------------------------------------------------- scores


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_scores_equal_numpy(store: QdrantStore, metric: str) -> None:
    x = _rand(30, 8, 3)
    q = _rand(1, 8, 4)[0]
    coll = store.create_collection(f"s_{metric}", 8, metric)
    coll.upsert_arrays([str(i) for i in range(30)], x)
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    if metric == "dot":
        want = x64 @ q64
    elif metric == "cosine":
        want = x64 @ q64 / np.linalg.norm(x64, axis=1) / np.linalg.norm(q64)
    else:
        want = -np.linalg.norm(x64 - q64, axis=1)
    hits = coll.query(q, k=30)
    assert hits.ids == [str(i) for i in np.argsort(-want, kind="stable")]
    np.testing.assert_allclose(hits.scores, np.sort(want)[::-1], atol=1e-5)


def test_qdrant_reports_euclid_as_positive_unsquared_distance(tmp_path: Path) -> None:
    """The measured fact behind the l2 conversion: Qdrant's raw Euclid score is +‖a-b‖."""
    path = str(tmp_path / "q")
    a = np.array([1.0, 2.0, 2.0], np.float32)
    with edgevec.connect("qdrant", path=path) as s:
        coll = s.create_collection("e", 3, "l2")
        coll.upsert([Record("a", a)])
        assert coll.query(np.zeros(3, np.float32), k=1)[0].score == pytest.approx(-3.0)
    raw = QdrantClient(path=path)
    try:
        (p,) = raw.query_points("e", query=[0.0, 0.0, 0.0], limit=1).points
    finally:
        raw.close()
    assert p.score == pytest.approx(3.0)  # ‖a‖ = 3, not 9 and not -3


def test_include_vectors_returns_originals_for_cosine(store: QdrantStore) -> None:
    coll = store.create_collection("v", 4, "cosine")
    vecs = _rand(5, 4, 5) * 3
    coll.upsert_arrays(list("abcde"), vecs)
    hit = coll.query(vecs[1], k=1, include_vectors=True, include_payload=False)[0]
    assert hit.id == "b"
    assert hit.payload == {}
    assert hit.vector is not None
    np.testing.assert_allclose(hit.vector, vecs[1], rtol=1e-6)


# --------------------------------------------------------------------------- filters


def _json(flt: Any) -> Any:
    compiled = compile_filter(as_filter(flt))
    assert compiled is not None
    return json.loads(compiled.model_dump_json(exclude_none=True, by_alias=True))


def test_filter_compilation_shapes() -> None:
    assert _json(F("c") == "red") == {"must": [{"key": "c", "match": {"value": "red"}}]}
    assert _json(F("b") == True) == {"must": [{"key": "b", "match": {"value": True}}]}  # noqa: E712
    num = {"must": [{"key": "n", "range": {"gte": 3.0, "lte": 3.0}}]}
    assert _json(F("n") == 3) == num
    assert _json(F("n") == 3.0) == num
    assert _json(F("n") != 3) == {"must_not": [{"key": "n", "range": {"gte": 3.0, "lte": 3.0}}]}
    assert _json(F("x").exists()) == {"must_not": [{"is_empty": {"key": "x"}}]}
    assert _json(~F("x").exists()) == {"must": [{"is_empty": {"key": "x"}}]}
    mixed = _json(F("t").isin(["a", "b", 1, True]))["should"]
    assert {"key": "t", "match": {"any": ["a", "b"]}} in mixed
    assert {"key": "t", "match": {"value": True}} in mixed
    assert {"key": "t", "range": {"gte": 1.0, "lte": 1.0}} in mixed
    assert _json(F("n") < 2) == {"must": [{"key": "n", "range": {"lt": 2.0}}]}
    assert _json(F("a b.ü.c-d") == 1)["must"][0]["key"] == '"a b"."ü".c-d'
    big = _json(F("n") == 2**53 + 1)["must"][0]
    assert big == {"key": "n", "match": {"value": 2**53 + 1}}


def test_unaddressable_and_reserved_fields_raise_before_io(store: QdrantStore) -> None:
    coll = store.create_collection("f", 2, "dot")
    for flt in [F('we"ird') == 1, F("back\\slash").exists(), F(f"{RESERVED_KEY}.id") == "a"]:
        with pytest.raises(FilterNotSupportedError):
            coll.count(flt)
        with pytest.raises(FilterNotSupportedError):
            coll.explain(flt)


def test_explain_shows_the_qdrant_filter(store: QdrantStore) -> None:
    coll = store.create_collection("x", 2, "dot")
    shown = json.loads(coll.explain({"field": "color", "op": "nin", "value": ["red", "blue"]}))
    assert shown == {"must_not": [{"key": "color", "match": {"any": ["red", "blue"]}}]}


def test_filter_edge_cases_on_the_engine(store: QdrantStore) -> None:
    coll = store.create_collection("edge", 2, "l2")
    pays: list[dict[str, Any]] = [
        {"v": 3}, {"v": 3.0}, {"v": "3"}, {"v": True}, {"v": 1}, {"v": [2, 3]}, {"v": None},
        {"v": []}, {"v": [None]}, {"v": {"k": 1}}, {}, {"v": 2**52 + 1}, {"v": 2.0**53},
        {"a b": {"ü": "yes"}}, {"v": 1.5},
    ]  # fmt: skip
    ids = [f"p{i}" for i in range(len(pays))]
    coll.upsert_arrays(ids, _rand(len(ids), 2, 6), pays)

    def which(flt: Any) -> set[int]:
        return {int(r[1:]) for r in coll.query(np.zeros(2, np.float32), k=50, filter=flt).ids}

    assert which(F("v") == 3) == {0, 1, 5}
    assert which(F("v") == 3.0) == {0, 1, 5}
    assert which(F("v") == "3") == {2}
    assert which(F("v") == True) == {3}  # noqa: E712
    assert which(F("v") == 1) == {4}  # True is not 1
    assert which(F("v").isin([1, True])) == {3, 4}
    assert which(F("v") != 3) == set(range(len(pays))) - {0, 1, 5}
    assert which(F("v").notin([3, "3"])) == set(range(len(pays))) - {0, 1, 2, 5}
    assert which(F("v") > 2) == {0, 1, 5, 11, 12}  # numbers only, any list element
    assert which(F("v") <= 1.5) == {4, 14}
    assert which(F("v").exists()) == set(range(13)) - {6, 7, 10} | {14}
    assert which(F("v") == 2**52 + 1) == {11}
    assert which(F("v") == 2**53) == {12}
    assert which(F("v") == 2**53 + 1) == set()  # exact, although it rounds to 2.0**53
    # A server compares numbers as doubles: ints it cannot hold exactly are refused, not stored.
    with pytest.raises(InvalidInputError, match="exact range"):
        coll.upsert([Record("big", np.zeros(2, np.float32), {"v": 2**53 + 1})])
    assert which(F("a b.ü") == "yes") == {13}
    assert coll.count(F("v") == 3) == 3


# ---------------------------------------------------------------------- options/config


def test_default_is_local_memory_and_capabilities() -> None:
    with edgevec.connect("qdrant") as s:
        assert isinstance(s, QdrantStore)
        assert s.opts.location is None
        assert s.opts.local
        coll = s.create_collection("c", 2)
        caps = coll.capabilities
        assert caps.exact
        assert caps.native_async
        assert not caps.persistent
        assert caps.max_batch == 256


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://a", "path": "some/dir"}, "one of"),
        ({"api_key": SECRET}, "only applies with url"),
        ({"url": "http://qdrant.example.com", "api_key": SECRET}, "plain http"),
        ({"url": "http://qdrant.example.com", "https": True}, "contradicts"),
        ({"url": "ftp://qdrant.example.com"}, "url must"),
        ({"location": "/some/dir"}, "location"),
        ({"timeout": 0}, "timeout"),
        ({"nope": 1}, "unknown option 'nope'"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        edgevec.connect("qdrant", **options)
    assert SECRET not in str(info.value)


def test_secrets_stay_out_of_repr() -> None:
    store = edgevec.connect("qdrant", url="qdrant.example.com", api_key=SECRET)
    try:
        assert SECRET not in repr(store)
        assert SECRET not in repr(store.options)
    finally:
        store.close()
    astore = edgevec.connect_async("qdrant", url="qdrant.example.com", api_key=SECRET)
    assert SECRET not in repr(astore)


def test_tls_is_the_default() -> None:
    assert server_url(QdrantOptions(url="qdrant.example.com")) == "https://qdrant.example.com"
    assert server_url(QdrantOptions(url="localhost:6333")) == "https://localhost:6333"
    plain = QdrantOptions(url="qdrant.example.com", https=False)
    assert client_kwargs(plain)["url"] == "http://qdrant.example.com"
    assert server_url(QdrantOptions(url="http://q:6333/pre")) == "http://q:6333/pre"
    kwargs = client_kwargs(QdrantOptions(url="https://q", api_key=SecretStr(SECRET), timeout=2.5))
    assert (kwargs["api_key"], kwargs["timeout"]) == (SECRET, 3)


def test_bad_collection_options(store: QdrantStore) -> None:
    with pytest.raises(ConfigError, match="hnsw_ef"):
        store.create_collection("c", 2, hnsw_ef=0)
    with pytest.raises(ConfigError, match="bogus"):
        store.create_collection("c", 2, bogus=1)
    with pytest.raises(ConfigError, match="payload_indexes"):
        store.create_collection("c", 2, payload_indexes={'a"b': "keyword"})
    assert not store.has_collection("c")


def test_query_params_local_mode_honours_only_exact(store: QdrantStore) -> None:
    """Local mode is a brute-force scan: ``exact`` holds, a beam width would be ignored."""
    coll = store.create_collection("c", 2)
    coll.upsert_arrays(["a"], np.ones((1, 2), np.float32))
    assert coll.query(np.ones(2, np.float32), params={"exact": True}).ids == ["a"]
    with pytest.raises(InvalidInputError, match="search params ef"):
        coll.query(np.ones(2, np.float32), params={"ef": 10})
    with pytest.raises(InvalidInputError, match="hnsw_ef"):  # one name per idea: ef
        coll.query(np.ones(2, np.float32), params={"hnsw_ef": 10})


def test_server_query_params_reach_qdrant(rest: _Rest) -> None:
    store = _connect_rest(rest)
    try:
        coll = store.create_collection("items", 3, "l2")
        assert coll.capabilities.honoured_params() == {"ef", "exact"}
        q = np.ones(3, np.float32)
        coll.query(q, k=2, params={"ef": 99})
        coll.query(q, k=2, params=edgevec.SearchParams(exact=True))
        coll.query(q, k=2, score_threshold=-0.5)  # applied to the top k, not pushed down
    finally:
        store.close()
    sent = [r["body"]["searches"][0] for r in rest.requests if r["path"].endswith("/query/batch")]
    assert [s.get("params") for s in sent] == [
        {"hnsw_ef": 99, "exact": False},
        {"exact": True},
        None,
    ]


def test_import_edgevec_does_not_import_qdrant_client() -> None:
    code = "import sys, edgevec; sys.exit('qdrant_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ----------------------------------------------------------------------- persistence


def test_path_store_reopens_with_spec_and_data(tmp_path: Path) -> None:
    path = str(tmp_path / "q")
    vecs = _rand(4, 3, 7) * 2
    with edgevec.connect("qdrant", path=path) as s:
        assert s.create_collection(
            "a", 3, "cosine", payload_indexes={"c": "keyword"}
        ).capabilities.persistent
        s.create_collection("b", 5, "l2", exact=True, hnsw_m=8)
        s.collection("a").upsert_arrays(list("wxyz"), vecs, [{"c": c} for c in "wxyz"])
    with edgevec.connect("qdrant", path=path) as s:
        assert s.list_collections() == ["a", "b"]
        a, b = s.collection("a"), s.collection("b")
        assert (a.dim, a.metric, b.dim, b.metric) == (3, "cosine", 5, "l2")
        assert a.spec.options["payload_indexes"] == {"c": "keyword"}
        assert (b.spec.options["exact"], b.spec.options["hnsw_m"]) == (True, 8)
        got = a.get(["z", "w"])
        assert [r.id for r in got] == ["z", "w"]
        assert got[0].vector is not None
        np.testing.assert_allclose(got[0].vector, vecs[3], rtol=1e-6)
        assert a.query(vecs[2], k=1, filter=F("c") == "y")[0].id == "y"


async def test_async_path_store_reopens(tmp_path: Path) -> None:
    path = str(tmp_path / "q")
    vecs = _rand(3, 2, 8)
    async with edgevec.connect_async("qdrant", path=path) as s:
        coll = await s.create_collection("a", 2, "l2")
        await coll.upsert_arrays(["p", "q", "r"], vecs)
    async with edgevec.connect_async("qdrant", path=path) as s:
        coll = await s.collection("a")
        assert coll.capabilities.native_async
        assert await coll.count() == 3
        assert (await coll.query(vecs[1], k=1))[0].id == "q"


def test_path_in_use_by_another_store(tmp_path: Path) -> None:
    path = str(tmp_path / "q")
    with edgevec.connect("qdrant", path=path):
        with pytest.raises(BackendUnavailableError, match="in use"):
            edgevec.connect("qdrant", path=path)
        with pytest.raises(BackendUnavailableError, match="in use"):
            edgevec.connect_async("qdrant", path=path)
    with edgevec.connect("qdrant", path=path) as again:  # released on close
        assert again.list_collections() == []


def test_collections_made_by_other_tools_open(tmp_path: Path) -> None:
    path = str(tmp_path / "q")
    raw = QdrantClient(path=path)
    try:
        raw.create_collection(
            "plain", vectors_config=models.VectorParams(size=2, distance=models.Distance.EUCLID)
        )
        raw.upsert("plain", [models.PointStruct(id=7, vector=[1.0, 0.0], payload={"k": 1})])
        named = {"img": models.VectorParams(size=2, distance=models.Distance.DOT)}
        raw.create_collection("named", vectors_config=named)
        raw.create_collection(
            "manhattan",
            vectors_config=models.VectorParams(size=2, distance=models.Distance.MANHATTAN),
        )
    finally:
        raw.close()
    with edgevec.connect("qdrant", path=path) as s:
        coll = s.collection("plain")
        assert (coll.dim, coll.metric) == (2, "l2")
        hit = coll.query(np.array([1.0, 0.0], np.float32), k=1)[0]
        assert (hit.id, hit.score, dict(hit.payload)) == ("7", 0.0, {"k": 1})
        with pytest.raises(BackendError, match="named vectors"):
            s.collection("named")
        with pytest.raises(BackendError, match="Manhattan"):
            s.collection("manhattan")


# -------------------------------------------------------------------- errors (local)


def test_missing_collection_maps_and_chains(store: QdrantStore) -> None:
    coll = store.create_collection("gone", 2)
    store._client.delete_collection("gone")  # behind the handle's back: the engine answers
    with pytest.raises(CollectionNotFoundError) as info:
        coll.count()
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(CollectionNotFoundError):
        store.collection("gone")


def test_closed_store_refuses_its_handles() -> None:
    s = edgevec.connect("qdrant")
    coll = s.create_collection("c", 2)
    s.close()
    with pytest.raises(StoreClosedError):
        coll.count()


# ------------------------------------------------------------ loopback REST server


class _Rest(ThreadingHTTPServer):
    """Answers like a Qdrant server for the handful of routes these tests use, and records
    every request; ``status``/``delay`` make it fail on purpose."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Rest

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        self.server.requests.append(
            {
                "method": self.command,
                "path": url.path,
                "query": parse_qs(url.query),
                "headers": dict(self.headers),
                "body": json.loads(raw) if raw else None,
            }
        )
        time.sleep(self.server.delay)
        status = self.server.status
        if status != 200:
            result: Any = None
            body = {"status": {"error": f"test server says {status}"}, "time": 0}
        elif url.path.endswith("/exists"):
            result = {"exists": False}
        elif url.path.endswith("/points/query/batch"):
            result = [{"points": []} for _ in json.loads(raw)["searches"]]
        elif url.path.endswith(("/points", "/index")):
            result = {"operation_id": 1, "status": "completed"}
        else:
            result = True
        if status == 200:
            body = {"result": result, "status": "ok", "time": 0}
        data = json.dumps(body).encode()
        with contextlib.suppress(ConnectionError):  # the client gave up (the timeout test)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = _answer  # noqa: N815  # names http.server calls


@pytest.fixture
def rest() -> Iterator[_Rest]:
    server = _Rest()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _connect_rest(rest: _Rest, **options: Any) -> Any:
    with pytest.warns(UserWarning, match="insecure"):  # qdrant-client's own warning, loopback
        return edgevec.connect("qdrant", url=rest.url, api_key=SECRET, **options)


def test_server_writes_are_batched_waited_and_authenticated(rest: _Rest) -> None:
    store = _connect_rest(rest, batch_size=4, exact=True)
    try:
        coll = store.create_collection(
            "items", 3, "l2", payload_indexes={"color": "keyword", "a b.n": "float"}
        )
        assert coll.capabilities.exact
        coll.upsert_arrays([f"r{i}" for i in range(10)], _rand(10, 3, 9))
        coll.query(np.ones(3, np.float32), k=2, filter=F("color") == "red")
    finally:
        store.close()
    assert all(r["headers"].get("api-key") == SECRET for r in rest.requests)
    create = next(
        r for r in rest.requests if r["method"] == "PUT" and r["path"] == "/collections/items"
    )
    assert create["body"]["vectors"] == {"size": 3, "distance": "Euclid"}
    assert create["body"]["metadata"]["edgevec"]["options"]["payload_indexes"]["color"] == "keyword"
    indexes = [r["body"] for r in rest.requests if r["path"].endswith("/index")]
    assert indexes == [
        {"field_name": "color", "field_schema": "keyword"},
        {"field_name": '"a b".n', "field_schema": "float"},
    ]
    upserts = [r for r in rest.requests if r["path"] == "/collections/items/points"]
    assert [len(r["body"]["batch"]["ids"]) for r in upserts] == [4, 4, 2]
    assert all(r["query"]["wait"] == ["true"] for r in upserts)
    (query,) = [r["body"] for r in rest.requests if r["path"].endswith("/query/batch")]
    assert query["searches"][0]["params"]["exact"] is True
    assert query["searches"][0]["filter"] == {"must": [{"key": "color", "match": {"value": "red"}}]}


def test_declared_fields_become_payload_indexes_on_a_server(rest: _Rest) -> None:
    """Each declared field gets the index its type needs (numbers: float, since numeric ``==``
    compiles to a range), an explicit ``payload_indexes`` entry wins, and the declaration is
    saved in the collection's metadata."""
    store = _connect_rest(rest)
    fields = {"label": "int", "price": "float", "tags": "keyword[]", "ok": "bool", "c": "keyword"}
    try:
        store.create_collection("items", 3, "l2", fields=fields, payload_indexes={"c": "uuid"})
    finally:
        store.close()
    create = next(
        r for r in rest.requests if r["method"] == "PUT" and r["path"] == "/collections/items"
    )
    assert create["body"]["metadata"]["edgevec"]["fields"] == dict(sorted(fields.items()))
    indexes = {
        r["body"]["field_name"]: r["body"]["field_schema"]
        for r in rest.requests
        if r["path"].endswith("/index")
    }
    assert indexes == {
        "label": "float", "price": "float", "tags": "keyword", "ok": "bool", "c": "uuid",
    }  # fmt: skip


def test_declared_field_named_like_the_reserved_key_is_refused() -> None:
    with edgevec.connect("qdrant", location=":memory:") as store:
        with pytest.raises(InvalidInputError, match="reserved"):
            store.create_collection("c", 2, fields={RESERVED_KEY: "int"})
        assert store.list_collections() == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, CollectionNotFoundError),
        (503, BackendUnavailableError),
        (504, BackendTimeoutError),
        (500, BackendError),
    ],
)
def test_rest_statuses_map_to_edgevec_errors(
    rest: _Rest, status: int, error: type[Exception]
) -> None:
    store = _connect_rest(rest)
    rest.status = status
    try:
        with pytest.raises(error) as info:
            store.list_collections()
    finally:
        store.close()
    assert type(info.value) is error
    assert f"HTTP {status}" in str(info.value)
    assert "test server says" in str(info.value)
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is not None
    assert is_retryable(info.value) == (status >= 500)  # the router fails over on 5xx only
    assert getattr(info.value, "status", status) == status  # every BackendError carries it


async def test_async_rest_errors_map_too(rest: _Rest) -> None:
    with pytest.warns(UserWarning, match="insecure"):
        astore = edgevec.connect_async("qdrant", url=rest.url, api_key=SECRET)
    rest.status = 401
    try:
        with pytest.raises(AuthenticationError):
            await astore.list_collections()
    finally:
        await astore.close()
    assert rest.requests[0]["headers"]["api-key"] == SECRET


def test_slow_server_times_out(rest: _Rest) -> None:
    rest.delay = 2.5
    store = edgevec.connect("qdrant", url=rest.url, timeout=1)
    with store, pytest.raises(BackendTimeoutError) as info:
        store.list_collections()
    assert info.value.__cause__ is not None


def test_unreachable_server_is_unavailable() -> None:
    store = edgevec.connect("qdrant", url="http://127.0.0.1:9", timeout=2)
    with store, pytest.raises(BackendUnavailableError):
        store.list_collections()


@pytest.mark.parametrize("grpc", [False, True], ids=["rest", "grpc"])
def test_refused_or_reset_server_fails_at_once(grpc: bool) -> None:
    """qdrant-client repeats nothing on a failed connection (REST over httpx, gRPC): through
    ``tests/servers/faultproxy.py`` refusing or resetting every connection, each call under a
    0.2 s deadline raises ``BackendUnavailableError`` well inside it."""
    if grpc:
        pytest.importorskip("grpc")
    with FaultProxy(9) as proxy:  # the upstream is never reached
        port = int(proxy.url.rsplit(":", 1)[1])
        opts: dict[str, Any] = {"url": proxy.url, "prefer_grpc": grpc, "grpc_port": port}
        with edgevec.connect("qdrant", **opts) as store:
            for fault in ("down", "reset"):
                proxy.set(fault)
                for _ in range(3):
                    start = time.perf_counter()
                    with edgevec.deadline(0.2), pytest.raises(BackendUnavailableError):
                        store.list_collections()
                    assert time.perf_counter() - start < 0.3


# ------------------------------------------------------------ loopback gRPC server


@pytest.fixture
def grpc_abort() -> Iterator[tuple[int, list[Any]]]:
    """A gRPC server whose Qdrant collection RPCs fail with the status put in the list."""
    grpc = pytest.importorskip("grpc")
    codes: list[Any] = [grpc.StatusCode.UNAUTHENTICATED]

    def handle(request: bytes, context: Any) -> None:
        context.abort(codes[0], f"test server says {codes[0].name}")

    methods = {name: grpc.unary_unary_rpc_method_handler(handle) for name in ("List", "Get")}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("qdrant.Collections", methods),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, codes
    finally:
        server.stop(None)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("UNAUTHENTICATED", AuthenticationError),
        ("PERMISSION_DENIED", AuthenticationError),
        ("NOT_FOUND", CollectionNotFoundError),
        ("UNAVAILABLE", BackendUnavailableError),
        ("DEADLINE_EXCEEDED", BackendTimeoutError),
        ("INTERNAL", BackendError),
    ],
)
def test_grpc_statuses_map_to_edgevec_errors(
    grpc_abort: tuple[int, list[Any]], code: str, error: type[Exception]
) -> None:
    grpc = pytest.importorskip("grpc")
    port, codes = grpc_abort
    codes[0] = getattr(grpc.StatusCode, code)
    opts: dict[str, Any] = {"url": "http://127.0.0.1:6333", "prefer_grpc": True, "grpc_port": port}
    with edgevec.connect("qdrant", **opts) as store, pytest.raises(error) as info:
        store.list_collections()
    assert type(info.value) is error
    assert f"gRPC {code}" in str(info.value)
    assert isinstance(info.value.__cause__, grpc.RpcError)


async def test_async_grpc_errors_map_too(grpc_abort: tuple[int, list[Any]]) -> None:
    port, _ = grpc_abort
    opts: dict[str, Any] = {"url": "http://127.0.0.1:6333", "prefer_grpc": True, "grpc_port": port}
    async with edgevec.connect_async("qdrant", **opts) as astore:
        with pytest.raises(AuthenticationError, match="gRPC UNAUTHENTICATED"):
            await astore.collection("items")
