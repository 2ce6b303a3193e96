"""Run a command against a throwaway Milvus standalone server (PyPI ``milvus`` 2.3.5).

Starts the server on free loopback ports with a temporary data directory, waits for its health
check (bounded), runs the command with ``EDGEVEC_MILVUS_URI`` pointing at it, and always stops the
server and deletes the directory, whatever the command did. Exits with the command's status.
``nox -s milvus_server`` uses it; by hand (with ``pip install milvus==2.3.5``)::

    python scripts/milvus_server.py -- python -m pytest tests/test_conformance_milvus.py -k Live

A ``&&`` argument separates commands run one after another against the same server (the first
that fails stops the rest), so a start-up of about a minute serves tests and benchmarks alike.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the finally that stops it


def wait_ready(server: Any, data: str, deadline: float) -> None:
    """Poll the server's health endpoint until it answers OK; fail fast if the process exits
    (etcd's fixed peer port 2380 taken by another Milvus, say) or at the deadline."""
    url = f"http://127.0.0.1:{server.webservice_port}/healthz"
    while time.monotonic() < deadline:
        if server.server_proc.poll() is not None:
            log = Path(data, "logs", "milvus-stdout.log").read_text(errors="replace")
            raise RuntimeError(f"milvus server exited during start-up:\n{log[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if b"OK" in resp.read():
                    return
        except OSError:  # not listening yet
            pass
        time.sleep(0.5)
    raise TimeoutError("milvus server not ready within --start-timeout")


def split_commands(words: list[str]) -> list[list[str]]:
    """``a b && c`` -> ``[[a, b], [c]]``; an empty command is an error."""
    commands: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            commands.append([])
        else:
            commands[-1].append(word)
    if not all(commands):
        raise SystemExit(f"an empty command in {words}")
    return commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-timeout", type=float, default=150.0, help="seconds to be ready")
    parser.add_argument("command", nargs="+", help="the commands to run (after --; && between)")
    args = parser.parse_args()
    # The package ships the server binary and a launcher; it is not a dependency of edgevec.
    server_module: Any = importlib.import_module("milvus")
    signal.signal(signal.SIGTERM, _stop_on_signal)
    with tempfile.TemporaryDirectory(prefix="edgevec-milvus-") as data:
        server = server_module.MilvusServer(wait_for_started=False)
        server.set_base_dir(data)
        started = time.monotonic()
        try:
            server.start()  # picks free ports upward from Milvus' defaults
            wait_ready(server, data, started + args.start_timeout)
            uri = f"http://127.0.0.1:{server.listen_port}"
            print(f"milvus server ready at {uri} in {time.monotonic() - started:.0f} s", flush=True)
            env = {**os.environ, "EDGEVEC_MILVUS_URI": uri}
            for command in split_commands(args.command):
                # The command is the caller's own, as with ``env CMD``.
                status = subprocess.run(command, env=env, check=False).returncode  # noqa: S603
                if status:
                    return status
            return 0
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
