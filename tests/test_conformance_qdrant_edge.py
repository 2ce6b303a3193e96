"""Conformance suite on Qdrant Edge (the real engine in process), flat and HNSW.

HNSW collections optimize once 40 records were written and scan exactly only below 16 KB of
vectors, so the suite's larger collections really are searched through the graph. The wrappers
(identity, bound collection) run the suite on FAISS and Qdrant already, and stores on disk are
covered by ``tests/test_qdrant_edge*.py`` (persistence, crashes, damage): the session's time goes
to the engine (which fsyncs every new shard, ~0.1 s a collection on a disk)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip(
    "qdrant_edge", reason='Qdrant Edge extra not installed: pip install "edgevec[qdrant-edge]"'
)

from edgevec.testing import ConformanceSuite  # after the skip guard


class TestQdrantEdgeFlat(ConformanceSuite):
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
