"""Shared fixtures: registers the tiny test backend through a real entry point."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_DIST = """\
Metadata-Version: 2.1
Name: edgevec-tinystore
Version: 0.0.1
"""
_ENTRY_POINTS = """\
[edgevec.backends]
tiny = tests.plugins.tinystore:TinyStore
"""


@pytest.fixture(scope="session", autouse=True)
def tiny_backend_entry_point(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install a dist-info declaring the ``tiny`` backend, as ``pip install`` of a plugin would."""
    site = tmp_path_factory.mktemp("site")
    info = site / "edgevec_tinystore-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(_DIST)
    (info / "entry_points.txt").write_text(_ENTRY_POINTS)
    sys.path.append(str(site))
    return site


@pytest.hookimpl(optionalhook=True)  # an xdist hook: pytest without xdist ignores it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadscope``, a conformance class's tests spread over the workers one test
    function (all its parameters) at a time: they share nothing but the engine, while the other
    modules' functions and classes stay together, in order, as loadscope keeps them."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class ConformanceSplit(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/test_conformance_"):
                return nodeid.split("[", 1)[0]
            return str(super()._split_scope(nodeid))

    return ConformanceSplit(config, log)
