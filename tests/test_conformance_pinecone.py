"""Conformance suite on Pinecone: against the loopback test server (a wire-level reimplementation of
Pinecone's data plane, see ``tests/servers/pinecone_server.py``) always, and against a live index
when ``EDGEVEC_PINECONE_API_KEY`` and ``EDGEVEC_PINECONE_HOST`` are set.

The suite creates collections of several dimensions and all three metrics in one store, so the
index is a ``dotproduct`` one (it serves cosine, dot and l2 exactly) with room for 32 dimensions
plus the 2 that l2 needs: a live index must be ``dotproduct`` with dimension >= 34.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip(
    "pinecone", reason='Pinecone extra not installed: pip install "edgevec[pinecone]"'
)

from edgevec.testing import SWEEPS, ConformanceSuite, ThroughWrappers  # after the skip guard
from tests.servers.pinecone_server import PineconeTestServer

LIVE_KEY = os.environ.get("EDGEVEC_PINECONE_API_KEY")
LIVE_HOST = os.environ.get("EDGEVEC_PINECONE_HOST")


@pytest.fixture(scope="module")
def server() -> Iterator[PineconeTestServer]:
    with PineconeTestServer(dimension=40, metric="dotproduct") as srv:
        yield srv


class TestPineconeTestServer(ThroughWrappers, ConformanceSuite):
    """Also through both wrappers: every write, read, filter and error path (the query sweeps
    stay direct: they only repeat ``_query`` over HTTP)."""

    direct_only = SWEEPS

    @pytest.fixture
    def connect_options(self, server: PineconeTestServer) -> dict[str, Any]:
        # exact=True: the test server searches by brute force (Pinecone itself is approximate).
        return {"backend": "pinecone", "host": server.url, "api_key": server.api_key, "exact": True}


@pytest.mark.skipif(
    LIVE_KEY is None or LIVE_HOST is None,
    reason="no live Pinecone index: set EDGEVEC_PINECONE_API_KEY and EDGEVEC_PINECONE_HOST "
    "(a dotproduct index of dimension >= 34) to run",
)
class TestPineconeLive(ConformanceSuite):
    recall_floor = 0.9

    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "backend": "pinecone",
            "host": LIVE_HOST,
            "api_key": LIVE_KEY,
            "read_your_writes": True,
            "consistency_timeout": 60.0,
            # A fresh prefix per test keeps runs apart in a shared index.
            "namespace_prefix": f"edgevec-test-{uuid.uuid4().hex[:8]}-",
        }
        metric = os.environ.get("EDGEVEC_PINECONE_METRIC")
        if metric:
            options["metric"] = metric
        return options
