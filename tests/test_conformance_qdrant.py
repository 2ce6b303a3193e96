"""Conformance suite on Qdrant: local mode (Qdrant's own engine, in memory and on disk) always,
and a live server when ``EDGEVEC_QDRANT_URL`` is set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "qdrant_client", reason='Qdrant extra not installed: pip install "edgevec[qdrant]"'
)

from edgevec.testing import SWEEPS, ConformanceSuite, ThroughWrappers  # after the skip guard

LIVE_URL = os.environ.get("EDGEVEC_QDRANT_URL")


class TestQdrantMemory(ThroughWrappers, ConformanceSuite):
    """Also through both wrappers: every write, read, filter and error path (the query sweeps
    stay direct: they only repeat ``_query``, and local mode is slow Python)."""

    direct_only = SWEEPS

    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "qdrant", "location": ":memory:"}


class TestQdrantPath(ConformanceSuite):
    @pytest.fixture
    def connect_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"backend": "qdrant", "path": str(tmp_path / "qdrant")}


@pytest.mark.skipif(
    LIVE_URL is None,
    reason="no live Qdrant server: set EDGEVEC_QDRANT_URL (and EDGEVEC_QDRANT_API_KEY) to run",
)
class TestQdrantLive(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"backend": "qdrant", "url": LIVE_URL, "exact": True}
        key = os.environ.get("EDGEVEC_QDRANT_API_KEY")
        if key:
            options["api_key"] = key
        return options
