"""The README's quickstart runs as written (on FAISS, in a scratch directory)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs_and_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = re.search(r"## Quickstart\n+```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None, "README has a python quickstart block"
    code = block.group(1)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102  # our own README, on purpose
    promised = re.search(r"# (sku-1 [0-9.]+)", code)
    assert promised is not None
    assert out.getvalue().startswith(promised.group(1))
    assert (tmp_path / "vectors" / "items" / "records.sqlite").is_file()
