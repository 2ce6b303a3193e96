"""What edgevec needs from an embedder: four attributes and a batch call, sync and async.

Any object with these members works with ``create_collection(..., embedder=...)``, the bundled
ONNX embedders included; nothing has to subclass anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from edgevec.types import Metric

__all__ = ["Embedder", "Matrix", "Vector"]

Matrix = npt.NDArray[np.float32]
"""``(n, dim)`` float32, C-contiguous."""
Vector = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns items (image bytes, text, ...) into vectors of one model.

    ``fingerprint`` identifies everything that decides the vectors -- model name and SHA-256,
    dimension, preprocessing -- so a collection can record which embedder filled it and refuse
    another one.
    """

    @property
    def dim(self) -> int: ...

    @property
    def metric(self) -> Metric: ...

    @property
    def fingerprint(self) -> str: ...

    def embed(self, items: Sequence[Any]) -> Matrix:
        """``(len(items), dim)`` float32; one bad item fails the whole call."""
        ...

    async def aembed(self, items: Sequence[Any]) -> Matrix:
        """:meth:`embed` without blocking the event loop (a worker thread)."""
        ...
