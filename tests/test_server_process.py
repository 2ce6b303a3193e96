"""``edgevec.server.serve`` as it runs in production: its own process, a config file whose API key
comes from the environment, FAISS on disk behind the result cache and telemetry layers, uvicorn's
signal handling and ``/metrics`` (the service's own, the store's, the cache's and the embedder's).

A process of its own also gives ``/metrics`` a fresh OpenTelemetry meter provider to install
(the API allows one per process), so the counts it shows are exactly what this test sent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')
pytest.importorskip("httpx", reason='needs the test extra: pip install "edgevec[test]"')
pytest.importorskip(
    "edgevec.server", reason='needs the server extra: pip install "edgevec[server]"',
    exc_type=ImportError,  # edgevec.server raises MissingDependencyError naming the extra
)  # fmt: skip

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

import edgevec
from edgevec.embedders import image_embedder
from tests.service_support import (
    ROOT,
    accepts,
    chunk,
    free_port,
    index_images,
    read_response,
    send_head,
    wait_until_serving,
)

KEY = "process-test-key-7f3a"
CONFIG = """\
backend = "faiss"
cache = {{ ttl = 30 }}
telemetry = true

[faiss]
path = "{path}"

[service]
collection = "images"
embedder = "image"
api_keys = [{{ env = "EDGEVEC_TEST_SERVICE_KEY" }}]
shutdown_timeout = 20
"""


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    files: dict[str, Path]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    with edgevec.connect("faiss", path=str(tmp / "vectors")) as store:
        files = index_images(store, "images", image_embedder(), clipart=False).files
    config = tmp / "edgevec.toml"
    config.write_text(CONFIG.format(path=tmp / "vectors"), encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEVEC_")}
    env |= {"EDGEVEC_TEST_SERVICE_KEY": KEY, "PYTHONPATH": str(ROOT)}
    code = "import sys; from edgevec.server import serve; serve(sys.argv[1], port=int(sys.argv[2]))"
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-W", "error", "-c", code, str(config), str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_serving(proc, port, log.read_text)
        yield Served(proc, port, log, files)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ready_as_soon_as_it_accepts(served: Served) -> None:
    """uvicorn binds only after start-up, and start-up includes the warm-up: the first
    connection already finds the model loaded, warmed up and the store reachable."""
    response = httpx.get(f"{served.url}/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"model": True, "warmup": True, "store": True}


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted((k, v) for k, v in s.labels.items() if v and not k.startswith("otel_"))): (
            s.value
        )
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_metrics_count_what_was_sent(served: Served) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    jpeg = {**auth, "Content-Type": "image/jpeg"}
    rocket = served.files["photo/rocket.jpg"].read_bytes()
    with httpx.Client(base_url=served.url, timeout=30) as c:
        for _ in range(3):
            assert c.post("/similarity", content=rocket, headers=jpeg).status_code == 200
        assert c.post("/similarity", content=rocket[:2000], headers=jpeg).status_code == 422
        assert c.post("/similarity", content=rocket).status_code == 401
        assert c.get("/healthz").status_code == 200
        text = c.get("/metrics", headers=auth).text
    durations = _samples(text, "edgevec_request_duration_seconds_count")

    def count(route: str, status: str, method: str = "POST") -> float:
        labels = {
            "http_request_method": method,
            "http_response_status_code": status,
            "http_route": route,
        }
        return durations.get(tuple(sorted(labels.items())), 0.0)

    assert count("/similarity", "200") == 3
    assert count("/similarity", "422") == 1
    assert count("/similarity", "401") == 1
    assert count("/healthz", "200", "GET") >= 1
    failures = _samples(text, "edgevec_embedding_failures_total")
    assert failures == {(("embedder", "image"), ("error_type", "InvalidImageError")): 1.0}
    model = (("model", "efficientnet-lite0"),)
    assert _samples(text, "edgevec_embedder_cold_starts_total") == {model: 1.0}
    store = (("backend", "faiss"), ("collection", "images"))
    query = (*store, ("operation", "query"))
    queries = durations[query]
    assert queries == 4, "the warm-up's query and the three answered ones"
    assert _samples(text, "edgevec_cache_hits_total") == {store: 2.0}, "rocket.jpg, 2nd and 3rd"
    assert _samples(text, "edgevec_cache_misses_total")[store] >= 2
    assert KEY not in text


def test_graceful_shutdown_finishes_the_request_in_flight(served: Served) -> None:
    """The request's body is still arriving when SIGINT comes; the server stops accepting new
    connections, lets this request finish with a real answer, then exits cleanly."""
    data = served.files["photo/chelsea.png"].read_bytes()
    head = (
        f"POST /similarity?k=1 HTTP/1.1\nHost: x\nAuthorization: Bearer {KEY}\n"
        "Content-Type: image/png\nTransfer-Encoding: chunked\nExpect: 100-continue\n"
    )
    with send_head(served.port, head) as sock:
        # "100 Continue" comes when the endpoint starts reading the body: the request is in
        # the app's hands, past the checks, when the signal arrives.
        status, _ = read_response(sock)
        assert status == 100
        sock.sendall(chunk(data[: len(data) // 2]))
        served.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        while accepts(served.port):
            assert time.monotonic() < deadline, "still accepting connections after SIGINT"
            time.sleep(0.05)
        sock.sendall(chunk(data[len(data) // 2 :]) + b"0\r\n\r\n")
        status, body = read_response(sock)
    assert status == 200, body
    assert orjson.loads(body)["result"][0]["id"] == "photo/chelsea.png"
    assert served.proc.wait(timeout=30) == 0
    log = served.log.read_text()
    assert "Application shutdown complete" in log
    assert KEY not in log
