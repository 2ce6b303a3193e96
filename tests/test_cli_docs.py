"""Every ```console example of docs/cli.md runs, in order, as the reader would type it.

``$ edgevec ...`` lines run through typer's CliRunner in one working directory that holds the
repository's sample data and the document's named TOML files (as tests/test_docs.py arranges
for python blocks). A command must succeed, unless the lines shown after it start with
``error:``: then it must fail and print that error (``...`` matches anything). The examples use
FAISS with the bundled models, and Qdrant's local mode for ``migrate``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

pytest.importorskip("typer", reason='needs the cli extra: pip install "edgevec[cli]"')
pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')
pytest.importorskip("qdrant_client", reason='needs the qdrant extra: pip install "edgevec[qdrant]"')

from tests.cli_support import clear_edgevec_env, cli
from tests.test_docs import ROOT, read_blocks, toml_file_name

DOC = ROOT / "docs" / "cli.md"
LINKED = ("tests/data", "edgevec/demo/data")


def examples() -> list[tuple[str, list[str], list[str]]]:
    """``(where, argv, lines shown after it)`` for every command of every console block."""
    found: list[tuple[str, list[str], list[str]]] = []
    for block in read_blocks(DOC):
        if block.lang != "console":
            continue
        for line in block.code.splitlines():
            if line.startswith("$ "):
                argv = shlex.split(line[2:])
                assert argv[0] == "edgevec", f"{block.name}: not an edgevec command: {line}"
                found.append((block.name, argv[1:], []))
            else:
                assert found, f"{block.name}: output before any command"
                found[-1][2].append(line)
    return found


def test_docs_cli_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_edgevec_env(monkeypatch)
    for rel in LINKED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).symlink_to(ROOT / rel, target_is_directory=True)
    for block in read_blocks(DOC):
        name = toml_file_name(block) if block.lang == "toml" else None
        if name is not None:
            (tmp_path / name).write_text(block.code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    commands = examples()
    assert {argv[0] for _, argv, _ in commands} >= {"config", "index", "search", "collections",
                                                  "migrate", "bench"}  # fmt: skip
    for where, argv, shown in commands:
        result = cli(*argv)
        errors = [line for line in shown if line.startswith("error:")]
        if errors:
            assert result.exit_code != 0, f"{where}: {argv} should fail:\n{result.output}"
            pattern = ".*".join(re.escape(part) for part in errors[0].split("..."))
            assert re.fullmatch(pattern, result.stderr.strip()), f"{where}: {result.stderr}"
        else:
            assert result.exit_code == 0, (
                f"{where}: {argv} exit {result.exit_code}\n{result.output}"
            )
