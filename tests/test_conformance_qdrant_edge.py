"""Conformance suite on Qdrant Edge (the real engine in process): flat, HNSW, and on disk.

HNSW collections optimize after every 40 records written and scan exactly only below 1 KB of
vectors, so the suite's small collections really are searched through the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "qdrant_edge", reason='Qdrant Edge extra not installed: pip install "edgevec[qdrant-edge]"'
)

from edgevec.testing import ConformanceSuite, ThroughWrappers  # after the skip guard


class TestQdrantEdgeFlat(ThroughWrappers, ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "qdrant_edge", "index": "flat"}


class TestQdrantEdgeHnsw(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {
            "backend": "qdrant_edge", "index": "hnsw", "hnsw_m": 16, "ef_construct": 64,
            "optimize_after": 40, "full_scan_threshold_kb": 16,
        }  # fmt: skip


class TestQdrantEdgeOnDisk(ConformanceSuite):
    @pytest.fixture
    def connect_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"backend": "qdrant_edge", "path": str(tmp_path / "store"), "index": "flat"}
