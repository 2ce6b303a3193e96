"""``stats()`` on real engines (FAISS, Qdrant local mode, Milvus Lite) and, for the base default
(count and shape only), the Pinecone and Weaviate loopback test servers and the tiny plugin
backend; through the sync and async APIs and through the result-cache wrapper."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edgevec.errors import CollectionNotFoundError, StoreClosedError
from edgevec.stats import CollectionStats
from edgevec.testing.blocking import connected
from edgevec.testing.wrappers import CACHED, wrap_store


def _needs(module: str, extra: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f'needs the {extra} extra: pip install "edgevec[{extra}]"',
    )


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("milvus") / "stats.db")


# backend -> (connect options, index kind reported, what its health report must say)
ENGINES: dict[str, tuple[dict[str, Any], str | None, dict[str, Any]]] = {
    "faiss": (
        {"backend": "faiss", "index": "hnsw"},
        "hnsw",
        {"faiss_index": "IndexHNSWFlat", "rows": 3, "tombstones": 1, "persistent": False},
    ),
    "qdrant": (
        {"backend": "qdrant", "location": ":memory:"},
        "flat",
        {"status": "green", "optimizer": "ok"},
    ),
    "milvus": (
        {"backend": "milvus"},
        "flat",
        {"index_state": "Finished", "load_state": "Loaded", "pending_index_rows": 0},
    ),
    "pinecone": ({"backend": "pinecone", "exact": True}, None, {}),
    "weaviate": ({"backend": "weaviate"}, None, {}),
    "tiny": ({"backend": "tiny"}, None, {}),
}
MARKS: dict[str, tuple[pytest.MarkDecorator, ...]] = {
    "faiss": (_needs("faiss", "faiss"),),
    "qdrant": (_needs("qdrant_client", "qdrant"),),
    "milvus": (_needs("milvus_lite", "milvus"),),
    "pinecone": (_needs("pinecone", "pinecone"),),
    "weaviate": (_needs("weaviate", "weaviate"),),
    "tiny": (),
}


@pytest.fixture(params=[pytest.param(name, marks=MARKS[name]) for name in ENGINES])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def pinecone_server() -> Iterator[dict[str, Any]]:
    from tests.servers.pinecone_server import PineconeTestServer

    with PineconeTestServer(dimension=4, metric="dotproduct") as server:
        yield {"host": server.url, "api_key": server.api_key}


@pytest.fixture(scope="module")
def weaviate_server() -> Iterator[dict[str, Any]]:
    from tests.servers.weaviate_server import WeaviateTestServer

    with WeaviateTestServer() as server:
        yield {"url": server.url, "grpc_port": server.grpc_port}


@pytest.fixture(params=["sync", "async"])
def store(engine: str, request: pytest.FixtureRequest, lite_uri: str) -> Iterator[Any]:
    options = dict(ENGINES[engine][0])
    if engine == "milvus":
        options["uri"] = lite_uri
    elif engine in ("pinecone", "weaviate"):
        options.update(request.getfixturevalue(f"{engine}_server"))
    with connected(options, str(request.param)) as raw:
        yield raw


def test_stats_report_count_shape_index_and_engine_health(store: Any, engine: str) -> None:
    _, index, health = ENGINES[engine]
    coll = store.create_collection(f"stats_{engine}", 4, "dot")
    coll.upsert_arrays(["a", "b", "c"], np.eye(4, dtype=np.float32)[:3])
    coll.delete(["b"])
    stats = coll.stats()
    assert isinstance(stats, CollectionStats)
    expected = (f"stats_{engine}", store.backend, 2, 4, "dot", index)
    assert (
        stats.name,
        stats.backend,
        stats.count,
        stats.dim,
        stats.metric,
        stats.index,
    ) == expected
    assert {k: stats.health[k] for k in health} == health
    if engine == "qdrant":
        assert int(stats.health["segments"]) >= 1
    cached = wrap_store(store, CACHED)  # wrappers forward the hook; nothing about it is cached
    assert cached.collection(coll.name).stats() == stats
    coll.upsert_arrays(["d"], np.ones((1, 4), np.float32))
    assert cached.collection(coll.name).stats().count == 3
    whole = store.stats()
    assert whole.collections[coll.name].count == 3
    assert whole.count == sum(c.count for c in whole.collections.values())
    store.drop_collection(coll.name)
    with pytest.raises(CollectionNotFoundError):
        coll.stats()
    assert coll.name not in store.stats().collections


@_needs("faiss", "faiss")
@pytest.mark.parametrize("api", ["sync", "async"])
def test_stats_of_a_closed_store_raise(api: str) -> None:
    with connected({"backend": "faiss"}, api) as store:
        coll = store.create_collection("items", 4)
        store.close()
        with pytest.raises(StoreClosedError):
            coll.stats()
        with pytest.raises(StoreClosedError):
            store.stats()
