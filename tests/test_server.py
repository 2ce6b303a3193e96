"""The HTTP service on a real uvicorn (loopback port) with a real HTTP client, over FAISS with the
bundled image model and the sample photos and clipart in tests/data.

Every rejected request is checked to leave the store exactly as it was (count, stored records,
and a query's answer); search results are judged by the exact numpy oracle; the statuses the
server really sends are collected and compared with its OpenAPI document at the end.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')
pytest.importorskip("httpx", reason='needs the test extra: pip install "edgevec[test]"')
pytest.importorskip(
    "edgevec.server", reason='needs the server extra: pip install "edgevec[server]"',
    exc_type=ImportError,  # edgevec.server raises MissingDependencyError naming the extra
)  # fmt: skip

import httpx
import orjson
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Route

import edgevec
from edgevec.embedders import OnnxImageEmbedder, image_embedder
from edgevec.errors import InvalidImageError
from edgevec.filters import as_filter
from edgevec.server import ServiceSettings, create_app
from edgevec.server.auth import PUBLIC_PATHS
from edgevec.server.batching import Batcher
from edgevec.testing.oracle import assert_hits_match
from edgevec.types import Hit, Hits
from tests.service_support import (
    DATA,
    PHOTOS,
    Indexed,
    ThreadServer,
    chunk,
    index_images,
    read_response,
    send_head,
)

KEY, OTHER_KEY = "test-key-alpha", "test-key-beta"
PHOTO = PHOTOS[0]
SENTENCES = DATA / "sentences.tsv"
LIMIT = 300_000
"""max_body_bytes: every sample image fits, and an over-limit body is cheap to build."""
SETTINGS = ServiceSettings.model_validate(
    {
        "collection": "images",
        "api_keys": [KEY, OTHER_KEY],
        "writes": True,
        "max_body_bytes": LIMIT,
        "max_k": 20,
    }
)

SEEN: dict[tuple[str, str], set[int]] = {}
"""(method, path) -> every status the server answered it with, in this module's tests."""


def _record(response: httpx.Response) -> None:
    SEEN.setdefault((response.request.method, response.request.url.path), set()).add(
        response.status_code
    )


@dataclass
class World:
    store: edgevec.BaseStore
    indexed: Indexed
    server: ThreadServer
    app: Starlette
    embedder: OnnxImageEmbedder

    def state(self) -> tuple[int, list[tuple[str, Any]], list[tuple[str, float]]]:
        """Count, every stored record, and a query's answer: what no rejected request may
        change."""
        coll = self.store.collection("images")
        records = sorted((r.id, dict(r.payload)) for r in coll.get(self.indexed.ids))
        hits = coll.query(self.indexed.vectors[0], k=20)
        return coll.count(), records, [(h.id, round(h.score, 5)) for h in hits]


@pytest.fixture(scope="module")
def embedder() -> OnnxImageEmbedder:
    return image_embedder()


@pytest.fixture(scope="module")
def world(embedder: OnnxImageEmbedder) -> Iterator[World]:
    store = edgevec.connect("faiss")
    indexed = index_images(store, "images", embedder)
    app = create_app(store, SETTINGS, embedder=embedder, registry=CollectorRegistry())
    with ThreadServer(app) as server:
        yield World(store, indexed, server, app, embedder)
    store.close()


def client(world: World, key: str | None = KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(
        base_url=world.server.url, headers=headers, event_hooks={"response": [_record]},
        timeout=30,
    )  # fmt: skip


def once(world: World, key: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a client of its own (with ``key``, or none)."""
    with client(world, key) as c:
        return c.request(method, path, **kwargs)


@pytest.fixture
def http(world: World) -> Iterator[httpx.Client]:
    with client(world) as c:
        yield c


def as_hits(body: dict[str, Any]) -> Hits:
    return Hits(Hit(r["id"], r["score"], r["payload"]) for r in body["result"])


def image(world: World, rid: str) -> bytes:
    return world.indexed.files[rid].read_bytes()


def rocket(world: World) -> bytes:
    return image(world, "photo/rocket.jpg")


def similarity(http: httpx.Client, data: bytes, **params: str) -> httpx.Response:
    return http.post(
        "/similarity", content=data, params=params, headers={"Content-Type": "image/jpeg"}
    )


# -- the happy path ------------------------------------------------------------------------------


def test_every_indexed_image_finds_itself_first(world: World, http: httpx.Client) -> None:
    ix = world.indexed
    for rid in ix.ids:
        response = similarity(http, image(world, rid))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["result"][0]["id"] == rid
        assert body["result"][0]["score"] == pytest.approx(1.0, abs=1e-4)
        assert body["time"] > 0
        query = world.embedder.embed([image(world, rid)])[0]
        assert_hits_match(as_hits(body), ix.ids, ix.vectors, ix.payloads, query, 5, "cosine")
        stages = [part.split(";")[0] for part in response.headers["server-timing"].split(", ")]
        assert stages == ["read", "embed", "search", "serialise"]


def test_similarity_with_k_and_filter_matches_the_oracle(world: World, http: httpx.Client) -> None:
    ix = world.indexed
    flt = {"field": "kind", "op": "eq", "value": "clipart"}
    rid = "photo/coffee.jpg"
    response = similarity(http, image(world, rid), k="7", filter=orjson.dumps(flt).decode())
    assert response.status_code == 200, response.text
    hits = as_hits(response.json())
    assert {h.payload["kind"] for h in hits} == {"clipart"}
    query = world.embedder.embed([image(world, rid)])[0]
    assert_hits_match(hits, ix.ids, ix.vectors, ix.payloads, query, 7, "cosine", as_filter(flt))


def test_search_by_vector_and_embed(world: World, http: httpx.Client) -> None:
    ix = world.indexed
    query = ix.vectors[3]
    response = http.post("/search", json={"vector": query.tolist(), "k": 4})
    assert response.status_code == 200, response.text
    assert_hits_match(as_hits(response.json()), ix.ids, ix.vectors, ix.payloads, query, 4, "cosine")
    data = image(world, "photo/rocket.jpg")
    embedded = http.post("/embed", content=data, headers={"Content-Type": "image/jpeg"})
    assert embedded.status_code == 200, embedded.text
    vector = np.asarray(embedded.json()["vector"], dtype=np.float32)
    assert embedded.json()["dim"] == 1280
    np.testing.assert_allclose(vector, world.embedder.embed([data])[0], atol=1e-6)


def test_writes_upsert_and_delete(world: World, http: httpx.Client) -> None:
    coll = world.store.collection("images")
    before = coll.count()
    vector = np.random.default_rng(1).standard_normal(1280).astype(np.float32)
    record = {"id": "new/vec", "vector": vector.tolist(), "payload": {"kind": "api"}}
    assert http.post("/upsert", json={"records": [record]}).status_code == 200
    data = image(world, "photo/astronaut.jpg")
    uploaded = http.post(
        "/upsert", content=data, params={"id": "new/img", "payload": '{"kind": "api"}'},
        headers={"Content-Type": "image/jpeg"},
    )  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    assert coll.count() == before + 2
    found = similarity(http, data, k="2", filter='{"field": "kind", "op": "eq", "value": "api"}')
    assert [h["id"] for h in found.json()["result"]] == ["new/img", "new/vec"]
    assert http.request("DELETE", "/items", json={"ids": ["new/img"]}).status_code == 200
    filter_delete = {"filter": {"field": "kind", "op": "eq", "value": "api"}}
    assert http.request("DELETE", "/items", json=filter_delete).status_code == 200
    assert coll.count() == before


# -- rejected requests ---------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims ``width`` x ``height`` pixels: a decompression bomb's calling
    card, refused from its header."""
    ihdr = struct.pack(">II5B", width, height, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + crc + b"\x00" * 64


Send = Callable[[World, httpx.Client], httpx.Response]
JPEG = {"Content-Type": "image/jpeg"}
RECORD_OK = {"id": "would-be-new", "vector": [0.1] * 1280}

REJECTED: dict[str, tuple[Send, int, str]] = {
    "no key": (
        lambda w, h: once(w, None, "POST", "/similarity", content=rocket(w)),
        401, "unauthorized",
    ),
    "wrong key": (
        lambda w, h: once(w, "nope", "POST", "/upsert", json={"records": [RECORD_OK]}),
        401, "unauthorized",
    ),
    "basic scheme": (
        lambda w, h: once(
            w, None, "POST", "/upsert", json={"records": [RECORD_OK]},
            headers={"Authorization": f"Basic {KEY}"},
        ),
        401, "unauthorized",
    ),
    "text to /similarity": (
        lambda w, h: h.post("/similarity", content=b"hi", headers={"Content-Type": "text/plain"}),
        415, "unsupported_media_type",
    ),
    "no content type": (
        lambda w, h: h.post("/similarity", content=b"x"), 415, "unsupported_media_type",
    ),
    "image to /search": (
        lambda w, h: h.post("/search", content=rocket(w), headers=JPEG),
        415, "unsupported_media_type",
    ),
    "truncated jpeg": (
        lambda w, h: similarity(h, rocket(w)[:3000]),
        422, "invalid_image",
    ),
    "decompression bomb": (
        lambda w, h: h.post("/similarity", content=_png_claiming(20_000, 20_000), headers=JPEG),
        422, "invalid_image",
    ),
    "not an image": (
        lambda w, h: h.post("/similarity", content=b"GIF89a" + b"\x00" * 64, headers=JPEG),
        422, "invalid_image",
    ),
    "bomb upserted": (
        lambda w, h: h.post(
            "/upsert", content=_png_claiming(30_000, 30_000), params={"id": "bomb"}, headers=JPEG
        ),
        422, "invalid_image",
    ),
    "k zero": (lambda w, h: similarity(h, rocket(w), k="0"), 400, "invalid_k"),
    "k over max_k": (lambda w, h: similarity(h, rocket(w), k="21"), 400, "invalid_k"),
    "k not a number": (lambda w, h: similarity(h, rocket(w), k="5e"), 400, "invalid_k"),
    "k in json": (
        lambda w, h: h.post("/search", json={"vector": [0.0], "k": True}), 400, "invalid_k",
    ),
    "filter not json": (
        lambda w, h: similarity(h, rocket(w), filter="{kind: 1}"),
        400, "invalid_filter",
    ),
    "filter unknown op": (
        lambda w, h: similarity(
            h, rocket(w), filter='{"field": "kind", "op": "like", "value": 1}'
        ),
        400, "invalid_filter",
    ),
    "search body not json": (
        lambda w, h: h.post("/search", content=b"{", headers={"Content-Type": "application/json"}),
        400, "invalid_request",
    ),
    "search wrong dimension": (
        lambda w, h: h.post("/search", json={"vector": [0.5, 0.5]}), 422, "invalid_input",
    ),
    "search text with an image model": (
        lambda w, h: h.post("/search", json={"text": "a rocket"}), 422, "invalid_input",
    ),
    "upsert one bad record of two": (
        lambda w, h: h.post(
            "/upsert", json={"records": [RECORD_OK, {"id": "short", "vector": [1.0, 2.0]}]}
        ),
        422, "invalid_input",
    ),
    "upsert id not a string": (
        lambda w, h: h.post("/upsert", json={"records": [{**RECORD_OK, "id": 7}]}),
        422, "invalid_input",
    ),
    "upsert vector of strings": (
        lambda w, h: h.post("/upsert", json={"records": [{**RECORD_OK, "vector": ["a"] * 1280}]}),
        422, "invalid_input",
    ),
    "upsert image without id": (
        lambda w, h: h.post("/upsert", content=rocket(w), headers=JPEG),
        400, "invalid_request",
    ),
    "delete both ids and filter": (
        lambda w, h: h.request(
            "DELETE", "/items", json={"ids": ["photo/rocket.jpg"], "filter": {"field": "kind"}}
        ),
        400, "invalid_request",
    ),
    "delete with a bad filter": (
        lambda w, h: h.request("DELETE", "/items", json={"filter": {"field": "kind", "op": "?"}}),
        400, "invalid_filter",
    ),
    "body over the limit": (
        lambda w, h: h.post(
            "/upsert", content=b"\xff\xd8\xff" + b"\x00" * LIMIT, params={"id": "x"}, headers=JPEG
        ),
        413, "payload_too_large",
    ),
    "search over the limit": (
        lambda w, h: h.post("/search", json={"vector": [0.0] * (LIMIT // 2)}),
        413, "payload_too_large",
    ),
    "delete over the limit": (
        lambda w, h: h.request("DELETE", "/items", json={"ids": ["x" * LIMIT]}),
        413, "payload_too_large",
    ),
    "delete as form data": (
        lambda w, h: h.request("DELETE", "/items", data={"ids": "photo/rocket.jpg"}),
        415, "unsupported_media_type",
    ),
    "delete ids not strings": (
        lambda w, h: h.request("DELETE", "/items", json={"ids": [1, 2]}), 422, "invalid_input",
    ),
    "upsert as text": (
        lambda w, h: h.post("/upsert", content=b"x", headers={"Content-Type": "text/plain"}),
        415, "unsupported_media_type",
    ),
    "unknown path": (lambda w, h: h.get("/admin"), 404, "not_found"),
    "wrong method": (lambda w, h: h.get("/similarity"), 405, "method_not_allowed"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_request_answers_json_and_changes_nothing(
    case: str, world: World, http: httpx.Client
) -> None:
    send, status, code = REJECTED[case]
    before = world.state()
    response = send(world, http)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert KEY not in response.text
    assert OTHER_KEY not in response.text
    assert world.state() == before


def test_declared_length_over_the_limit_is_refused_before_the_body(world: World) -> None:
    """Only the head is sent: a 413 proves the server did not wait to read the body."""
    before = world.state()
    head = (
        f"POST /upsert?id=big HTTP/1.1\nHost: x\nAuthorization: Bearer {KEY}\n"
        f"Content-Type: image/jpeg\nContent-Length: {LIMIT * 100}\n"
    )
    with send_head(world.server.port, head) as sock:
        status, body = read_response(sock)
    SEEN.setdefault(("POST", "/upsert"), set()).add(status)
    assert status == 413
    assert orjson.loads(body)["error"]["code"] == "payload_too_large"
    assert world.state() == before


def test_chunked_body_is_counted_while_it_streams(world: World) -> None:
    """A chunked body is refused once past the limit, though the client never ends it."""
    before = world.state()
    head = (
        f"POST /similarity HTTP/1.1\nHost: x\nAuthorization: Bearer {KEY}\n"
        "Content-Type: image/jpeg\nTransfer-Encoding: chunked\n"
    )
    with send_head(world.server.port, head) as sock:
        for _ in range(LIMIT // 50_000 + 1):
            sock.sendall(chunk(b"\xff" * 50_000))
        status, body = read_response(sock)  # no terminating chunk was sent
    SEEN.setdefault(("POST", "/similarity"), set()).add(status)
    assert status == 413
    assert orjson.loads(body)["error"]["code"] == "payload_too_large"
    assert world.state() == before


def _routes(app: Starlette) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        assert isinstance(route, Route)
        out += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return out


def test_every_route_but_health_needs_a_key(world: World) -> None:
    """Iterates the app's own routes, so a route added later cannot skip authentication."""
    routes = _routes(world.app)
    assert {path for _, path in routes} >= {"/similarity", "/search", "/embed", "/metrics"}
    with client(world, None) as anonymous, client(world, "wrong") as wrong, client(world) as ok:
        for method, path in routes:
            if path in PUBLIC_PATHS:
                assert anonymous.request(method, path).status_code == 200, path
                continue
            for c in (anonymous, wrong):
                response = c.request(method, path, content=b"{}")
                assert response.status_code == 401, (method, path)
                assert response.headers["www-authenticate"] == "Bearer"
            assert ok.request(method, path, content=b"{}").status_code != 401, (method, path)
        assert ok.request("GET", "/metrics").status_code == 200
        assert once(world, OTHER_KEY, "GET", "/openapi.json").status_code == 200


def test_health_answers_while_many_clients_search(world: World) -> None:
    """32 concurrent searches, each must find its own image; /healthz keeps answering."""
    ids = world.indexed.ids
    results: list[str] = []
    done = threading.Event()
    health: list[int] = []

    def probe() -> None:
        with client(world, None) as c:
            while not done.is_set():
                health.append(c.get("/healthz").status_code)
                done.wait(0.01)

    def search(i: int) -> str:
        with client(world) as c:
            response = similarity(c, image(world, ids[i % len(ids)]), k="1")
            assert response.status_code == 200, response.text
            return str(response.json()["result"][0]["id"])

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(search, range(32)))
    finally:
        done.set()
        prober.join()
    assert results == [ids[i % len(ids)] for i in range(32)]
    assert health
    assert set(health) == {200}


class CountingEmbedder:
    """The real image embedder, noting every batch it is asked to embed."""

    def __init__(self, inner: OnnxImageEmbedder) -> None:
        self.inner = inner
        self.batches: list[list[Any]] = []
        self.dim, self.metric, self.fingerprint = inner.dim, inner.metric, inner.fingerprint

    def embed(self, items: Sequence[Any]) -> npt.NDArray[np.float32]:
        self.batches.append(list(items))
        return self.inner.embed(items)

    async def aembed(self, items: Sequence[Any]) -> npt.NDArray[np.float32]:
        return await asyncio.to_thread(self.embed, items)


def test_concurrent_items_share_a_model_call_and_a_bad_one_fails_alone(
    world: World, embedder: OnnxImageEmbedder
) -> None:
    counting = CountingEmbedder(image_embedder(cache=False))
    batcher = Batcher(counting, max_batch=8)
    good = [image(world, rid) for rid in world.indexed.ids[:7]]
    items = [*good[:4], b"\xff\xd8\xff not a jpeg", *good[4:]]

    async def all_at_once() -> list[Any]:
        tasks = [batcher.embed(item) for item in items]
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        results = asyncio.run(all_at_once())
    finally:
        batcher.close()
    assert max(len(b) for b in counting.batches) > 1, "concurrent items shared a call"
    assert sum(items[4] in b for b in counting.batches) == 1, "the bad item was tried once"
    assert sum(len(b) for b in counting.batches) < 2 * len(items), "the rest was not redone alone"
    assert isinstance(results[4], InvalidImageError)
    assert "image #0 " in str(results[4])
    expected = embedder.embed(good)
    got = np.stack([r for i, r in enumerate(results) if i != 4])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_writes_off_means_no_write_routes(world: World, embedder: OnnxImageEmbedder) -> None:
    settings = SETTINGS.model_copy(update={"writes": False})
    app = create_app(world.store, settings, embedder=embedder, registry=CollectorRegistry())
    before = world.state()
    with (
        ThreadServer(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as c,
    ):
        assert c.post("/upsert", json={"records": [RECORD_OK]}).status_code == 404
        assert c.request("DELETE", "/items", json={"ids": ["photo/rocket.jpg"]}).status_code == 404
        paths = set(c.get("/openapi.json").json()["paths"])
        assert not paths & {"/upsert", "/items"}
    assert world.state() == before


def test_unreachable_store_is_not_ready_and_5xx_tells_nothing(
    embedder: OnnxImageEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    store = edgevec.connect("faiss")
    store.create_collection("images", embedder=embedder)
    app = create_app(store, SETTINGS, embedder=embedder, registry=CollectorRegistry())
    with ThreadServer(app) as server, httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {KEY}"},
        event_hooks={"response": [_record]},
    ) as c:  # fmt: skip
        assert c.get("/readyz").status_code == 200
        store.close()
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"model": True, "warmup": True, "store": False}
        failed = c.post("/search", json={"vector": [0.1] * 1280})
        assert failed.status_code == 503
        for response in (
            similarity(c, PHOTO.read_bytes()),
            c.post("/upsert", json={"records": [RECORD_OK]}),
            c.request("DELETE", "/items", json={"ids": ["a"]}),
        ):
            assert response.status_code == 503, response.text
        message = failed.json()["error"]["message"]
        reference = message.split("reference ")[1].rstrip(")")
        assert "closed" not in message.lower()
        assert "faiss" not in message.lower()
        assert c.get("/healthz").status_code == 200
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_text_service_searches_by_text(world: World) -> None:
    """``embedder = "text"``: /search and /embed take ``{"text": ...}``; no /similarity."""
    from edgevec.embedders import text_embedder

    rows = [line.split("\t") for line in SENTENCES.read_text(encoding="utf-8").splitlines()[1:]]
    texts = [sentence for _, sentence in rows[::6]]
    embedder = text_embedder()
    store = edgevec.connect("faiss")
    store.create_collection("texts", embedder=embedder).add(
        [f"s{i}" for i in range(len(texts))], texts, payloads=[{"text": t} for t in texts]
    )
    settings = SETTINGS.model_copy(update={"collection": "texts", "embedder": "text"})
    app = create_app(store, settings, embedder=embedder, registry=CollectorRegistry())
    with (
        ThreadServer(app) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as c,
    ):  # not recorded in SEEN: another configuration, another OpenAPI document
        paths = c.get("/openapi.json").json()["paths"]
        assert "/similarity" not in paths
        assert set(paths["/embed"]["post"]["requestBody"]["content"]) == {"application/json"}
        found = c.post("/search", json={"text": texts[3], "k": 2})
        assert found.status_code == 200, found.text
        assert found.json()["result"][0]["payload"] == {"text": texts[3]}
        vector = c.post("/embed", json={"text": texts[3]}).json()["vector"]
        np.testing.assert_allclose(vector, embedder.embed([texts[3]])[0], atol=1e-6)
        assert c.post("/embed", json={"text": 3}).status_code == 422
        assert c.post("/embed", content=rocket(world), headers=JPEG).status_code == 415
        assert c.post("/similarity", content=rocket(world), headers=JPEG).status_code == 404
    store.close()


# -- the OpenAPI document (keep last: it compares with what the tests above saw) -------------------


def test_openapi_lists_exactly_the_routes_and_the_statuses_seen(
    world: World, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    document = http.get("/openapi.json").json()
    documented = {
        (method.upper(), path): {int(s) for s in op["responses"]}
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }
    assert set(documented) == set(_routes(world.app))
    for (method, path), statuses in SEEN.items():
        if (method, path) in documented:  # 404/405 answer paths and methods that are no route
            assert statuses <= documented[method, path], (method, path, statuses)
    tests = {name for name in dir(request.module) if name.startswith("test_")}
    ran = {
        i.name.split("[")[0]
        for i in request.session.items
        if getattr(i, "module", None) is request.module
    }
    if ran == tests and len(SEEN[("POST", "/similarity")]) > 1:  # the whole module ran
        for op in ("/similarity", "/search", "/upsert", "/items"):
            method = "DELETE" if op == "/items" else "POST"
            assert documented[method, op] - SEEN[method, op] <= {500, 504}, (op, SEEN[method, op])
