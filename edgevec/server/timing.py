"""Where a request's time goes, per stage, for the ``Server-Timing`` response header.

Clients and benchmarks read the split (read body, embed, search, serialise) from the response
itself, so it is measured where the work happens and costs two clock reads per stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Stages"]


@dataclass
class Stages:
    """Per-stage wall times of one request."""

    start: float
    marks: list[tuple[str, float]]

    def mark(self, stage: str) -> None:
        self.marks.append((stage, time.perf_counter()))

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1e3

    def header(self) -> str:
        parts, last = [], self.start
        for stage, at in self.marks:
            parts.append(f"{stage};dur={(at - last) * 1e3:.3f}")
            last = at
        return ", ".join(parts)

    @classmethod
    def begin(cls) -> Stages:
        """Start timing a request now."""
        return cls(time.perf_counter(), [])
