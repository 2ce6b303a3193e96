"""Weaviate specifics: name and property encoding, filter translation and semantics, score
conversion, batch errors, deadlines, errors and secrets.

Everything runs the official weaviate-client, unchanged, against the wire-level test server in
``tests/servers/weaviate_server.py`` (REST + gRPC on loopback, brute-force search); edgevec's
code is never mocked. Some tests also drive the raw client to check that the test server answers
the way the client expects of Weaviate.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest
from pydantic import SecretStr

pytest.importorskip(
    "weaviate", reason='Weaviate extra not installed: pip install "edgevec[weaviate]"'
)

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
import httpx
import weaviate  # after the skip guard
import weaviate.connect.v4
from weaviate.classes.config import DataType, Property
from weaviate.classes.query import Filter as WFilter
from weaviate.classes.query import MetadataQuery
from weaviate.connect.base import ConnectionParams, ProtocolParams
from weaviate.exceptions import UnexpectedStatusCodeError, WeaviateQueryError

import edgevec
from edgevec import F, Record
from edgevec.backends.weaviate import (
    CLASS_PREFIX,
    ID_NAMESPACE,
    MAX_PROPERTY_NAME,
    WeaviateOptions,
    WeaviateStore,
    class_name,
    client_kwargs,
    collection_name,
    compile_where,
    decode_name,
    encode_name,
    endpoints,
    map_error,
    object_properties,
    object_uuid,
    parse_version,
    property_name,
    property_path,
    to_score,
)
from edgevec.backends.weaviate.channel import FailFastError, fail_fast_params
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    FilterNotSupportedError,
    InvalidInputError,
    PartialWriteError,
)
from edgevec.filters import Cmp, Filter
from edgevec.router.policy import is_retryable
from edgevec.testing.oracle import exact_scores
from tests.servers.weaviate_server import WeaviateTestServer

SECRET = "s3cr3t-weaviate-key-value"  # noqa: S105  # a dummy key to look for in outputs
Vectors = npt.NDArray[np.float32]


def _rand(n: int, dim: int, seed: int) -> Vectors:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.fixture(scope="module")
def server() -> Iterator[WeaviateTestServer]:
    with WeaviateTestServer() as srv:
        yield srv


def _options(srv: WeaviateTestServer, **extra: Any) -> dict[str, Any]:
    return {"url": srv.url, "grpc_port": srv.grpc_port, **extra}


@pytest.fixture
def store(server: WeaviateTestServer) -> Iterator[WeaviateStore]:
    with edgevec.connect("weaviate", **_options(server)) as s:
        assert isinstance(s, WeaviateStore)
        before = set(s.list_collections())
        yield s
        for name in set(s.list_collections()) - before:  # what the test made
            s.drop_collection(name)


@pytest.fixture
def raw(server: WeaviateTestServer) -> Iterator[weaviate.WeaviateClient]:
    """The plain weaviate-client, as an application would connect it."""
    client = weaviate.connect_to_custom(
        http_host="127.0.0.1",
        http_port=server.http_port,
        http_secure=False,
        grpc_host="127.0.0.1",
        grpc_port=server.grpc_port,
        grpc_secure=False,
        skip_init_checks=True,
    )
    try:
        yield client
    finally:
        client.close()


# ---------------------------------------------------------------------------- names


AWKWARD = ["items", "Items", "ITEMS", "my_coll", "_x", "a.b", "a_9b", "é ü/🙂", "x" * 63, "", "_"]


@pytest.mark.parametrize("text", AWKWARD)
def test_encoding_round_trips_and_ignores_case(text: str) -> None:
    enc = encode_name(text)
    assert decode_name(enc) == text
    assert enc == enc.lower()  # Weaviate names are unique ignoring case: never rely on it
    assert set(enc) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")


def test_encoding_is_injective_and_canonical() -> None:
    rng = random.Random(7)
    alphabet = "aZ_.9é🙂 "
    seen: dict[str, str] = {}
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        enc = encode_name(text)
        assert seen.setdefault(enc, text) == text
        assert decode_name(enc) == text
    for bad in ["A", "_", "_x_", "_0041_", "_0_", "_0zz_", "a-b", "_0110000_"]:
        assert decode_name(bad) is None, bad


def test_class_names_are_reversible_and_only_edgevec_classes_count() -> None:
    for name in ["items", "Items", "ITEMS", "_x", "a" * 63, "conf_0123abcd"]:
        cls = class_name(name)
        assert cls.startswith(CLASS_PREFIX)
        assert cls[0].isupper()
        assert len(cls) <= 255
        assert collection_name(cls) == name
    assert len({class_name(n).lower() for n in ["items", "Items", "ITEMS"]}) == 3
    for foreign in ["Article", "Edgevec_", "Edgevec_A", "Edgevec__0041_", "Edgevec_has_9dot"]:
        assert collection_name(foreign) is None, foreign
    with pytest.raises(InvalidInputError):
        class_name("has space")


def test_property_names_are_reversible_and_limited() -> None:
    for path in ["color", "meta.k", "Meta.K", "ü", "a_b"]:
        for kind in ("s", "n", "i", "b"):
            prop = property_name(path, kind)
            assert property_path(prop) == (path, kind)
    assert property_path("ev_id") is None
    assert property_path("px_a") is None
    long_path = "k" * (MAX_PROPERTY_NAME - 3)
    assert len(property_name(long_path, "s")) == MAX_PROPERTY_NAME


def test_object_ids_are_uuid5_in_one_fixed_namespace() -> None:
    assert object_uuid("sku-1") == str(uuid.uuid5(ID_NAMESPACE, "sku-1"))
    assert str(ID_NAMESPACE) == "6f1c3f9e-5d2a-5b8e-9a47-2c0e8d1b7a35"  # never changes
    assert object_uuid("1") != object_uuid("01")


def test_derived_properties_keep_kinds_apart() -> None:
    needed: dict[str, DataType] = {}
    payload = {
        "v": [3, "3", True, 3.0, None, [1], {"x": 1}, 2**53 + 1, 2**60],
        "m": {"k": " red ", "e": []},
        "d.e": 1,
        "n": None,
        "E": 2.5,
    }
    props = object_properties("r1", payload, needed)
    assert props["ev_id"] == "r1"
    assert orjson.loads(props["ev_payload"]) == payload  # the payload itself, verbatim
    assert props["ev_paths"] == ["*", "v", "m", "m_9k", "_e"]  # no "n", "m.e" or "d.e"
    assert props["ps_v"] == ["|3|"]
    assert props["pn_v"] == [3.0, float(2**60)]  # 3 and 3.0 are one number
    assert props["pi_v"] == [2**53 + 1]  # a double cannot hold it: exact int64
    assert props["pb_v"] == [True]
    assert props["ps_m_9k"] == ["| red |"]  # bars survive Weaviate's whitespace trimming
    assert props["pn__e"] == [2.5]
    assert "pi__e" not in props  # created in the schema (numbers need both), empty here
    assert needed["pi__e"] == DataType.INT_ARRAY
    assert needed["ps_v"] == DataType.TEXT_ARRAY
    assert not any(p.startswith(("pn_n", "ps_d", "pn_d")) for p in props)


def test_too_long_paths_only_support_exists() -> None:
    long_key = "k" * MAX_PROPERTY_NAME
    props = object_properties("r", {long_key: 1})
    assert encode_name(long_key) in props["ev_paths"]
    assert set(props) == {"ev_id", "ev_payload", "ev_paths"}
    with pytest.raises(FilterNotSupportedError, match="too long"):
        compile_where(Cmp(long_key, "eq", 1), set())
    where, _ = compile_where(Cmp(long_key, "exists", True), set())
    assert where == {
        "operator": "ContainsAny",
        "path": ["ev_paths"],
        "valueTextArray": [encode_name(long_key)],
    }


# -------------------------------------------------------------------------- filters


KNOWN = {"ps_c", "pn_c", "pi_c", "pb_c", "pn_n", "pi_n", "ev_paths"}


def test_filter_translation() -> None:
    def where(flt: Filter) -> Any:
        compiled, _ = compile_where(flt, KNOWN)
        return compiled

    red = {"operator": "ContainsAny", "path": ["ps_c"], "valueTextArray": ["|red|"]}
    assert where(F("c") == "red") == red
    assert where(F("c") != "red") == {"operator": "Not", "operands": [red]}
    assert where(~(F("c") != "red")) == red  # double negation cancels
    assert where(F("c") == True) == {  # noqa: E712
        "operator": "ContainsAny",
        "path": ["pb_c"],
        "valueBooleanArray": [True],
    }
    assert where(F("c") == 3) == {
        "operator": "ContainsAny",
        "path": ["pn_c"],
        "valueNumberArray": [3.0],
    }
    assert where(F("c").isin(["a", 1, 1.0, True, 2**53 + 1])) == {
        "operator": "Or",
        "operands": [
            {"operator": "ContainsAny", "path": ["ps_c"], "valueTextArray": ["|a|"]},
            {"operator": "ContainsAny", "path": ["pn_c"], "valueNumberArray": [1.0]},
            {"operator": "ContainsAny", "path": ["pb_c"], "valueBooleanArray": [True]},
            {"operator": "ContainsAny", "path": ["pi_c"], "valueIntArray": [2**53 + 1]},
        ],
    }
    assert where(F("n") < 2.5) == {
        "operator": "Or",
        "operands": [
            {"operator": "LessThan", "path": ["pn_n"], "valueNumber": 2.5},
            {"operator": "LessThanEqual", "path": ["pi_n"], "valueInt": 2},
        ],
    }
    assert where(F("x.y").exists()) == {
        "operator": "ContainsAny",
        "path": ["ev_paths"],
        "valueTextArray": ["x_9y"],
    }


def test_constants_fold_and_report_missing_properties() -> None:
    flt = (F("c") == "red") & (F("nope") == 1)
    compiled, missing = compile_where(flt, KNOWN)
    assert compiled is False
    assert missing == {"pn_nope"}
    assert compile_where(~(F("nope") == 1), KNOWN)[0] is True
    assert (
        compile_where((F("nope") == 1) | (F("c") == 3), KNOWN)[0]
        == compile_where(F("c") == 3, KNOWN)[0]
    )


def test_range_bounds_are_exact_for_big_ints() -> None:
    big = 2**53 + 1  # between the doubles 2**53 and 2**53 + 2
    compiled, _ = compile_where(F("n") < big, KNOWN)
    assert compiled == {
        "operator": "Or",
        "operands": [
            {"operator": "LessThanEqual", "path": ["pn_n"], "valueNumber": float(2**53)},
            {"operator": "LessThan", "path": ["pi_n"], "valueInt": big},
        ],
    }
    compiled, _ = compile_where(F("n") > 1e300, KNOWN)  # no int64 is above it
    assert compiled == {"operator": "GreaterThan", "path": ["pn_n"], "valueNumber": 1e300}


def test_lone_surrogate_filter_value_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        compile_where(F("c") == "\ud800", KNOWN)


def test_explain_shows_what_weaviate_receives(store: WeaviateStore) -> None:
    coll = store.create_collection("ex", 2, "dot", index="flat")
    coll.upsert([Record("a", np.ones(2, np.float32), {"c": "red"})])
    assert coll.explain(F("c") == "red") == (
        '{"operator":"ContainsAny","path":["ps_c"],"valueTextArray":["|red|"]}'
    )
    assert coll.explain(F("c") == 1).startswith("false (constant")  # no number ever stored
    assert coll.count(F("c") == 1) == 0


def test_filters_see_properties_added_by_another_client(server: WeaviateTestServer) -> None:
    """A second store's schema cache is refreshed when a filter names a property it lacks."""
    with (
        edgevec.connect("weaviate", **_options(server)) as a,
        edgevec.connect("weaviate", **_options(server)) as b,
    ):
        ca = a.create_collection("shared", 2, "l2", index="flat")
        ca.upsert([Record("r1", np.ones(2, np.float32), {"x": 1})])
        cb = b.collection("shared")
        assert cb.count(F("y") == "new") == 0
        ca.upsert([Record("r2", np.ones(2, np.float32), {"y": "new"})])
        assert cb.count(F("y") == "new") == 1
        cb.upsert([Record("r3", np.ones(2, np.float32), {"y": "new", "x": 2**53 + 1})])
        assert ca.count(F("x") > 2**53) == 1
        a.drop_collection("shared")


def test_negation_needs_weaviate_1_33() -> None:
    """Weaviate's Not operator arrived in 1.33: older servers get positive filters only, and
    negations raise before any request."""
    with (
        WeaviateTestServer(version="1.32.4") as old,
        edgevec.connect("weaviate", **_options(old)) as s,
    ):
        coll = s.create_collection("old", 2, "cosine", index="flat")
        assert {"not", "ne", "nin"}.isdisjoint(coll.capabilities.filter_ops)
        coll.upsert([Record("a", np.ones(2, np.float32), {"c": "red", "n": 1})])
        assert coll.count((F("c") == "red") & (F("n") >= 1)) == 1
        old.fail_next_rpcs(1)  # a request would fail: there is none
        for flt in (F("c") != "red", ~F("c").exists(), F("c").notin(["x"])):
            with pytest.raises(FilterNotSupportedError):
                coll.query(np.ones(2, np.float32), filter=flt)
        assert old.pending_failures == 1


# --------------------------------------------------------------------------- scores


def test_score_conversion() -> None:
    assert to_score(0.25, "cosine") == 0.75
    assert to_score(-3.5, "dot") == 3.5
    assert to_score(9.0, "l2") == -3.0
    assert to_score(-1e-9, "l2") == 0.0  # float noise below zero is not a NaN


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_raw_distances_convert_to_exact_scores(
    store: WeaviateStore, raw: weaviate.WeaviateClient, metric: str
) -> None:
    """What Weaviate reports per distance (1 - cos, -dot, squared l2) becomes edgevec's score."""
    x, q = _rand(20, 6, 1), _rand(1, 6, 2)[0]
    coll = store.create_collection(f"s_{metric}", 6, metric, index="flat")
    coll.upsert_arrays([str(i) for i in range(20)], x)
    res = raw.collections.use(class_name(coll.name)).query.near_vector(
        near_vector=q.tolist(),
        limit=20,
        target_vector="default",
        return_metadata=MetadataQuery(distance=True),
        return_properties=["ev_id"],
    )
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    expected = {
        "cosine": 1 - (x64 @ q64) / (np.linalg.norm(x64, axis=1) * np.linalg.norm(q64)),
        "dot": -(x64 @ q64),
        "l2": ((x64 - q64) ** 2).sum(axis=1),
    }[metric]
    for obj in res.objects:
        row = int(str(obj.properties["ev_id"]))
        assert obj.metadata.distance == pytest.approx(expected[row], abs=1e-4)
    truth = exact_scores(x, q, metric)  # type: ignore[arg-type]  # parametrised literal
    for hit in coll.query(q, k=20):
        assert hit.score == pytest.approx(truth[int(hit.id)], abs=1e-4)


# ----------------------------------------------------------------------- batch errors


def test_rejected_objects_raise_one_error_listing_them(
    server: WeaviateTestServer, raw: weaviate.WeaviateClient
) -> None:
    with edgevec.connect("weaviate", **_options(server, batch_size=2)) as s:
        coll = s.create_collection("batch", 2, "dot", index="flat")
        # Another tool made ps_color a number array: string colours cannot be stored.
        raw.collections.use(class_name("batch")).config.add_property(
            Property(name="ps_color", data_type=DataType.NUMBER_ARRAY)
        )
        pays: list[dict[str, Any]] = [{"color": "red"}, {}, {"n": 1}, {"color": "blue"}, {}]
        ids = ["bad-1", "ok-1", "ok-2", "bad-2", "ok-3"]
        with pytest.raises(PartialWriteError) as info:
            coll.upsert_arrays(ids, _rand(5, 2, 3), pays)  # three requests, one error
        err = info.value
        assert set(err.failed) == {"bad-1", "bad-2"}
        assert "ps_color" in err.failed["bad-1"]
        for part in ("2 of 5", "'bad-1'", "'bad-2'"):
            assert part in str(err)
        assert sorted(r.id for r in coll.get(ids)) == ["ok-1", "ok-2", "ok-3"]
        # A chunk rejected whole makes the client raise (without indices); the next chunk is
        # still sent and the error still lists every rejected id.
        pays = [{"color": "x"}, {"color": "y"}, {}]
        with pytest.raises(PartialWriteError) as every:
            coll.upsert_arrays(["bad-3", "bad-4", "ok-4"], _rand(3, 2, 4), pays)
        assert set(every.value.failed) == {"bad-3", "bad-4"}
        assert "ps_color" in every.value.failed["bad-4"]
        assert isinstance(
            every.value.__cause__, weaviate.exceptions.WeaviateInsertManyAllFailedError
        )
        assert coll.count() == 4
        s.drop_collection("batch")


async def test_async_rejections_make_one_error_too(
    server: WeaviateTestServer, raw: weaviate.WeaviateClient
) -> None:
    async with edgevec.connect_async("weaviate", **_options(server, batch_size=1)) as s:
        coll = await s.create_collection("abatch", 2, "dot", index="flat")
        raw.collections.use(class_name("abatch")).config.add_property(
            Property(name="pb_ok", data_type=DataType.TEXT_ARRAY)
        )
        with pytest.raises(PartialWriteError) as info:
            await coll.upsert_arrays(["a", "b", "c"], _rand(3, 2, 8), [{"ok": True}, {}, {"ok": 1}])
        assert set(info.value.failed) == {"a"}
        assert info.value.__cause__ is not None  # the one-object chunk was rejected whole
        assert await coll.count() == 2
        await s.drop_collection("abatch")


# ---------------------------------------------------------------------- deadlines


def test_unavailable_fails_fast_without_the_clients_backoff(
    store: WeaviateStore, server: WeaviateTestServer
) -> None:
    coll = store.create_collection("ff", 2, "cosine", index="flat")
    server.fail_next_rpcs(3)
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="UNAVAILABLE") as info:
        coll.count()
    assert time.monotonic() - start < 1.0  # the client would sleep 1 s before its first retry
    assert info.value.__cause__ is not None
    assert server.pending_failures == 2  # one request, no retry
    server.fail_next_rpcs(0, clear=True)
    assert coll.count() == 0


def test_the_client_builds_its_channels_in_the_one_hooked_method() -> None:
    """Fail-fast and the deadline rest on overriding ``ConnectionParams._grpc_channel`` (in
    ``edgevec.backends.weaviate.channel``). A client release that renames it, changes its
    parameters or stops calling it must fail here instead of bringing the minute of retries back."""
    hook = inspect.signature(ConnectionParams._grpc_channel)
    assert list(hook.parameters) == ["self", "proxies", "grpc_msg_size", "is_async", "grpc_config"]
    assert "._connection_params._grpc_channel(" in inspect.getsource(weaviate.connect.v4)
    with socket.socket() as sock:  # a port nothing listens on: every RPC is UNAVAILABLE
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rest = ProtocolParams(host="127.0.0.1", port=port % 65535 + 1, secure=False)
    rpc = ProtocolParams(host="127.0.0.1", port=port, secure=False)
    channel = fail_fast_params(rest, rpc)._grpc_channel({}, None, is_async=False)
    try:
        with pytest.raises(FailFastError, match="UNAVAILABLE"):
            channel.unary_unary("/weaviate.v1.Weaviate/Search")(b"", timeout=5.0)
    finally:
        channel.close()


def test_the_plain_client_would_back_off(
    server: WeaviateTestServer, raw: weaviate.WeaviateClient, store: WeaviateStore
) -> None:
    """The premise: without edgevec's channel, weaviate-client sleeps and retries UNAVAILABLE."""
    store.create_collection("plain", 2, "cosine", index="flat")
    server.fail_next_rpcs(1)
    start = time.monotonic()
    res = raw.collections.use(class_name("plain")).aggregate.over_all(total_count=True)
    assert res.total_count == 0
    assert time.monotonic() - start >= 1.0  # one back-off of 2**0 s, then success
    assert server.pending_failures == 0


def test_the_deadline_covers_the_whole_operation(server: WeaviateTestServer) -> None:
    """Five searches of 0.1 s each fit a 0.3 s RPC timeout one by one, not a 0.3 s deadline."""
    with edgevec.connect("weaviate", **_options(server, timeout=0.3)) as s:
        coll = s.create_collection("slow", 2, "cosine", index="flat")
        server.rpc_delay = 0.1
        try:
            coll.query(np.ones(2, np.float32), k=1)  # one search: within the deadline
            start = time.monotonic()
            with pytest.raises(BackendTimeoutError):
                coll.query_batch(np.ones((5, 2), np.float32), k=1)
            assert time.monotonic() - start < 0.45
        finally:
            server.rpc_delay = 0.0
        s.drop_collection("slow")


async def test_async_query_batch_runs_concurrently_within_one_deadline(
    server: WeaviateTestServer,
) -> None:
    """200 searches of 60 ms each take 12 s one after another, past the default 10 s deadline;
    in flight together they fit, and one slow search times the whole call out at the deadline."""
    async with edgevec.connect_async("weaviate", **_options(server)) as s:
        coll = await s.create_collection("abatch", 2, "cosine", index="flat")
        await coll.upsert([Record("a", np.ones(2, np.float32))])
        server.rpc_delay, server.rpc_peak = 0.06, 0
        try:
            start = time.monotonic()
            hits = await coll.query_batch(np.ones((200, 2), np.float32), k=1)
            assert time.monotonic() - start < 5.0
            assert [h[0].id for h in hits] == ["a"] * 200
            assert server.rpc_peak >= 16  # many requests were in flight at once
            server.rpc_delay = 0.0
            server.slow_next_rpc(2.0)
            start = time.monotonic()
            with edgevec.deadline(0.5), pytest.raises(BackendTimeoutError, match="deadline"):
                await coll.query_batch(np.ones((8, 2), np.float32), k=1)
            assert 0.45 < time.monotonic() - start < 1.2
        finally:
            server.rpc_delay = 0.0
        await s.drop_collection("abatch")


async def test_async_deadline_and_fail_fast(server: WeaviateTestServer) -> None:
    async with edgevec.connect_async("weaviate", **_options(server, timeout=0.3)) as s:
        coll = await s.create_collection("aslow", 2, "cosine", index="flat")
        server.rpc_delay = 0.4
        try:
            start = time.monotonic()
            with pytest.raises(BackendTimeoutError):
                await coll.query_batch(np.ones((5, 2), np.float32), k=1)
            assert time.monotonic() - start < 0.45
        finally:
            server.rpc_delay = 0.0
        server.fail_next_rpcs(2)
        with pytest.raises(BackendUnavailableError, match="UNAVAILABLE"):
            await coll.count()
        assert server.pending_failures == 1
        server.fail_next_rpcs(0, clear=True)
        await asyncio.gather(coll.count(), coll.count())  # concurrent calls share one client
        await s.drop_collection("aslow")


def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once it is closed
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        edgevec.connect("weaviate", url=f"http://127.0.0.1:{port}", timeout=2.0)
    assert time.monotonic() - start < 2.0


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, CollectionNotFoundError),
        (408, BackendTimeoutError),
        (429, BackendUnavailableError),
        (503, BackendUnavailableError),
        (500, BackendError),
    ],
)
def test_rest_statuses_map_to_edgevec_errors(status: int, expected: type[Exception]) -> None:
    response = httpx.Response(status, json={"error": [{"message": f"no, {SECRET}"}]})
    exc = UnexpectedStatusCodeError("Get schema", response)
    err = map_error(exc, "read collection 'x'", SecretStr(SECRET))
    assert type(err) is expected
    assert SECRET not in str(err)
    assert "read collection 'x'" in str(err)
    assert is_retryable(err) == (status in (408, 429, 500, 503))  # the router fails over


def test_grpc_statuses_map_to_edgevec_errors(
    store: WeaviateStore, server: WeaviateTestServer
) -> None:
    coll = store.create_collection("codes", 2, "cosine", index="flat")
    for code, expected in [
        (grpc.StatusCode.UNAUTHENTICATED, AuthenticationError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, BackendTimeoutError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, BackendUnavailableError),
        (grpc.StatusCode.INTERNAL, BackendError),
    ]:
        server.fail_next_rpcs(1, code)
        with pytest.raises(expected) as info:
            coll.count()
        assert type(info.value) is expected, code
        assert info.value.__cause__ is not None


def test_dropped_collection_is_not_found(store: WeaviateStore, server: WeaviateTestServer) -> None:
    coll = store.create_collection("gone", 2, "cosine", index="flat")
    with edgevec.connect("weaviate", **_options(server)) as other:
        other.drop_collection("gone")
    with pytest.raises(CollectionNotFoundError, match="could not find class"):
        coll.query(np.ones(2, np.float32))
    with pytest.raises(CollectionNotFoundError):
        store.collection("gone")


VECTORS_ONLY: dict[str, Any] = {"v": {"vectorizer": {"none": {}}}}


def test_case_insensitive_clash_is_an_existing_collection(
    store: WeaviateStore, raw: weaviate.WeaviateClient
) -> None:
    """Weaviate refuses a class whose name differs from another only in case."""
    store.create_collection("clash", 2, "cosine")
    with pytest.raises(UnexpectedStatusCodeError) as info:
        raw.collections.create_from_dict({"class": "EDGEVEC_clash", "vectorConfig": VECTORS_ONLY})
    assert info.value.status_code == 422
    raw.collections.create_from_dict({"class": "EDGEVEC_rival", "vectorConfig": VECTORS_ONLY})
    try:
        assert not store.has_collection("rival")  # lookups are case-sensitive ...
        with pytest.raises(CollectionExistsError, match="already exists"):
            store.create_collection("rival", 2, "cosine")  # ... creation is not
    finally:
        raw.collections.delete("EDGEVEC_rival")


def test_foreign_classes_are_not_collections(
    store: WeaviateStore, raw: weaviate.WeaviateClient
) -> None:
    raw.collections.create_from_dict({"class": "Article", "vectorConfig": VECTORS_ONLY})
    try:
        store.create_collection("mine", 2, "cosine")
        names = store.list_collections()
        assert "mine" in names
        assert len(names) == len(raw.collections.list_all()) - 1  # all but Article
    finally:
        raw.collections.delete("Article")


def test_collection_options_round_trip(store: WeaviateStore, server: WeaviateTestServer) -> None:
    hnsw = store.create_collection("opts", 3, "l2", ef=64, max_connections=16)
    assert not hnsw.capabilities.exact  # HNSW: approximate, checked by recall
    again = store.collection("opts")
    assert (again.dim, again.metric) == (3, "l2")
    assert again.spec.options["ef"] == 64
    assert again.spec.options["index"] == "hnsw"
    assert (
        server.classes[class_name("opts")].schema["vectorConfig"]["default"]["vectorIndexConfig"][
            "distance"
        ]
        == "l2-squared"
    )
    with pytest.raises(ConfigError, match="nlist"):
        store.create_collection("bad", 3, nlist=4)
    with pytest.raises(InvalidInputError, match="search params ef"):  # no per-query ef on Weaviate
        again.query(np.ones(3, np.float32), params={"ef": 10})


def test_deletes_beyond_the_per_request_limit(
    store: WeaviateStore, server: WeaviateTestServer
) -> None:
    coll = store.create_collection("many", 2, "dot", index="flat")
    ids = [f"m{i}" for i in range(12)]
    coll.upsert_arrays(ids, _rand(12, 2, 9), [{"even": i % 2 == 0} for i in range(12)])
    server.max_results = 5  # Weaviate deletes at most QUERY_MAXIMUM_RESULTS per request
    try:
        coll.delete(filter=F("even") == True)  # noqa: E712
        assert coll.count() == 6
        coll.delete(filter=~F("nope").exists())  # matches everything: the match-all filter
        assert coll.count() == 0
    finally:
        server.max_results = 10_000


# -------------------------------------------------------------- the test server itself


def test_test_server_meets_the_clients_expectations(
    store: WeaviateStore, raw: weaviate.WeaviateClient
) -> None:
    """Raw weaviate-client calls a real Weaviate answers: readiness, full schema parsing, the
    REST object endpoints, id filters over gRPC."""
    coll = store.create_collection("expect", 3, "cosine", index="flat")
    coll.upsert([Record("r", np.array([1, 2, 3], np.float32), {"k": "v", "n": 1.5})])
    assert raw.is_ready()
    assert raw.is_live()
    handle = raw.collections.use(class_name("expect"))
    config = handle.config.get()  # the full parser: every default Weaviate fills in
    assert config.vector_config is not None
    assert config.vector_config["default"].vector_index_config is not None
    assert {p.name for p in config.properties} >= {"ev_id", "ev_payload", "ev_paths", "ps_k"}
    assert class_name("expect") in raw.collections.list_all(simple=False)
    uid = object_uuid("r")
    assert handle.data.exists(uid)
    obj = handle.query.fetch_object_by_id(uid, include_vector=True)
    assert obj is not None
    assert obj.properties["ev_id"] == "r"
    assert obj.vector["default"] == pytest.approx([1.0, 2.0, 3.0])
    found = handle.query.fetch_objects(filters=WFilter.by_id().equal(uid))
    assert [str(o.uuid) for o in found.objects] == [uid]
    with pytest.raises(WeaviateQueryError, match="no such prop"):
        handle.query.fetch_objects(filters=WFilter.by_property("missing").equal("x"))
    with pytest.raises(WeaviateQueryError, match="valueInt"):  # numbers need valueNumber
        handle.query.fetch_objects(filters=WFilter.by_property("pn_n").equal(1))
    assert handle.data.delete_by_id(uid)
    assert not handle.data.exists(uid)
    assert coll.count() == 0


# ------------------------------------------------------------------------ secrets


def test_api_key_is_required_and_never_shown() -> None:
    with WeaviateTestServer(api_key=SECRET) as srv:
        with edgevec.connect("weaviate", **_options(srv, api_key=SECRET)) as s:
            assert SECRET not in repr(s)
            coll = s.create_collection("auth", 2, "cosine", index="flat")
            coll.upsert([Record("a", np.ones(2, np.float32))])  # gRPC carries it too
            assert coll.count() == 1
        with pytest.raises(AuthenticationError) as info:
            edgevec.connect("weaviate", **_options(srv, api_key="wrong-" + SECRET))
        assert SECRET not in str(info.value)
        with pytest.raises(AuthenticationError):
            edgevec.connect("weaviate", **_options(srv))


def test_tls_defaults_and_endpoints() -> None:
    remote = endpoints(WeaviateOptions(url="weaviate.example.com", api_key=SecretStr(SECRET)))
    assert (remote.secure, remote.http_port, remote.grpc_host, remote.grpc_port) == (
        True, 443, "weaviate.example.com", 50051,
    )  # fmt: skip
    local = endpoints(WeaviateOptions(url="localhost:8080"))
    assert (local.secure, local.http_port, local.grpc_port) == (False, 8080, 50051)
    cloud = endpoints(WeaviateOptions(url="https://abc123.c0.europe-west3.gcp.weaviate.cloud"))
    assert (cloud.grpc_host, cloud.grpc_port, cloud.secure) == (
        "grpc-abc123.c0.europe-west3.gcp.weaviate.cloud", 443, True,
    )  # fmt: skip
    assert endpoints(WeaviateOptions(url="10.0.0.5:8080", tls=False)).secure is False
    kwargs = client_kwargs(WeaviateOptions(url="weaviate.example.com", timeout=3))
    assert kwargs["skip_init_checks"] is True
    assert kwargs["additional_config"].connection.session_pool_max_retries == 0
    assert kwargs["additional_config"].timeout.query == 3


@pytest.mark.parametrize(
    "options",
    [
        {"url": "http://weaviate.example.com", "api_key": SECRET},  # key in clear text
        {"url": "https://host", "tls": False},
        {"url": "ftp://host"},
        {"url": "https://host/prefix"},
        {"url": "https://user:pw@host"},
        {"url": "localhost:50051"},  # REST and gRPC on one port
        {"url": "localhost", "timeout": 0},
        {"url": "localhost", "bogus": 1},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        edgevec.connect("weaviate", **options)
    assert SECRET not in str(info.value)


def test_version_parsing() -> None:
    assert parse_version("1.35.2") == (1, 35, 2)
    assert parse_version("v1.33.0-rc.1") == (1, 33, 0)
    assert parse_version("1.28") == (1, 28, 0)
