"""docs/service.md runs as written: its Python block fills the collection, its server command
starts the service (on FAISS), and every ``curl`` block runs against it in order, printing what
the ``text`` block under it shows (``...`` matches anything, line by line).

tests/test_docs.py treats ``bash`` blocks as shown only; this page's are run here, with the
documented port replaced by a free one.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')
pytest.importorskip(
    "edgevec.server", reason='needs the server extra: pip install "edgevec[server]"',
    exc_type=ImportError,  # edgevec.server raises MissingDependencyError naming the extra
)  # fmt: skip

from edgevec.server import load_service_settings
from tests.service_support import ROOT, free_port, wait_until_serving
from tests.test_docs import Block, check_output, child_env, read_blocks, run_block, workdir

DOC = ROOT / "docs" / "service.md"
BLOCKS = read_blocks(DOC)
DOCUMENTED_PORT = "8000"
BASH = shutil.which("bash") or "bash"


def _shell() -> list[tuple[Block, Block | None]]:
    """Each ``bash`` block with the ``text`` block right after it (its promised output)."""
    out = []
    for i, block in enumerate(BLOCKS):
        if block.lang == "bash":
            after = BLOCKS[i + 1] if i + 1 < len(BLOCKS) else None
            out.append((block, after if after is not None and after.lang == "text" else None))
    return out


def _exports(code: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)$", code, flags=re.MULTILINE))


def _matches(block: Block, promised: Block | None, stdout: str) -> None:
    if promised is None:
        return
    want = promised.code.splitlines()
    got = stdout.splitlines()
    assert len(got) == len(want), f"{block.name}: printed\n{stdout}\ndocs show\n{promised.code}"
    for w, g in zip(want, got):
        pattern = ".*".join(re.escape(part) for part in w.split("..."))
        assert re.fullmatch(pattern, g), f"{block.name}: printed {g!r}, docs show {w!r}"


def test_service_tables_validate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every ``[service]`` table in the docs is one the service accepts."""
    tables = [b for b in BLOCKS if b.lang == "toml" and "[service]" in b.code]
    assert tables
    for block in tables:
        for var in re.findall(r'env = "(\w+)"', block.code):
            monkeypatch.setenv(var, "test-secret")
        config = tmp_path / "edgevec.toml"
        config.write_text(block.code, encoding="utf-8")
        assert load_service_settings(config).collection


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("bash")), reason="needs bash, curl")
def test_service_guide_runs(tmp_path: Path) -> None:
    work = workdir(tmp_path, DOC)
    for block in [b for b in BLOCKS if b.lang == "python"]:
        check_output(block, run_block(block, work, {}))
    (server, _), *commands = _shell()
    assert "serve(" in server.code, f"{server.name}: the first bash block starts the server"
    port = str(free_port())
    # "python" as the reader's virtual environment has it: this interpreter
    env = child_env(_exports(server.code))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.Popen(
        [BASH, "-c", server.code.replace(DOCUMENTED_PORT, port)],
        cwd=work, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_serving(proc, int(port), lambda: proc.communicate()[0].decode())
        for block, promised in commands:
            assert DOCUMENTED_PORT in block.code, f"{block.name}: not talking to the server?"
            done = subprocess.run(
                [BASH, "-euo", "pipefail", "-c", block.code.replace(DOCUMENTED_PORT, port)],
                cwd=work, env=env, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{block.name}:\n{done.stdout}\n{done.stderr}"
            _matches(block, promised, done.stdout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        log = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, log
    assert env["EDGEVEC_API_KEY"] not in log
