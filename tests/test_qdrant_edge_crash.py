"""SIGKILL a Qdrant Edge writer at random moments (the engine's own write-ahead log is under
test) and at edgevec's durable steps around it (creating and dropping a collection directory,
writing its metadata): nothing acknowledged may be lost, nothing deleted may come back, and the
store must open, accept a write and close (the harness: :mod:`tests.crashes`)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip(
    "qdrant_edge", reason='Qdrant Edge extra not installed: pip install "edgevec[qdrant-edge]"'
)

import edgevec  # after the skip guard
from tests.crashes import DIM, kill_rounds

KILL_POINTS = ["rename", "renamed", "fsync-dir", "create", "created", "drop", "dropped"]


def test_sigkill_never_loses_an_acknowledged_write(tmp_path: Path) -> None:
    rng = random.Random(20261203)
    path = tmp_path / "store"
    options = {"backend": "qdrant_edge", "index": "hnsw", "optimize_after": 25}
    with edgevec.connect({**options, "path": str(path)}) as store:
        store.create_collection("c", DIM, "l2")
    schedule: list[tuple[str | None, float]] = [(f"{p}:1", 0) for p in KILL_POINTS]
    schedule += [(None, rng.uniform(0.0, 0.3)) for _ in range(6)]
    rng.shuffle(schedule)
    kill_rounds(tmp_path, path, options, schedule, rng, ops_per_round=30)
