"""Conformance suite on FAISS (in-process, the real library): flat, HNSW, and persisted flat.

Flat also runs the whole suite through the identity wrapper and a bound collection: FAISS is
the fast engine, so the wrappers get every test, query sweeps included, for seconds. It alone
also runs it through the result cache (``CachedStore``), the query sweeps excepted: reads after
writes, deletes, drops and re-creates through the cache must see every change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

from edgevec.testing import ConformanceSuite, ThroughWrappers  # after the skip guard
from edgevec.testing.wrappers import CACHED, WRAPPERS


class TestFaissFlat(ThroughWrappers, ConformanceSuite):
    @pytest.fixture(params=[*WRAPPERS, CACHED])
    def wrapper(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

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
