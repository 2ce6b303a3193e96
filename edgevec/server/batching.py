"""Concurrent requests' items embedded together: one model call per batch, in one thread.

onnxruntime already spreads one call over every core, so two requests embedding at once in two
threads only take the cores from each other; one call over a batch of images costs less than the
same images one by one. So every request hands its item to one embedding thread, which takes
whatever has queued up while the previous batch ran (up to ``max_batch``) and embeds it in one
call. A lone request waits for nothing: its batch is itself. The event loop never runs model work.

One bad item must not fail its neighbours, nor be counted twice (the embedder counts every input
it rejects): when a batch is refused, the error names the bad item (``#i``, as edgevec's embedders
do); that request gets the error, renumbered ``#0`` as if its item had come alone, and the rest of
the batch is embedded again without it. An error that names no item sends each item alone.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from concurrent.futures import Future
from typing import Any

from edgevec.embedders.protocol import Embedder, Vector
from edgevec.errors import InvalidInputError

__all__ = ["Batcher"]

_STOP = object()


class Batcher:
    """Embeds items submitted from any thread or task, in batches, on one thread of its own."""

    def __init__(self, embedder: Embedder, max_batch: int) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="edgevec-embed", daemon=True)
        self._thread.start()

    async def embed(self, item: object) -> Vector:
        """``item``'s vector, computed in the embedding thread, possibly batched with others."""
        future: Future[Vector] = Future()
        self._queue.put((item, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            # A request whose client went away was cancelled: skip its item. The others can no
            # longer be cancelled, so setting their results below cannot fail.
            batch = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if batch:
                self._run(batch)
            if stop:
                return

    def _run(self, batch: list[tuple[object, Future[Vector]]]) -> None:
        while batch:
            try:
                vectors = self.embedder.embed([item for item, _ in batch])
            except InvalidInputError as exc:
                bad = _named_item(exc, len(batch))
                if len(batch) == 1:
                    batch[0][1].set_exception(exc)
                elif bad is None:  # whose item it was is unknown: each request alone
                    for one in batch:
                        self._run([one])
                else:
                    batch.pop(bad)[1].set_exception(_alone(exc))
                    continue
                return
            except Exception as exc:  # a failing model fails every waiting request, not the thread
                for _, future in batch:
                    future.set_exception(exc)
                return
            for row, (_, future) in enumerate(batch):
                future.set_result(vectors[row])
            return


_ITEM = re.compile(r"#(\d+)")


def _named_item(exc: InvalidInputError, size: int) -> int | None:
    """The index of the item ``exc`` names (``#i``), if it names one of the batch."""
    match = _ITEM.search(str(exc))
    return int(match[1]) if match and int(match[1]) < size else None


def _alone(exc: InvalidInputError) -> InvalidInputError:
    """``exc`` as the embedder would have said it of the item alone (``#0``)."""
    error = type(exc)(_ITEM.sub("#0", str(exc), count=1))
    error.__cause__ = exc
    return error
