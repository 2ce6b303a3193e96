"""Progress bars for long ingests (``EmbeddedCollection.add``), shared by the sync and async shells.

``progress=None`` means: show a bar when the ingest is long (``AUTO_MIN`` items or more) and
stderr is a terminal. tqdm is imported only then; without it an automatic bar is skipped, while an
explicit ``progress=True`` says how to install it.
"""

from __future__ import annotations

import importlib
from typing import Any

from edgevec.errors import MissingDependencyError

__all__ = ["AUTO_MIN", "NoBar", "progress_bar"]

AUTO_MIN = 1_000
"""Ingests of at least this many items get an automatic progress bar."""


class NoBar:
    """The do-nothing bar."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, progress: bool | None, desc: str) -> Any:
    """A tqdm bar over ``total`` items, or a :class:`NoBar`."""
    if progress is False or (progress is None and total < AUTO_MIN):
        return NoBar()
    try:
        tqdm = importlib.import_module("tqdm").tqdm
    except ImportError as exc:
        if progress is None:
            return NoBar()
        raise MissingDependencyError(
            'progress=True needs tqdm: pip install "edgevec[onnx]" (or tqdm)'
        ) from exc
    # disable=None: tqdm hides itself when stderr is not a terminal (logs, CI), unless forced.
    return tqdm(total=total, desc=desc, unit="item", disable=None if progress is None else False)
