"""A bound collection's ``add`` keeps the rules a backend enforces in its one write hook.

Before the hook was one, ``add`` wrote chunk by chunk under the backend's own checks: on Milvus
it never flushed, on Qdrant it let the reserved ``__edgevec__`` key through, on Pinecone a failure
after the first request lost the :class:`PartialWriteError` naming what was written. Each test
binds a real collection (sync and async) to an embedder whose items are vectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edgevec.errors import BackendError, InvalidInputError, PartialWriteError
from edgevec.testing.blocking import Blocking, connected
from edgevec.testing.wrappers import wrap_collection


def _rand(n: int, dim: int, seed: int) -> Any:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_bound_add_on_milvus_flushes(api: str, tmp_path: Any) -> None:
    pytest.importorskip("pymilvus", reason='needs the milvus extra: pip install "edgevec[milvus]"')
    pytest.importorskip("milvus_lite", reason="needs Milvus Lite (no wheel for this platform?)")
    with connected({"backend": "milvus", "uri": str(tmp_path / "m.db")}, api) as store:
        bound = wrap_collection(store.create_collection("items", 4, "l2"), "bound")
        flushes = _count_flushes(store)
        bound.add(["a", "b", "c"], list(_rand(3, 4, 1)))
        assert len(flushes) == 1  # the write is durable once add returns, as after upsert
        assert bound.count() == 3


def _count_flushes(store: Any) -> list[str]:
    """Record the flushes the pymilvus clients receive (the vendor's clients, wrapped in place).

    The async store flushes through its async client on a server and through its sync client on
    Milvus Lite (whose writes are serialised in a worker thread), so both are watched.
    """
    seen: list[str] = []

    def note(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        seen.append(args[0] if args else kwargs.get("collection_name", ""))

    def watch_sync(client: Any) -> None:
        flush = client.flush

        def counted(*args: Any, **kwargs: Any) -> Any:
            note(args, kwargs)
            return flush(*args, **kwargs)

        client.flush = counted

    if isinstance(store, Blocking):
        aclient = store.unwrapped._async
        aflush = aclient.flush

        async def acounted(*args: Any, **kwargs: Any) -> Any:
            note(args, kwargs)
            return await aflush(*args, **kwargs)

        aclient.flush = acounted
        if store.unwrapped._sync is not None:
            watch_sync(store.unwrapped._sync)
    else:
        watch_sync(store.client)
    return seen


def test_bound_add_on_qdrant_refuses_the_reserved_key(api: str) -> None:
    pytest.importorskip("qdrant_client", reason='needs the qdrant extra: "edgevec[qdrant]"')
    with connected({"backend": "qdrant", "location": ":memory:"}, api) as store:
        bound = wrap_collection(store.create_collection("items", 4, "l2"), "bound")
        vecs = list(_rand(600, 4, 2))  # three Qdrant requests; the bad payload is in the last
        payloads: list[dict[str, Any]] = [{"n": i} for i in range(600)]
        payloads[550] = {"__edgevec__": "mine"}
        ids = [f"r{i}" for i in range(600)]
        with pytest.raises(InvalidInputError, match="__edgevec__"):
            bound.add(ids, vecs, payloads)
        assert bound.count() == 0  # refused before the first chunk, like upsert


@pytest.fixture(scope="module")
def pinecone_server() -> Iterator[Any]:
    pytest.importorskip("pinecone", reason='needs the pinecone extra: "edgevec[pinecone]"')
    from tests.servers.pinecone_server import PineconeTestServer

    with PineconeTestServer(dimension=8, metric="dotproduct") as server:
        yield server


def test_bound_add_on_pinecone_reports_the_partial_write(pinecone_server: Any, api: str) -> None:
    server = pinecone_server
    options = {"backend": "pinecone", "host": server.url, "api_key": server.api_key, "exact": True}
    with connected(options, api) as store:
        name = f"partial_{api}"
        bound = wrap_collection(store.create_collection(name, 4, "dot"), "bound")
        ids = [f"r{i:04d}" for i in range(2_500)]
        pinecone_server.fail_next("/vectors/upsert", 400, "second request rejected", after=1)
        with pytest.raises(PartialWriteError, match="1000 of 2500") as info:
            bound.add(ids, list(_rand(2_500, 4, 3)))
        assert info.value.written == tuple(ids[:1000])
        assert set(info.value.failed) == set(ids[1000:])
        assert isinstance(info.value.__cause__, BackendError)
        store.drop_collection(name)
