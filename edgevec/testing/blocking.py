"""Drive an async store from sync test code, so one test body covers both APIs.

The async store lives on an event loop in a background thread; every awaited method is submitted
there and waited for. The real async code path runs end to end: this is plumbing for the tests,
not a stand-in for edgevec's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import edgevec

__all__ = ["Blocking", "LoopThread", "connected"]

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, awaitable: Awaitable[T], timeout: float = 300.0) -> T:
        async def wrap() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the loop thread (to build clients bound to that loop)."""

        async def wrap() -> T:
            return fn()

        return self.run(wrap())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class Blocking:
    """Sync view of an async object: coroutine results are awaited on ``runner``'s loop, and
    returned async stores or collections are wrapped in turn."""

    def __init__(self, target: Any, runner: LoopThread) -> None:
        self._target = target
        self._runner = runner

    @property
    def unwrapped(self) -> Any:
        return self._target

    def map(self, fn: Callable[[Any], Any]) -> Blocking:
        """A sync view, on the same loop, of ``fn`` applied to the wrapped object."""
        return Blocking(fn(self._target), self._runner)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if inspect.isasyncgen(result):  # ``scan``: its pages, each awaited on the loop
                return self._pull(result)
            if inspect.isawaitable(result):
                result = self._runner.run(result)
            if hasattr(result, "upsert") or hasattr(result, "create_collection"):
                return Blocking(result, self._runner)
            return result

        return call

    def _pull(self, pages: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._runner.run(pages.__anext__())
            except StopAsyncIteration:
                return

    def __repr__(self) -> str:
        return f"Blocking({self._target!r})"


@contextlib.contextmanager
def connected(connect_options: dict[str, Any], api: str) -> Iterator[Any]:
    """A store for ``connect_options``: ``api="sync"`` connects, ``"async"`` drives
    :func:`edgevec.connect_async`'s store from a background loop; closed on exit."""
    if api == "sync":
        with edgevec.connect(connect_options) as sync_store:
            yield sync_store
        return
    runner = LoopThread()
    try:
        astore = runner.call(lambda: edgevec.connect_async(connect_options))
        store = Blocking(astore, runner)
        try:
            yield store
        finally:
            store.close()
    finally:
        runner.close()
