"""A readers-writer lock: FAISS searches run side by side, a write runs alone.

FAISS releases the GIL while it searches, so concurrent queries on one collection scale with
cores as long as nothing serialises them. Writes (adds to the graph, tombstones, compaction, the
SQLite commit) need the collection to themselves, so a reader never sees a half-built index.
Writers take priority: once one waits, new readers queue behind it, so a steady stream of
queries cannot starve writes. Neither side is re-entrant.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """Many readers or one writer, writer-preferring."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold shared access for the ``with`` block."""
        with self._cond:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold exclusive access for the ``with`` block."""
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._waiting_writers -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
