"""Conformance suite on the tiny entry-point backend (pure numpy, no extra needed)."""

from __future__ import annotations

from typing import Any

import pytest

from edgevec.testing import ConformanceSuite


class TestTinyPluginBackend(ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "tiny"}
