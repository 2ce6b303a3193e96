"""The event loop the sync router runs its async core on, in a daemon thread of its own.

A sync call submits the core's coroutine there and waits for it. The coroutine runs in a copy
of the caller's context, so the deadline (:func:`edgevec.deadline`) and the route of the call
travel with it from the calling thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An event loop serving many calling threads at once."""

    def __init__(self, name: str = "edgevec-router") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop in the caller's context; its result or its error."""
        ctx = contextvars.copy_context()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def finish(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                done.cancel()
            elif (error := task.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(task.result())

        def start() -> None:
            task = ctx.run(self.loop.create_task, coro)  # the task copies ctx, the caller's
            task.add_done_callback(finish)

        self.loop.call_soon_threadsafe(start)
        return done.result()

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the loop's thread (to build clients that belong to this loop)."""

        async def wrap() -> T:
            return fn()

        return self.run(wrap())

    def close(self) -> None:
        """Cancel what still runs there (stragglers, hedge losers), then stop the loop and its
        thread; idempotent."""
        if self.loop.is_closed():
            return
        self.run(_cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


async def _cancel_the_rest() -> None:
    """Cancel every other task of the running loop and let each finish its cleanup."""
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
