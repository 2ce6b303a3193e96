"""Shared fixtures: registers the tiny test backend through a real entry point."""

from __future__ import annotations

import sys
from pathlib import Path

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
