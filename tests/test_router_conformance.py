"""The conformance suite through a router over FAISS: one region (also through the wrappers),
and two regions written with ``write="all"``, where reads go to whichever region is nearest.

Every test runs through ``edgevec.connect`` and ``connect_async`` with a router config, so the
sync router (its async core on its own loop) and the async router both keep every backend rule.
The long query sweeps, which drive only ``_query``, run once: one region, sync (the sync router
drives the async router's hooks, so that is the async code path too).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

from edgevec.testing import SWEEPS, ConformanceSuite  # after the skip guards


class TestRouterOneRegion(ConformanceSuite):
    @pytest.fixture(autouse=True)
    def _sweeps_once(self, request: pytest.FixtureRequest, api: str) -> None:
        if api == "async" and request.node.originalname in SWEEPS:
            pytest.skip("the sync router runs the sweeps through the same async core")

    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "router", "regions": {"eu": {"backend": "faiss"}}}


class TestRouterTwoRegionsWriteAll(ConformanceSuite):
    @pytest.fixture(autouse=True)
    def _sweeps_once(self, request: pytest.FixtureRequest) -> None:
        if request.node.originalname in SWEEPS:
            pytest.skip("the query sweeps drive only _query: the one-region router runs them")

    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {
            "backend": "router",
            "write": "all",
            "home": "us",
            "regions": {"eu": {"backend": "faiss"}, "us": {"backend": "faiss", "index": "flat"}},
        }
