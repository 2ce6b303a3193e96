"""Secrets never show: not in a repr or str of stores, collections or options, not in a raised
error, not in any log line down to DEBUG (the vendor clients' loggers included), on every backend.

Each backend runs a real round trip with a credential: Milvus Lite, the loopback Pinecone and
Weaviate test servers, and Qdrant against a closed loopback port (its failure is the error).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import edgevec
from edgevec import EdgevecError, Record
from edgevec.base import BaseStore

SECRET = "sk-never-shown-0123456789"  # noqa: S105  # a dummy key to look for in outputs


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):  # the root logger, so every library's DEBUG lines
        yield caplog


def _assert_hidden(logs: pytest.LogCaptureFixture, *shown: object) -> None:
    for obj in shown:
        assert SECRET not in repr(obj), obj
        assert SECRET not in str(obj), obj
    lines = [r.getMessage() for r in logs.records]
    assert not [line for line in lines if SECRET in line]


def _round_trip(store: BaseStore, logs: pytest.LogCaptureFixture) -> None:
    coll = store.create_collection("secrets", dim=2, metric="cosine", exist_ok=True)
    coll.upsert([Record("a", np.array([1.0, 0.0], np.float32), {"k": "v"})])
    hits = coll.query(np.array([1.0, 0.0], np.float32), k=1)
    assert [h.id for h in hits] == ["a"]
    _assert_hidden(logs, store, store.options, coll, hits)
    store.drop_collection("secrets")


def _refused(call: Callable[[], Any]) -> EdgevecError:
    with pytest.raises(EdgevecError) as info:
        call()
    return info.value


def test_milvus(tmp_path: Any, logs: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("pymilvus", reason='needs the milvus extra: pip install "edgevec[milvus]"')
    with edgevec.connect("milvus", uri=str(tmp_path / "s.db"), token=SECRET) as store:
        _round_trip(store, logs)
    err = _refused(lambda: edgevec.connect("milvus", uri=f"http://u:{SECRET}@localhost:1"))
    _assert_hidden(logs, err)


def test_pinecone(logs: pytest.LogCaptureFixture) -> None:
    pytest.importorskip(
        "pinecone", reason='needs the pinecone extra: pip install "edgevec[pinecone]"'
    )
    from tests.servers.pinecone_server import PineconeTestServer

    with PineconeTestServer(dimension=2, api_key=SECRET) as srv:
        with edgevec.connect("pinecone", host=srv.url, api_key=SECRET, exact=True) as store:
            _round_trip(store, logs)
        # The client logs its host at INFO: the capture sees vendor loggers, not only edgevec's.
        assert any(r.name.startswith("pinecone") for r in logs.records)
        wrong = edgevec.connect("pinecone", host=srv.url, api_key=SECRET + "-wrong")
        err = _refused(wrong.list_collections)
        wrong.close()
    query = f"{srv.url}?api_key={SECRET}"
    _assert_hidden(
        logs, err, _refused(lambda: edgevec.connect("pinecone", host=query, api_key="k"))
    )


def test_weaviate(logs: pytest.LogCaptureFixture) -> None:
    pytest.importorskip(
        "weaviate", reason='needs the weaviate extra: pip install "edgevec[weaviate]"'
    )
    from tests.servers.weaviate_server import WeaviateTestServer

    with WeaviateTestServer(api_key=SECRET) as srv:
        options: dict[str, Any] = {"url": srv.url, "grpc_port": srv.grpc_port}
        with edgevec.connect("weaviate", **options, api_key=SECRET, index="flat") as store:
            _round_trip(store, logs)
        err = _refused(lambda: edgevec.connect("weaviate", **options, api_key=SECRET + "-wrong"))
    _assert_hidden(logs, err)


def test_qdrant(logs: pytest.LogCaptureFixture) -> None:
    pytest.importorskip(
        "qdrant_client", reason='needs the qdrant extra: pip install "edgevec[qdrant]"'
    )
    with socket.socket() as sock:  # a loopback port that refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    with edgevec.connect("qdrant", url=url, api_key=SECRET, timeout=2) as store:
        err = _refused(store.list_collections)
        _assert_hidden(logs, store, store.options, err, err.__cause__)
    with edgevec.connect("qdrant") as local:  # collections: local mode (it takes no key)
        _round_trip(local, logs)
    _assert_hidden(logs, _refused(lambda: edgevec.connect("qdrant", url=f"{url}?api_key={SECRET}")))


@pytest.mark.parametrize("backend", ["qdrant", "pinecone", "milvus", "weaviate"])
def test_async_store_reprs(backend: str, logs: pytest.LogCaptureFixture) -> None:
    module = {"qdrant": "qdrant_client", "milvus": "pymilvus"}.get(backend, backend)
    pytest.importorskip(
        module, reason=f'needs the {backend} extra: pip install "edgevec[{backend}]"'
    )
    key = {"milvus": "token"}.get(backend, "api_key")
    where = {"pinecone": "host", "milvus": "uri"}.get(backend, "url")
    astore = edgevec.connect_async(backend, **{where: "https://db.example.com", key: SECRET})
    _assert_hidden(logs, astore)
