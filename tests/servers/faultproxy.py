"""A fault-injecting TCP proxy on loopback, for testing how clients live with a bad network.

It forwards connections to one upstream (a loopback test server) and can, at any moment:

* ``down``: refuse connections (the listening socket is closed; the port stays reserved and
  the proxy listens again on the same port when it comes back ``up``);
* ``slow``: hold every chunk sent towards the upstream for ``delay`` seconds;
* ``reset``: reset every connection, new and open, with a TCP RST;
* ``flap``: alternate ``period`` seconds up and ``period`` seconds resetting;
* ``status``: answer every HTTP request itself with ``status`` (5xx, 429) and a JSON body in
  the Pinecone data-plane error shape, keeping the connection alive; nothing reaches the upstream.

It runs its own event loop in a daemon thread, so sync and async tests drive it alike. A TEST
tool, no part of edgevec.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Literal

__all__ = ["FaultProxy", "Mode"]

Mode = Literal["up", "down", "slow", "reset", "flap", "status"]
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class FaultProxy:
    """Proxy ``127.0.0.1:port`` -> ``upstream``; switch faults with :meth:`set`."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "up"
        self.delay = 0.0
        self.period = 0.05
        self.status = 503
        self.connections = 0
        """Connections accepted so far (a refused one is not accepted)."""
        self.answered = 0
        """HTTP requests answered by the proxy itself in ``status`` mode."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._call(self._shut(reset=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set(
        self,
        mode: Mode,
        *,
        delay: float | None = None,
        period: float | None = None,
        status: int | None = None,
    ) -> None:
        """Switch to ``mode`` (with its parameter); takes effect before this returns."""
        self.delay = self.delay if delay is None else delay
        self.period = self.period if period is None else period
        self.status = self.status if status is None else status
        self._call(self._switch(mode))

    # -- inside the loop ---------------------------------------------------------------------

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shut(self, *, reset: bool) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if reset:
            for writer in list(self._writers):
                _reset(writer)

    async def _switch(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "down":
            await self._shut(reset=True)
            return
        if self._server is None:
            await self._listen()
        if mode == "reset":
            for writer in list(self._writers):
                _reset(writer)

    def _failing(self) -> bool:
        if self.mode == "reset":
            return True
        return self.mode == "flap" and int(time.monotonic() / self.period) % 2 == 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._failing():
            _reset(writer)
            return
        self._writers.add(writer)
        try:
            if self.mode == "status":
                await self._answer_all(reader, writer)
                return
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            try:
                await asyncio.gather(
                    self._pipe(reader, up_writer, towards_upstream=True),
                    self._pipe(up_reader, writer, towards_upstream=False),
                )
            finally:
                up_writer.close()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, towards_upstream: bool
    ) -> None:
        while True:
            data = await src.read(65536)
            if self._failing():
                raise ConnectionResetError("fault proxy: reset")
            if not data:
                dst.write_eof() if dst.can_write_eof() else dst.close()
                return
            if towards_upstream and self.mode == "slow":
                await asyncio.sleep(self.delay)
            dst.write(data)
            await dst.drain()

    async def _answer_all(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read each HTTP request (head and ``content-length`` body) and answer ``status``."""
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            body = json.dumps(
                {"code": 14, "message": f"fault proxy: injected {self.status}", "details": []}
            ).encode()
            reason = _REASONS.get(self.status, "Error")
            writer.write(
                f"HTTP/1.1 {self.status} {reason}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            self.answered += 1


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (linger 0) rather than an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
