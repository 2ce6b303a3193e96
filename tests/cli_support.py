"""What the command-line tests share: running ``edgevec`` in process, in a clean environment.

Import it only after ``pytest.importorskip("typer")``: it needs the cli extra.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from edgevec.cli.app import app


def cli(*args: str | Path, input: str | None = None) -> Result:
    """``edgevec ARGS`` through typer's CliRunner (stdout and stderr kept apart)."""
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def clear_edgevec_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop the developer's ``EDGEVEC_*`` settings: a live server URL would redirect a test."""
    for var in [v for v in os.environ if v.startswith("EDGEVEC_")]:
        monkeypatch.delenv(var)
