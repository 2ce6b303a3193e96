"""Conformance suite on Milvus: Milvus Lite for real (in-process), and a live server if configured.

Set ``EDGEVEC_MILVUS_URI`` (and ``EDGEVEC_MILVUS_TOKEN`` if the server needs one) to run the same
suite, and the read-your-writes checks, against a Milvus server or Zilliz Cloud;
``nox -s milvus_server`` starts a real standalone server for them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason='Milvus extra not installed: pip install "edgevec[milvus]"')

import edgevec  # after the skip guard
from edgevec import Record
from edgevec.backends.milvus import MilvusStore
from edgevec.testing import SWEEPS, ConformanceSuite, ThroughWrappers

needs_lite = pytest.mark.skipif(
    importlib.util.find_spec("milvus_lite") is None,
    reason='Milvus Lite not installed (no wheel for this platform?): pip install "edgevec[milvus]"',
)


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One Milvus Lite data directory per module: each test's store reuses it (collections are
    uniquely named and dropped), so the in-process server starts once rather than per test."""
    return str(tmp_path_factory.mktemp("milvus") / "conformance.db")


@needs_lite
class TestMilvusLite(ThroughWrappers, ConformanceSuite):
    """Also through both wrappers: every write (flushed), read, filter and error path; the query
    sweeps stay direct, they only repeat ``_query`` against a slow engine."""

    direct_only = SWEEPS

    @pytest.fixture
    def connect_options(self, lite_uri: str) -> dict[str, Any]:
        return {"backend": "milvus", "uri": lite_uri}


@needs_lite
class TestMilvusLiteHnsw(ConformanceSuite):
    """An approximate index: the suite measures recall instead of demanding the oracle's ids."""

    @pytest.fixture
    def connect_options(self, lite_uri: str) -> dict[str, Any]:
        return {"backend": "milvus", "uri": lite_uri, "index": "hnsw", "m": 16, "ef": 64}


LIVE_URI = os.environ.get("EDGEVEC_MILVUS_URI")
needs_live = pytest.mark.skipif(
    not LIVE_URI, reason="live Milvus: set EDGEVEC_MILVUS_URI (and EDGEVEC_MILVUS_TOKEN) to run"
)


def live_options() -> dict[str, Any]:
    options: dict[str, Any] = {"uri": LIVE_URI}
    token = os.environ.get("EDGEVEC_MILVUS_TOKEN")
    if token:
        options["token"] = token
    return options


@needs_live
class TestMilvusLive(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "milvus", **live_options()}


# --------------------------------------------------------------------------- read-your-writes
# The default consistency level is Session, not Strong: these prove that a write is visible to
# the very next read of the same client, on Milvus Lite and (where it matters: Lite has no time
# tick to wait for) on a real server.


@pytest.fixture(
    params=[pytest.param("lite", marks=needs_lite), pytest.param("live", marks=needs_live)]
)
def options(request: pytest.FixtureRequest, lite_uri: str) -> dict[str, Any]:
    return {"uri": lite_uri} if request.param == "lite" else live_options()


ROUNDS = 12
SESSION = 1  # Milvus' ConsistencyLevel enum: Strong 0, Session 1, Bounded 2, Eventually 3


def _vec(i: int) -> Any:
    return np.array([np.cos(i), np.sin(i), 1.0 + i / ROUNDS, 0.5], dtype=np.float32)


def test_each_write_is_visible_to_the_next_read(options: dict[str, Any]) -> None:
    with edgevec.connect("milvus", **options) as store:
        assert isinstance(store, MilvusStore)
        assert store.opts.consistency_level == "Session"
        coll = store.create_collection("ryw_sync", 4, "l2")
        try:
            if not store.opts.lite:  # Lite reports 0 (Strong) whatever it was given
                level = store.client.describe_collection("ryw_sync")["consistency_level"]
                assert level == SESSION
            for i in range(ROUNDS):
                coll.upsert([Record(f"r{i}", _vec(i), {"v": 0})])
                assert coll.count() == i + 1
                coll.upsert([Record(f"r{i}", _vec(i), {"v": 1})])  # an overwrite
                assert [r.payload for r in coll.get([f"r{i}"])] == [{"v": 1}]
                assert coll.query(_vec(i), k=1).ids == [f"r{i}"]
                assert coll.count(edgevec.F("v") == 1) == i + 1
            for i in range(0, ROUNDS, 5):
                coll.delete([f"r{i}"])
                assert coll.get([f"r{i}"]) == []
                assert f"r{i}" not in coll.query(_vec(i), k=3).ids
        finally:
            store.drop_collection("ryw_sync")


def test_each_async_write_is_visible_to_the_next_read(options: dict[str, Any]) -> None:
    async def main() -> None:
        async with edgevec.connect_async("milvus", **options) as store:
            coll = await store.create_collection("ryw_async", 4, "l2")
            try:
                for i in range(ROUNDS // 2):
                    await coll.upsert([Record(f"r{i}", _vec(i), {"v": i})])
                    assert await coll.count() == i + 1
                    assert [r.id for r in await coll.get([f"r{i}"])] == [f"r{i}"]
                    assert (await coll.query(_vec(i), k=1)).ids == [f"r{i}"]
                    await coll.delete(filter=edgevec.F("v") == i)
                    assert await coll.count() == i
                    await coll.upsert([Record(f"r{i}", _vec(i), {"v": i})])
            finally:
                await store.drop_collection("ryw_async")

    asyncio.run(main())
