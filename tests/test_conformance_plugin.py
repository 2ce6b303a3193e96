"""Conformance suite on the tiny entry-point backend (pure numpy, no extra needed), directly and
through both wrappers: a third-party backend's rules must survive wrapping too."""

from __future__ import annotations

from typing import Any

import pytest

from edgevec.testing import ConformanceSuite, ThroughWrappers


class TestTinyPluginBackend(ThroughWrappers, ConformanceSuite):
    @pytest.fixture
    def connect_options(self) -> dict[str, Any]:
        return {"backend": "tiny"}
