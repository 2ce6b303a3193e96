"""Conformance suite on Milvus: Milvus Lite for real (in-process), and a live server if configured.

Set ``EDGEVEC_MILVUS_URI`` (and ``EDGEVEC_MILVUS_TOKEN`` if the server needs one) to run the same
suite against a Milvus server or Zilliz Cloud.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest

pytest.importorskip("pymilvus", reason='Milvus extra not installed: pip install "edgevec[milvus]"')

from edgevec.testing import SWEEPS, ConformanceSuite, ThroughWrappers  # after the skip guard

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


@pytest.mark.skipif(
    not LIVE_URI, reason="live Milvus: set EDGEVEC_MILVUS_URI (and EDGEVEC_MILVUS_TOKEN) to run"
)
class TestMilvusLive(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"backend": "milvus", "uri": LIVE_URI}
        token = os.environ.get("EDGEVEC_MILVUS_TOKEN")
        if token:
            options["token"] = token
        return options
