"""A readers-writer lock for in-process engines: searches run side by side, a write runs alone.

FAISS releases the GIL while it searches, so concurrent queries on one collection scale with
cores as long as nothing serialises them. Writes (adds to the graph, tombstones, compaction, the
SQLite commit, closing) need the collection to themselves, so a reader never sees a half-built
or closed index.
(Qdrant Edge needs no such lock: its engine makes ``close`` wait for the calls in flight.)
Writers take priority: once one waits, new readers queue behind it, so a steady stream of
queries cannot starve writes. Neither side is re-entrant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """Many readers or one writer, writer-preferring: ``with lock.read():`` / ``lock.write()``."""

    def __init__(self) -> None:
        # Both sides take the bare mutex where they need not wait: ``with`` on a ``Lock`` runs in
        # C, on a ``Condition`` in Python, and a query passes here twice per call.
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0
        # Plain context objects, built once: a query takes the read side on every call.
        self._read = _Side(self._acquire_read, self._release_read)
        self._write = _Side(self._acquire_write, self._release_write)

    def read(self) -> AbstractContextManager[None]:
        """Shared access for a ``with`` block."""
        return self._read

    def write(self) -> AbstractContextManager[None]:
        """Exclusive access for a ``with`` block."""
        return self._write

    def _acquire_read(self) -> None:
        with self._mutex:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            self._readers += 1

    def _release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            # Only a writer waits for the readers to leave (readers wait for writers), so the
            # last reader out wakes anyone only when a writer is queued.
            if not self._readers and self._waiting_writers:
                self._cond.notify_all()

    def _acquire_write(self) -> None:
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._waiting_writers -= 1
            self._writing = True

    def _release_write(self) -> None:
        with self._mutex:
            self._writing = False
            self._cond.notify_all()


class _Side(AbstractContextManager[None]):
    """One side of the lock as a reusable, stateless context manager."""

    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc: object) -> None:
        self._release()
