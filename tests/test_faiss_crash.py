"""SIGKILL a FAISS writer at random moments and at each durable file step; nothing acknowledged
may be lost, nothing deleted may come back, and the store must open, accept a write and close
(the harness: :mod:`tests.crashes`)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from tests.crashes import DIM, kill_rounds

# The durable steps of edgevec/backends (crash_point tags): commit, file/dir renames, dir fsyncs.
KILL_POINTS = [
    "commit", "committed", "rename", "renamed", "fsync-dir", "create", "created", "drop", "dropped",
]  # fmt: skip


def test_sigkill_never_loses_an_acknowledged_write(tmp_path: Path) -> None:
    rng = random.Random(20261202)
    path = tmp_path / "store"
    with edgevec.connect("faiss", path=str(path), index="hnsw", hnsw_m=8) as store:
        store.create_collection("c", DIM, "l2")
    schedule: list[tuple[str | None, float]] = [
        (f"{p}:{1 if p.startswith(('create', 'drop')) else rng.randint(1, 3)}", 0)
        for p in KILL_POINTS
    ]
    schedule += [(None, rng.uniform(0.0, 0.2)) for _ in range(12)]
    rng.shuffle(schedule)
    kill_rounds(tmp_path, path, {"backend": "faiss", "checkpoint_rows": 7}, schedule, rng)
