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
from typing import Literal

from tests.servers.lifecycle import Startable

__all__ = ["FaultProxy", "Mode"]

Mode = Literal["up", "down", "slow", "reset", "flap", "status"]
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class FaultProxy(Startable):
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
        self._serving: set[asyncio.Task[object]] = set()
        """The connections' tasks in progress."""
        self._answering: set[asyncio.StreamWriter] = set()
        """Connections answered by the proxy itself; closed when ``status`` mode ends, as a
        recovered server would (else they kept answering the old status forever)."""
        self._placeholder: socket.socket | None = None
        """Bound, not listening, while ``down``: connections are refused and no other socket
        can take the port (a client could otherwise connect to itself through it)."""
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
        self._call(self._shut(reset=True, final=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

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
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shut(self, *, reset: bool, final: bool = False) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if reset:
            for writer in list(self._writers):
                _reset(writer)
        if final and self._placeholder is not None:
            self._placeholder.close()
        if final:  # let every connection's task finish before the loop stops
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _switch(self, mode: Mode) -> None:
        self.mode = mode
        if mode != "status":
            for writer in list(self._answering):
                writer.close()
        if mode == "down":
            await self._shut(reset=True)
            if self._placeholder is None:
                self._placeholder = socket.socket()
                self._placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self._placeholder.bind(("127.0.0.1", self.port))
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
        # Held here too: asyncio drops its reference to this task once the client's side of
        # the connection is lost, and a pending task nothing references is garbage-collected.
        serving = asyncio.current_task()
        assert serving is not None
        self._serving.add(serving)
        try:
            if self.mode == "status":
                await self._answer_all(reader, writer, b"")
                return
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            pipes = [
                asyncio.ensure_future(self._pipe(reader, up_writer, towards_upstream=True)),
                asyncio.ensure_future(self._pipe(up_reader, writer, towards_upstream=False)),
            ]
            try:
                done, _ = await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    error = task.exception()
                    if isinstance(error, _Answer):  # "status" began on an open connection
                        await self._answer_all(reader, writer, error.data)
                    elif error is not None:
                        raise error
            finally:
                up_writer.close()  # first: a cancelled gather below would skip it
                for task in pipes:
                    task.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        except (ConnectionError, asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
            pass  # a reset, or stop(): the connection's task ends quietly (not as "cancelled")
        finally:
            self._serving.discard(serving)
            self._writers.discard(writer)
            writer.close()

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, towards_upstream: bool
    ) -> None:
        while True:
            data = await src.read(65536)
            if self._failing():
                raise ConnectionResetError("fault proxy: reset")
            if towards_upstream and self.mode == "status" and data:
                raise _Answer(data)
            if not data:
                if dst.can_write_eof():
                    dst.write_eof()
                return
            if towards_upstream and self.mode == "slow":
                await asyncio.sleep(self.delay)
            dst.write(data)
            await dst.drain()

    async def _answer_all(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
    ) -> None:
        """Answer every HTTP request (head and ``content-length`` body) with ``status``;
        ``data`` holds bytes of the first request already read."""
        self._answering.add(writer)
        try:
            await self._answer_each(reader, writer, data)
        finally:
            self._answering.discard(writer)

    async def _answer_each(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
    ) -> None:
        buf = bytearray(data)
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, rest = bytes(buf).partition(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            while len(rest) < length:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                rest += chunk
            buf = bytearray(rest[length:])
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


class _Answer(Exception):  # noqa: N818  # a signal between two tasks, not an error
    """The proxy switched to ``status`` while a connection was open: answer it from here on."""

    def __init__(self, data: bytes) -> None:
        super().__init__("answer with the injected status")
        self.data = data


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (linger 0) rather than an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    writer.close()
