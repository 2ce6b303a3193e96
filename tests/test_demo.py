"""``edgevec demo`` as a user runs it (a real ``python -m edgevec`` process), then the store it
built: queried through the library, and served by the command it prints (a real uvicorn process
on a free loopback port, answering ``/healthz`` and ``POST /similarity``, then stopped).

Needs the demo extra (faiss, onnx, cli, server); skips without it.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("typer", reason='needs the demo extra: pip install "edgevec[demo]"')
pytest.importorskip("faiss", reason='needs the demo extra: pip install "edgevec[demo]"')
pytest.importorskip("onnxruntime", reason='needs the demo extra: pip install "edgevec[demo]"')
pytest.importorskip("uvicorn", reason='needs the demo extra: pip install "edgevec[demo]"')

import httpx

import edgevec
from edgevec.demo import DATA, IMAGE_COLLECTION, TEXT_COLLECTION, TEXT_QUERIES
from edgevec.embedders import image_embedder, text_embedder
from tests.cli_support import cli
from tests.service_support import free_port
from tests.test_docs import child_env


def edgevec_cmd(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "edgevec", *(str(a) for a in args)]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo's folder and its stdout."""
    folder = tmp_path_factory.mktemp("demo") / "store"
    done = subprocess.run(
        edgevec_cmd("demo", "--dir", folder),
        env=child_env({}), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, done.stdout


def test_demo_prints_results_timings_and_the_serve_command(demo_run: tuple[Path, str]) -> None:
    folder, stdout = demo_run
    for query in [*TEXT_QUERIES, *(p.name for p in (DATA / "queries").iterdir())]:
        assert f"query {query!r}" in stdout
    assert "Per-stage timings" in stdout
    for stage in ("load model", "embed", "index", "query"):
        assert stage in stdout
    assert re.search(r"demo_images\s*│\s*40\s*│", stdout), stdout
    assert re.search(r"demo_texts\s*│\s*120\s*│", stdout), stdout
    assert f"edgevec serve --config {folder / 'edgevec.toml'}" in stdout


def test_the_demo_config_checks_out(demo_run: tuple[Path, str]) -> None:
    folder, _ = demo_run
    result = cli("config", "check", folder / "edgevec.toml")
    assert result.exit_code == 0, result.output
    assert re.search(r"\[service\] collection\s*│\s*'demo_images'", result.stdout)
    assert re.search(r"\[service\] api_keys\s*│\s*none: loopback only", result.stdout)


def test_the_demo_store_answers_queries(demo_run: tuple[Path, str]) -> None:
    folder, _ = demo_run
    with edgevec.connect(config=folder / "edgevec.toml") as store:
        texts = store.collection(TEXT_COLLECTION, embedder=text_embedder())
        assert texts.count() == 120
        hits = texts.search(TEXT_QUERIES[0], k=3)  # "My laptop will not start ..."
        assert hits[0].payload["topic"] == "computers"
        images = store.collection(IMAGE_COLLECTION, embedder=image_embedder())
        thumbnail = DATA / "queries" / "photos--chelsea-thumbnail.jpg"
        assert images.search(thumbnail, k=1).ids == ["photos/chelsea.png"]


def test_the_printed_serve_command_serves_the_demo_store(demo_run: tuple[Path, str]) -> None:
    folder, stdout = demo_run
    lines = stdout.splitlines()
    command = shlex.split(
        lines[lines.index("Serve the image collection over HTTP on 127.0.0.1:8000:") + 1]
    )
    assert command == [
        sys.executable,
        "-m",
        "edgevec",
        "serve",
        "--config",
        str(folder / "edgevec.toml"),
    ]
    port = free_port()
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        env=child_env({}), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(server, url)
        assert httpx.get(f"{url}/healthz").status_code == 200
        photo = (DATA / "images" / "photos" / "coffee.jpg").read_bytes()
        answer = httpx.post(
            f"{url}/similarity?k=2", content=photo, headers={"Content-Type": "image/jpeg"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"][0]["id"] == "photos/coffee.jpg"
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    # uvicorn finishes in-flight requests, then re-raises the signal it caught: a clean stop.
    assert server.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr


def wait_until_ready(server: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, f"serve exited: {server.communicate()[1]}"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("edgevec serve was not ready within 120 s")
