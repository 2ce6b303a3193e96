"""Conformance suite on Qdrant Edge (the real engine in process), flat and HNSW.

Flat also runs through the identity wrapper and a bound collection (the query sweeps directly
only). HNSW collections optimize once 40 records were written and scan exactly only below 16 KB
of vectors, so the suite's larger collections really are searched through the graph. Stores on
disk are covered by ``tests/test_qdrant_edge*.py`` (persistence, crashes, damage), not by a third
run of the suite: the engine fsyncs every new shard (~0.1 s a collection on a disk)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip(
    "qdrant_edge", reason='Qdrant Edge extra not installed: pip install "edgevec[qdrant-edge]"'
)

from edgevec.testing import SWEEPS, ConformanceSuite, ThroughWrappers  # after the skip guard


class TestQdrantEdgeFlat(ThroughWrappers, ConformanceSuite):
    direct_only = SWEEPS

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
