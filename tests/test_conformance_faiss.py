"""Conformance suite on FAISS (in-process, the real library): flat, HNSW, and persisted flat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

from edgevec.testing import ConformanceSuite  # after the skip guard


class TestFaissFlat(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "faiss"}


class TestFaissHnsw(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "faiss", "index": "hnsw", "hnsw_m": 16, "ef_construction": 100}


class TestFaissOnDisk(ConformanceSuite):
    @pytest.fixture
    def connect_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"backend": "faiss", "path": str(tmp_path / "store"), "durable": False}
