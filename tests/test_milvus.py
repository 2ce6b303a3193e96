"""Milvus-specific tests on a real Milvus Lite (in-process, from the ``milvus-lite`` wheel).

The conformance suite (``test_conformance_milvus.py``) checks the shared contract; this module
checks what is particular to Milvus: escaping of every value, id and field name in expressions,
raw-score conversion, reopening a ``.db`` (in this and in a new process), error translation and
secrets. The filter semantics on adversarial payloads are the suite's (``adversarial_payloads``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason='Milvus extra not installed: pip install "edgevec[milvus]"')
pytest.importorskip(
    "milvus_lite", reason='Milvus Lite not installed: pip install "edgevec[milvus]"'
)

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
from pymilvus.exceptions import MilvusException  # type: ignore[import-untyped]

import edgevec
from edgevec import F, Record
from edgevec.backends.milvus import (
    AsyncMilvusStore,
    MilvusCollection,
    MilvusOptions,
    MilvusStore,
    compile_filter,
    ids_filter,
    payload_terms,
    quote,
    translate_error,
)
from edgevec.backends.milvus.engine import engine_lock
from edgevec.driver import CallEvent, add_listener
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    InvalidInputError,
    StoreClosedError,
)
from edgevec.filters import Cmp
from edgevec.testing.oracle import assert_hits_match, exact_scores, matches
from edgevec.types import CollectionSpec
from tests.servers.faultproxy import FaultProxy

INJECTION = 'x" or 1==1 or "'
FAKE = "tok-s3cr3t"  # a token that must never show up in a repr or message
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("milvus") / "backend.db")


@pytest.fixture
def store(uri: str) -> Iterator[MilvusStore]:
    """A store on the module's ``.db``; collections a test creates are dropped after it."""
    s = edgevec.connect("milvus", uri=uri)
    assert isinstance(s, MilvusStore)
    before = set(s.list_collections())
    try:
        yield s
    finally:
        for name in set(s.list_collections()) - before:
            s.drop_collection(name)
        s.close()


def _rand(n: int, dim: int, seed: int) -> Any:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


# --------------------------------------------------------------------------- escaping


def test_quote_escapes_what_both_grammars_read() -> None:
    assert quote("plain") == '"plain"'
    assert quote(INJECTION) == '"x\\" or 1==1 or \\""'
    assert quote("a\\") == '"a\\\\"'
    assert quote("l1\nl2\r") == '"l1\\nl2\\r"'
    assert quote("it's ü 🙂") == '"it\'s ü 🙂"'
    with pytest.raises(InvalidInputError):
        quote("\ud800")


def test_injected_values_cannot_change_the_query(store: MilvusStore) -> None:
    nasty = [
        INJECTION,
        "x' or 1==1 or '",
        "a\\",
        'a\\" or 1==1 or "',
        "line\nbreak",
        '"]) or true or (["',
        "",
    ]
    coll = store.create_collection("inject", 4, "l2")
    values = [*nasty, "plain"]
    coll.upsert_arrays(
        [f"r{i}" for i in range(len(values))], _rand(len(values), 4, 1), [{"v": v} for v in values]
    )
    for value in nasty:
        assert coll.count(F("v") == value) == 1, value
        assert coll.count(F("v") != value) == len(values) - 1, value
        assert coll.count(F("v").isin([value, "absent"])) == 1, value
        hits = coll.query(np.ones(4, np.float32), k=20, filter=F("v") == value)
        assert [h.payload["v"] for h in hits] == [value]
    # A value that is a prefix of an attack must not match the attack, nor vice versa.
    assert coll.count(F("v") == "x") == 0
    assert coll.count(F("v") == 'a\\" or 1==1 or "x') == 0
    assert INJECTION not in coll.explain(F("v") == INJECTION)  # it only appears escaped
    assert quote("s:" + INJECTION) in coll.explain(F("v") == INJECTION)


def test_field_names_never_reach_the_expression(store: MilvusStore) -> None:
    coll = store.create_collection("fields", 4)
    field = 'v"] or 1==1 or $meta["'
    coll.upsert_arrays(["a", "b"], _rand(2, 4, 2), [{field: 1}, {"v": 1}])
    assert field not in coll.explain(F(field) == 1)
    assert coll.count(F(field) == 1) == 1
    assert coll.count(F(field).exists()) == 1
    assert coll.count(F(field) < 5) == 1


def test_awkward_ids_in_get_and_delete(store: MilvusStore) -> None:
    coll = store.create_collection("ids", 4)
    ids = ['x" or id != "', "x' or id != '", "back\\", "plain", "ü/ 🙂", "é" * 256]
    coll.upsert_arrays(ids, _rand(len(ids), 4, 3))
    assert [r.id for r in coll.get([ids[0]])] == [ids[0]]
    assert [r.id for r in coll.get(ids[::-1])] == ids[::-1]
    coll.delete(ids=[ids[0]])
    assert coll.count() == len(ids) - 1
    coll.delete(ids=["back\\"])
    assert sorted(r.id for r in coll.get(ids)) == sorted(ids[1:2] + ids[3:])
    assert ids_filter(["a", "a", 'b"']) == 'id in ["a", "b\\""]'


def test_lone_surrogate_id_writes_nothing(store: MilvusStore) -> None:
    coll = store.create_collection("surrogate", 4)
    ids = [f"ok{i}" for i in range(1500)] + ["bad\ud800"]  # the bad id is in the second chunk
    with pytest.raises(InvalidInputError):
        coll.upsert_arrays(ids, _rand(len(ids), 4, 4))
    assert coll.count() == 0


# --------------------------------------------------------------------------- filter semantics


def test_payload_terms_shape() -> None:
    terms = payload_terms(
        {"a": [3, 3.0, "3", True, None, [1]], "b": {"c": -0.0}, "d.e": 1, "f": []}
    )
    values = sorted(v for k, v in terms.items() if k.startswith("e_"))
    assert values == [["n:0"], ["n:3", "s:3", "b:true"]]
    assert sorted(v for k, v in terms.items() if k.startswith("lo_")) == [-0.0, 3]
    assert sum(k.startswith("x_") for k in terms) == 3  # a, b, b.c; not the dotted key, not []


def test_explain_is_the_milvus_expression(store: MilvusStore) -> None:
    coll = store.create_collection("explain", 4)
    flt = (F("price") < 20) & ~(F("color") == "red")
    text = coll.explain(flt)
    assert text == compile_filter(flt)
    assert "json_contains(payload_terms[" in text
    assert " < 20" in text
    assert coll.explain({"field": "n", "op": "exists"}).startswith("(exists payload_terms[")


# --------------------------------------------------------------------------- scores


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_scores_are_converted(store: MilvusStore, metric: str) -> None:
    coll = store.create_collection(f"scores_{metric}", 8, metric)
    vecs = _rand(40, 8, 6) * 3
    ids = [f"s{i}" for i in range(40)]
    coll.upsert_arrays(ids, vecs)
    q = _rand(1, 8, 7)[0]
    hits = coll.query(q, k=10)
    true = exact_scores(vecs, q, metric)  # type: ignore[arg-type]  # metric is a Metric
    for h in hits:
        assert abs(h.score - true[ids.index(h.id)]) < 1e-4
    assert hits.ids == [ids[i] for i in np.argsort(-true, kind="stable")[:10]]
    raw = store.client.search(coll.name, data=[q], limit=1, anns_field="vector")[0][0]
    best = vecs[ids.index(raw["id"])]
    expected_raw = {
        "cosine": float(best @ q / np.linalg.norm(best) / np.linalg.norm(q)),
        "dot": float(best @ q),
        "l2": float(np.sum((best - q) ** 2)),  # Milvus reports the *squared* distance
    }[metric]
    assert abs(raw["distance"] - expected_raw) < 1e-3


# --------------------------------------------------------------------------- reopen


def test_reopen_rebuilds_the_spec(uri: str) -> None:
    with edgevec.connect("milvus", uri=uri) as s:
        assert isinstance(s, MilvusStore)
        s._create(CollectionSpec("reopen", 5, "dot", {"index": "hnsw", "m": 8}, "fp-123"))
        s.collection("reopen").upsert([Record("a", np.arange(5, dtype=np.float32), {"k": 1})])
    with edgevec.connect("milvus", uri=uri) as s:
        coll = s.collection("reopen")
        assert (coll.dim, coll.metric, coll.spec.fingerprint) == (5, "dot", "fp-123")
        assert (coll.spec.options["index"], coll.spec.options["m"]) == ("HNSW", 8)
        assert not coll.capabilities.exact
        assert coll.query(np.ones(5, np.float32), k=1).ids == ["a"]
        s.drop_collection("reopen")


def test_declared_fields_are_typed_columns(uri: str) -> None:
    """Declared fields filter on their own columns, as a raw user's ``label == 3 and price <
    50``; negations keep records without the field; a reopen knows the declaration; what no
    column can state (a range over list elements) stays on ``payload_terms``."""
    fields = {"label": "int", "price": "float", "tags": "keyword[]"}
    pays: list[dict[str, Any]] = [
        {"label": 3, "price": 20, "tags": ["a"]}, {"label": 3, "price": 70.5},
        {"label": 2, "tags": []}, {}, {"label": 2**63 - 1, "price": None, "tags": ["b", "a"]},
    ]  # fmt: skip
    ids = [f"p{i}" for i in range(len(pays))]
    flt = (F("label") == 3) & (F("price") < 50)
    with edgevec.connect("milvus", uri=uri) as s:
        coll = s.create_collection("typed", 4, "l2", fields=fields)
        coll.upsert_arrays(ids, _rand(len(ids), 4, 5), pays)
        assert coll.explain(flt) == "((f_label == 3) and (f_price < 50.0))"
        assert coll.explain(F("label") != 3) == "(f_label is null or not (f_label == 3))"
        assert coll.explain(F("tags") == "a") == 'array_contains(f_tags, "a")'
        assert "payload_terms" in coll.explain(F("tags") < 3)
    with edgevec.connect("milvus", uri=uri) as s:
        coll = s.collection("typed")
        assert dict(coll.spec.fields) == fields
        for f in (flt, F("label") != 3, ~(F("price") < 50), F("tags").notin(["a"]),
                  ~F("tags").exists(), F("label") > 2**62, F("label") == 3.0):  # fmt: skip
            want = sorted(i for i, p in zip(ids, pays) if matches(f, p))
            assert sorted(coll.query(np.ones(4, np.float32), k=10, filter=f).ids) == want
            assert coll.count(f) == len(want), f.explain()
        with pytest.raises(InvalidInputError, match="at most 4096"):
            coll.upsert_arrays(["long"], _rand(1, 4, 6), [{"tags": ["x"] * 4097}])
        assert coll.count() == len(ids)
        s.drop_collection("typed")


def _child(code: str, uri: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), uri],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def test_reopen_in_a_new_process_loads_the_collection(tmp_path: Path) -> None:
    uri = str(tmp_path / "proc.db")
    with edgevec.connect("milvus", uri=uri) as s:
        coll = s.create_collection("items", 3, "l2")
        coll.upsert(
            [Record("near", np.zeros(3, np.float32)), Record("far", np.full(3, 9, np.float32))]
        )
    # A fresh process finds the collection released; opening it must load it before searching.
    child = _child(
        """
        import json, sys, numpy as np, edgevec
        with edgevec.connect("milvus", uri=sys.argv[1]) as s:
            c = s.collection("items")
            hits = c.query(np.zeros(3, np.float32), k=2)
            print(json.dumps([c.dim, c.metric, c.count(), hits.ids, hits.scores.tolist()]))
        """,
        uri,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    dim, metric, count, ids, scores = json.loads(child.stdout.strip().splitlines()[-1])
    assert (dim, metric, count, ids) == (3, "l2", 2, ["near", "far"])
    np.testing.assert_allclose(scores, [0.0, -np.sqrt(3 * 81)], atol=1e-4)


def test_a_db_held_by_another_process_is_unavailable(tmp_path: Path) -> None:
    uri = str(tmp_path / "held.db")
    with edgevec.connect("milvus", uri=uri):
        child = _child(
            """
            import sys, edgevec
            try:
                edgevec.connect("milvus", uri=sys.argv[1])
            except edgevec.BackendUnavailableError as exc:
                print("unavailable", type(exc.__cause__).__name__)
            """,
            uri,
        )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split() == ["unavailable", "ConnectionConfigException"]


# --------------------------------------------------------------------------- errors


def test_unreachable_server_is_unavailable() -> None:
    with pytest.raises(BackendUnavailableError) as info:
        edgevec.connect("milvus", uri="http://127.0.0.1:1", token=FAKE, timeout=2)
    assert isinstance(info.value.__cause__, MilvusException)
    assert FAKE not in str(info.value)


def test_deadline_is_a_timeout(store: MilvusStore, uri: str) -> None:
    coll = store.create_collection("slow", 32, "l2")
    coll.upsert_arrays(
        [f"t{i}" for i in range(5000)], _rand(5000, 32, 8), [{"n": i} for i in range(5000)]
    )
    assert isinstance(coll, MilvusCollection)
    # A second store on the running server with a deadline far below the search's cost.
    impatient = MilvusStore(MilvusOptions(uri=uri, timeout=0.02))
    try:
        slow = MilvusCollection(impatient, coll.spec, coll.opts)
        with pytest.raises(BackendTimeoutError) as info:
            slow.query_batch(_rand(2000, 32, 9), k=100, filter=F("n") >= 10)
        assert isinstance(info.value.__cause__, grpc.RpcError | MilvusException)
    finally:
        impatient.close()


def test_refused_or_reset_server_fails_at_once(store: MilvusStore) -> None:
    """The module's Milvus Lite server (gRPC on a loopback port) reached as a remote server
    through ``tests/servers/faultproxy.py``: while it refuses or resets connections, each call
    under a 0.2 s deadline raises ``BackendUnavailableError`` well inside it (pymilvus' retry
    decorator gives up as its reconnect fails), and calls succeed again once it is back (after
    gRPC's reconnect backoff, about a second)."""
    coll = store.create_collection("faults", 4)
    coll.upsert_arrays(["a"], np.ones((1, 4), np.float32))
    # pymilvus has no public accessor for the address a client is connected to.
    port = int(store.client._get_connection()._address.rsplit(":", 1)[1])
    q = np.ones(4, np.float32)
    with FaultProxy(port) as proxy, edgevec.connect("milvus", uri=proxy.url) as remote:
        far = remote.collection("faults")
        assert far.query(q, k=1).ids == ["a"]
        for fault in ("down", "reset"):
            proxy.set(fault)
            for _ in range(3):
                start = time.perf_counter()
                with edgevec.deadline(0.2), pytest.raises(BackendUnavailableError) as info:
                    far.query(q, k=1)
                assert time.perf_counter() - start < 0.3
                assert isinstance(info.value.__cause__, grpc.RpcError | MilvusException)
        proxy.set("up")
        give_up = time.monotonic() + 10
        while True:
            try:
                assert far.query(q, k=1).ids == ["a"]
                break
            except BackendUnavailableError:
                assert time.monotonic() < give_up
                time.sleep(0.2)


def test_dropped_collection_is_not_found(store: MilvusStore) -> None:
    coll = store.create_collection("gone", 4)
    store.client.drop_collection("gone")  # behind edgevec's back
    with pytest.raises(CollectionNotFoundError) as info:
        coll.count()
    assert isinstance(info.value.__cause__, MilvusException)
    with pytest.raises(CollectionNotFoundError):
        store.collection("gone")


class _Rpc(grpc.RpcError):  # type: ignore[misc]  # grpc is untyped
    """An RPC failure as grpc raises it: a status code and details."""

    def __init__(self, code: Any, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> Any:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_Rpc(grpc.StatusCode.UNAUTHENTICATED, "bad token"), AuthenticationError),
        (_Rpc(grpc.StatusCode.PERMISSION_DENIED, "no"), AuthenticationError),
        (
            MilvusException(1100, "auth check failure, please check username and password"),
            AuthenticationError,
        ),
        (_Rpc(grpc.StatusCode.UNAVAILABLE, "down"), BackendUnavailableError),
        (
            MilvusException(grpc.StatusCode.UNAVAILABLE, "[search] Retry timeout: 5s"),
            BackendUnavailableError,
        ),
        (_Rpc(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"), BackendTimeoutError),
        (MilvusException(1, "[search] Retry timeout: 5s, message=busy"), BackendTimeoutError),
        (MilvusException(100, "collection not found"), CollectionNotFoundError),
        (MilvusException(1100, "invalid parameter"), BackendError),
        (_Rpc(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!"), BackendError),
    ],
)
def test_error_translation(exc: BaseException, expected: type[Exception]) -> None:
    err = translate_error(exc, "search")
    assert type(err) is expected
    assert str(err).startswith("Milvus search failed")


def test_error_messages_never_carry_the_token() -> None:
    opts = MilvusOptions.model_validate({"uri": "https://example.com", "token": FAKE})
    err = translate_error(MilvusException(1, f"echo {FAKE} back"), "upsert", opts.token)
    assert FAKE not in str(err)


# --------------------------------------------------------------------------- options and secrets


def test_credentials_in_the_uri_are_refused_unquoted() -> None:
    with pytest.raises(ConfigError, match="token") as info:
        edgevec.connect("milvus", uri="https://alice:s3cr3t@example.com:19530/db")
    assert "s3cr3t" not in str(info.value)


def test_plain_text_to_a_remote_host_needs_consent() -> None:
    with pytest.raises(ConfigError, match="tls"):
        edgevec.connect("milvus", uri="http://milvus.example.com:19530", token=FAKE)
    assert not MilvusOptions(uri="http://milvus.example.com:19530", tls=False).use_tls()
    assert not MilvusOptions(uri="http://127.0.0.1:19530").use_tls()
    with pytest.raises(ConfigError, match="uri"):
        edgevec.connect("milvus", uri="ftp://example.com")
    with pytest.raises(ConfigError, match="unknown option"):
        edgevec.connect("milvus", uri="x.db", colour="red")


def test_store_repr_hides_the_token(uri: str) -> None:
    with edgevec.connect("milvus", uri=uri, token=FAKE) as s:
        assert FAKE not in repr(s)


def test_closed_store_says_so(uri: str) -> None:
    s = edgevec.connect("milvus", uri=uri)
    coll = s.create_collection("closing", 4, exist_ok=True)
    s.drop_collection("closing")
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreClosedError, match="closed"):
        coll.count()
    with pytest.raises(StoreClosedError, match="closed"):
        s.list_collections()


def test_flush_policy() -> None:
    assert MilvusOptions(uri="x.db").flush_writes()
    assert not MilvusOptions(uri="https://example.com").flush_writes()
    assert MilvusOptions(uri="https://example.com", flush="always").flush_writes()
    assert not MilvusOptions(uri="x.db", flush="never").flush_writes()


def test_consistency_level_defaults_to_session_and_can_be_chosen() -> None:
    assert MilvusOptions(uri="x.db").consistency_level == "Session"
    assert MilvusOptions(uri="x.db", consistency_level="Strong").consistency_level == "Strong"
    with pytest.raises(ConfigError, match="consistency_level"):
        edgevec.connect("milvus", uri="x.db", consistency_level="Sometimes")


@pytest.mark.parametrize("index", ["hnsw", "IVF_FLAT", "autoindex", "flat"])
def test_index_kinds(store: MilvusStore, index: str) -> None:
    coll = store.create_collection(f"idx_{index.lower()}", 8, "l2", index=index, nlist=4)
    assert coll.capabilities.exact == (index == "flat")
    ids, vecs = [f"i{i}" for i in range(200)], _rand(200, 8, 10)
    coll.upsert_arrays(ids, vecs, [{"g": i % 4} for i in range(200)])
    top = coll.query(vecs[17], k=5, filter=F("g") == 1)
    assert top.ids[:1] == ["i17"]
    assert len(top) == 5
    assert store.collection(coll.name).spec.options["index"] == index.upper()


@pytest.mark.parametrize(
    ("index", "honoured"),
    [("hnsw", {"ef"}), ("IVF_FLAT", set()), ("autoindex", set()), ("flat", {"exact"})],
)
def test_search_params_each_index_honours(
    store: MilvusStore, index: str, honoured: set[str]
) -> None:
    """HNSW takes ``ef``, FLAT is exact; anything else is refused before a request rather than
    forwarded to Milvus as before (which ignored or rejected unknown keys)."""
    coll = store.create_collection(f"sp_{index.lower()}", 8, "l2", index=index, nlist=8)
    assert coll.capabilities.honoured_params() == honoured
    ids, vecs = [f"i{i}" for i in range(300)], _rand(300, 8, 13)
    pays: list[dict[str, Any]] = [{} for _ in ids]
    coll.upsert_arrays(ids, vecs)
    for q in _rand(5, 8, 14):
        if "exact" in honoured:
            hits = coll.query(q, k=20, params={"exact": True})
            assert_hits_match(hits, ids, vecs, pays, q, 20, "l2")
        if "ef" in honoured:
            assert len(coll.query(q, k=20, params={"ef": 200})) == 20
    for name in {"ef", "exact"} - honoured:
        with pytest.raises(InvalidInputError, match=f"search params {name}"):
            coll.query(vecs[0], params={name: 16 if name == "ef" else True})


def test_narrow_filter_on_hnsw_still_returns_k(store: MilvusStore) -> None:
    """Milvus Lite's filtered HNSW runs dry on narrow filters; the collection widens ``ef``."""
    coll = store.create_collection("narrow", 16, "l2", index="hnsw", m=16, ef=64)
    n = 300
    vecs = _rand(n, 16, 12)
    pays = [{"rare": i % 19 == 0} for i in range(n)]  # 16 of 300
    ids = [f"h{i}" for i in range(n)]
    coll.upsert_arrays(ids, vecs, pays)
    flt = F("rare") == True  # noqa: E712  # builds a filter, not a comparison
    want = {i for i, p in zip(ids, pays, strict=True) if p["rare"]}
    for seed in range(10):
        hits = coll.query(_rand(1, 16, 100 + seed)[0], k=15, filter=flt)
        assert len(hits) == 15
        assert set(hits.ids) <= want


def test_invalid_index_options(store: MilvusStore) -> None:
    with pytest.raises(ConfigError, match="index"):
        store.create_collection("bad_index", 4, index="DISKANN")
    with pytest.raises(ConfigError):
        store.create_collection("bad_m", 4, index="hnsw", m=1)
    assert not store.has_collection("bad_index")


def test_import_edgevec_does_not_import_pymilvus() -> None:
    code = "import sys, edgevec; edgevec.registry.available(); print('pymilvus' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- async


def test_async_store_is_native(uri: str) -> None:
    async def main() -> None:
        astore = edgevec.connect_async("milvus", uri=uri)
        assert isinstance(astore, AsyncMilvusStore)
        async with astore:
            coll = await astore.create_collection("async_items", 4, "dot")
            vecs = _rand(20, 4, 11)
            await coll.upsert_arrays(
                [f"a{i}" for i in range(20)], vecs, [{"i": i} for i in range(20)]
            )
            assert await coll.count(F("i") < 5) == 5  # read-your-writes through the async client
            hits = await coll.query(vecs[3], k=3, filter=F("i") != 3)
            assert len(hits) == 3
            assert "a3" not in hits.ids
            await coll.delete(filter=F("i") >= 10)
            assert await coll.count() == 10
            assert [r.id for r in await coll.get(["a1", "a15"])] == ["a1"]
            assert type(astore._async).__name__ == "AsyncMilvusClient"
            assert coll.explain(F("i") == 1) == compile_filter(Cmp("i", "eq", 1))
            await astore.drop_collection("async_items")
            assert "async_items" not in await astore.list_collections()

    asyncio.run(main())


# --------------------------------------------------------------------------- concurrency


def test_threaded_writers_keep_exactly_the_acknowledged_records(store: MilvusStore) -> None:
    """8 threads, each opening the collection and mixing upserts, overwrites, deletes and reads:
    Milvus Lite's engine is not thread-safe, so unserialised writes failed their flush after
    storing. Reads run beside other threads' flushes and still see the thread's own writes."""
    store.create_collection("hammer", 4)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for j in range(6):
                coll = store.collection("hammer")
                coll.upsert_arrays([f"{t}-{j}", f"{t}-x"], _rand(2, 4, t * 10 + j), [{"j": j}] * 2)
                assert [r.payload for r in coll.get([f"{t}-{j}", f"{t}-x"])] == [{"j": j}] * 2
                if j % 3 == 2:
                    coll.delete([f"{t}-{j - 1}"])
                    assert coll.get([f"{t}-{j - 1}"]) == []
        except BaseException as exc:  # asserted on below, after the join
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    want = {f"{t}-{j}" for t in range(8) for j in (0, 2, 3, 5)} | {f"{t}-x" for t in range(8)}
    coll = store.collection("hammer")
    assert coll.count() == len(want)
    candidates = [f"{t}-{j}" for t in range(8) for j in range(6)] + [f"{t}-x" for t in range(8)]
    got = coll.get(candidates, include_vectors=False)
    assert {r.id for r in got} == want
    assert {r.payload["j"] for r in got if r.id.endswith("-x")} == {5}  # the last overwrite won


def test_concurrent_async_creates_share_one_collection(uri: str) -> None:
    """20 tasks ``create_collection(exist_ok=True)`` + one upsert each, with a sync store of the
    same ``.db`` writing meanwhile: every create succeeds and every record is kept."""

    async def main() -> None:
        async with edgevec.connect_async("milvus", uri=uri) as astore:

            async def task(i: int) -> None:
                coll = await astore.create_collection("crowd", 4, exist_ok=True)
                await coll.upsert([Record(f"a{i}", _rand(1, 4, i)[0], {"i": i})])

            with edgevec.connect("milvus", uri=uri) as sstore:

                def side() -> None:
                    for i in range(5):
                        coll = sstore.create_collection("crowd", 4, exist_ok=True)
                        coll.upsert([Record(f"s{i}", _rand(1, 4, 100 + i)[0])])

                await asyncio.gather(asyncio.to_thread(side), *(task(i) for i in range(20)))
            coll = await astore.collection("crowd")
            assert await coll.count() == 25
            got = await coll.get([f"a{i}" for i in range(20)], include_vectors=False)
            assert sorted(r.payload["i"] for r in got) == list(range(20))
            await astore.drop_collection("crowd")

    asyncio.run(main())


def test_create_that_loses_a_race_checks_the_shape(store: MilvusStore) -> None:
    """A create finding the name taken since the base class looked opens that collection only
    if its dim and metric are the ones asked for."""
    store.create_collection("raced", 4, "l2")
    lost = CollectionSpec("raced", 4, "l2", {}, None)
    assert store._create(lost).spec.metric == "l2"
    with pytest.raises(CollectionExistsError, match="dim=4"):
        store._create(CollectionSpec("raced", 8, "l2", {}, None))


def test_every_engine_call_goes_through_the_driver(store: MilvusStore) -> None:
    """DDL and data calls alike reach the driver's listeners, with the vendor's error mapped."""
    seen: list[CallEvent] = []
    remove = add_listener(seen.append)
    try:
        coll = store.create_collection("observed", 4)
        coll.upsert([Record("a", np.ones(4, np.float32))])
        with edgevec.deadline(5.0):
            assert coll.query(np.ones(4, np.float32), k=1).ids == ["a"]
        store.drop_collection("observed")
    finally:
        remove()
    names = [e.operation for e in seen]
    for op in ("create_collection", "upsert", "flush", "search", "drop_collection"):
        assert op in names
    assert all(e.backend == "milvus" and e.error is None for e in seen)


async def test_async_lite_writes_keep_the_per_db_lock(uri: str) -> None:
    """An async write on Milvus Lite waits for the .db's engine lock, held here by the test."""
    async with edgevec.connect_async("milvus", uri=uri) as s:
        coll = await s.create_collection("locked", 4)
        lock = engine_lock(MilvusOptions(uri=uri))
        with lock:
            write = asyncio.ensure_future(coll.upsert([Record("a", np.ones(4, np.float32))]))
            await asyncio.sleep(0.3)
            assert not write.done()  # blocked on the lock, not written concurrently
        await write
        assert await coll.count() == 1
        await s.drop_collection("locked")


def test_range_bounds_are_written_so_a_server_reads_them() -> None:
    """A Milvus server rejects the literal -2**63 (measured on 2.3.5) and compares JSON numbers
    as doubles: bounds become equivalent comparisons it reads, checked here on the text and in
    the live suite against the server itself."""
    low = -(2**63)
    for flt in (F("x") > low, F("x") >= low, F("x") < low, F("x") <= low, ~(F("x") > low)):
        for doubles in (False, True):
            assert str(low) not in compile_filter(flt, doubles=doubles)
    assert "> 9007199254740993)" in compile_filter(F("x") > 2**53 + 1)  # exact on Lite
    # on doubles, x > 2**53 + 1 is x >= the next double up, 2**53 + 2
    assert ">= 9007199254740994.0)" in compile_filter(F("x") > 2**53 + 1, doubles=True)
