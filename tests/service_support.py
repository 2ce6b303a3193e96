"""What the HTTP service tests share: sample images indexed on FAISS, a uvicorn server in a
thread, and raw-socket requests (to send what an HTTP client library would not: a body never
sent, or a chunked body left open)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import edgevec
from edgevec.embedders.protocol import Embedder

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PHOTOS = sorted((DATA / "photos").iterdir())
CLIPART = sorted(p for d in sorted((DATA / "clipart").iterdir()) for p in sorted(d.iterdir())[:2])
"""Two images from each of the 12 clipart categories."""


@dataclass(frozen=True)
class Indexed:
    """The records written, as the oracle needs them."""

    ids: list[str]
    vectors: npt.NDArray[np.float32]
    payloads: list[dict[str, Any]]
    files: dict[str, Path]


def index_images(
    store: edgevec.BaseStore, name: str, embedder: Embedder, *, clipart: bool = True
) -> Indexed:
    """Create ``name`` bound to ``embedder`` and add the sample photos (and clipart) to it."""
    files = {f"photo/{p.name}": p for p in PHOTOS}
    if clipart:
        files |= {f"clipart/{p.parent.name}/{p.name}": p for p in CLIPART}
    ids = list(files)
    payloads = [{"kind": i.split("/")[0], "file": files[i].name} for i in ids]
    coll = store.create_collection(name, embedder=embedder)
    coll.add(ids, [files[i].read_bytes() for i in ids], payloads=payloads)
    records = coll.get(ids)
    vectors = np.stack([r.vector for r in records if r.vector is not None])
    return Indexed(ids, vectors, payloads, files)


class ThreadServer:
    """A real uvicorn server on a free loopback port, run in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped during start-up"
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    """Whether something accepts connections on the loopback ``port`` now."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def wait_until_serving(
    proc: subprocess.Popen[bytes], port: int, output: Callable[[], str], seconds: float = 90
) -> None:
    """Return once the server process ``proc`` accepts connections on ``port``; fail with its
    ``output()`` (called only once it has exited) if it exits first, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not accepts(port):
        assert proc.poll() is None, output()
        assert time.monotonic() < deadline, f"no server on port {port} after {seconds:g} s"
        time.sleep(0.1)


def send_head(port: int, head: str) -> socket.socket:
    """Open a connection and send a request head (the body, if any, is the caller's to send)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the one response on ``sock`` (the server closes or sizes it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a full response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return int(lines[0].split()[1]), body


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked transfer encoding."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
