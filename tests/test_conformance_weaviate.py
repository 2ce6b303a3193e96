"""Conformance suite on Weaviate: the loopback test server (``tests/servers/weaviate_server.py``,
Weaviate's REST and gRPC wire protocols with brute-force search) always, and a live Weaviate when
``EDGEVEC_WEAVIATE_URL`` is set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip(
    "weaviate", reason='Weaviate extra not installed: pip install "edgevec[weaviate]"'
)

from edgevec.testing import SWEEPS, ConformanceSuite, ThroughWrappers  # after the skip guard
from tests.servers.weaviate_server import WeaviateTestServer

LIVE_URL = os.environ.get("EDGEVEC_WEAVIATE_URL")


@pytest.fixture(scope="module")
def weaviate_server() -> Iterator[WeaviateTestServer]:
    with WeaviateTestServer() as server:
        yield server


class TestWeaviateWire(ThroughWrappers, ConformanceSuite):
    """The official client, unchanged, against the wire-level test server (flat index: exact);
    also through both wrappers, the query sweeps (only ``_query`` again) direct only."""

    direct_only = SWEEPS

    @pytest.fixture
    def connect_options(self, weaviate_server: WeaviateTestServer) -> dict[str, Any]:
        return {
            "backend": "weaviate",
            "url": weaviate_server.url,
            "grpc_port": weaviate_server.grpc_port,
        }

    @pytest.fixture
    def collection_options(self) -> dict[str, Any]:
        return {"index": "flat"}


@pytest.mark.skipif(
    LIVE_URL is None,
    reason="no live Weaviate: set EDGEVEC_WEAVIATE_URL (and EDGEVEC_WEAVIATE_API_KEY, "
    "EDGEVEC_WEAVIATE_GRPC_PORT or EDGEVEC_WEAVIATE_GRPC_HOST when needed) to run",
)
class TestWeaviateLive(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"backend": "weaviate", "url": LIVE_URL, "timeout": 30.0}
        for key in ("api_key", "grpc_port", "grpc_host"):
            value = os.environ.get(f"EDGEVEC_WEAVIATE_{key.upper()}")
            if value:
                options[key] = value
        return options

    @pytest.fixture
    def collection_options(self) -> dict[str, Any]:
        return {"index": "flat"}
