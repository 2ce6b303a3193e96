"""An append-only 1-d numpy column whose appends cost O(appended), not O(length).

The per-slot arrays of a FAISS collection (alive flags, norms, row checksums) grow by every
upsert; ``np.concatenate`` would copy the whole column each time, so a one-record upsert into a
large collection paid for every row already stored. Here the buffer doubles when full.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["GrowingArray"]

T = TypeVar("T", bound=np.generic)


class GrowingArray(Generic[T]):
    """A buffer with spare capacity; :meth:`extend` returns a view of the filled part."""

    def __init__(self, dtype: type[T]) -> None:
        self._buf: npt.NDArray[T] = np.zeros(0, dtype=dtype)
        self._n = 0

    def extend(self, values: npt.ArrayLike) -> npt.NDArray[T]:
        """Append ``values``; the returned view (like earlier ones) shares the buffer until
        it next grows, so a write through it is a write to the column."""
        new: npt.NDArray[Any] = np.asarray(values)
        end = self._n + len(new)
        if end > len(self._buf):
            buf = np.zeros(max(end, 2 * len(self._buf), 64), dtype=self._buf.dtype)
            buf[: self._n] = self._buf[: self._n]
            self._buf = buf
        self._buf[self._n : end] = new
        self._n = end
        return self._buf[:end]
