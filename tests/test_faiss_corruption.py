"""Flip bits in and truncate every file of a persisted FAISS store: reopening gives
:class:`CorruptDataError` or the intact data (equal to the oracle), never a raw exception and
never silently different data."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from edgevec import CorruptDataError, F
from edgevec.testing import assert_hits_match

N, DIM = 120, 8

WRITER = """
import os, sys
import numpy as np
import edgevec
path, index, crash = sys.argv[1], sys.argv[2], sys.argv[3] != "close"
rng = np.random.default_rng(0)
ids = [f"id{i}" for i in range(150)]
vecs = rng.normal(size=(150, 8)).astype(np.float32)
store = edgevec.connect("faiss", path=path, index=index, checkpoint_rows=40)
coll = store.create_collection("c", 8, "cosine")
for start in range(0, 150, 30):  # several transactions, so the SQLite log holds several frames
    coll.upsert_arrays(ids[start:start + 30], vecs[start:start + 30],
                       [{"i": i, "tag": f"t{i % 7}"} for i in range(start, start + 30)])
coll.delete(ids=ids[120:])
if crash:
    os._exit(0)  # no close()
store.close()
"""


def _oracle(n: int) -> tuple[list[str], Any, list[dict[str, Any]]]:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(150, DIM)).astype(np.float32)[:n]
    return [f"id{i}" for i in range(n)], vecs, [{"i": i, "tag": f"t{i % 7}"} for i in range(n)]


def _damages(size: int, rng: random.Random) -> list[tuple[str, int]]:
    """Single-bit flips spread over the file (the header densely) and truncations."""
    flips = list(range(0, min(size, 112), 7)) + rng.sample(range(size), min(size, 30))
    cuts = {0, 1, size // 3, size // 2, size - 4096, size - 1}
    return [("flip", o) for o in sorted(set(flips))] + [
        ("cut", c) for c in sorted(cuts) if 0 <= c < size
    ]


def _check_intact(path: Path, n: int) -> None:
    ids, vecs, pays = _oracle(n)
    with edgevec.connect("faiss", path=str(path)) as store:
        assert store.list_collections() == ["c"]
        coll = store.collection("c")
        assert coll.count() == n
        got = {r.id: r for r in coll.get([f"id{i}" for i in range(150)])}
        assert sorted(got) == sorted(ids)
        assert [got[rid].payload for rid in ids] == pays
        stored = np.array([got[rid].vector for rid in ids])
        np.testing.assert_allclose(stored, vecs, rtol=1e-6)
        flt = F("i") >= 0  # admits every row: the exact scan, judged by the oracle
        for q in vecs[:2]:
            assert_hits_match(
                coll.query(q, k=10, filter=flt), ids, vecs, pays, q, 10, "cosine", flt
            )
            assert coll.query(q, k=1)[0].id == ids[int(np.flatnonzero((vecs == q).all(1))[0])]


@pytest.mark.parametrize(
    ("index", "ending"), [("hnsw", "close"), ("flat", "exit"), ("flat", "kill-in-commit")]
)
def test_flips_and_truncation_give_corrupt_data_error_or_intact_data(
    tmp_path: Path, index: str, ending: str
) -> None:
    """``close``: a cleanly closed store; ``exit``: its process died after the last write;
    ``kill-in-commit``: it died inside the fourth write, leaving SQLite's rollback journal."""
    pristine = tmp_path / "pristine"
    env = dict(os.environ)
    if ending == "kill-in-commit":
        env["EDGEVEC_TEST_KILL_AT"] = "commit:4"
    run = subprocess.run([sys.executable, "-c", WRITER, str(pristine), index, ending], env=env)
    assert run.returncode == (-signal.SIGKILL if ending == "kill-in-commit" else 0)
    n = 90 if ending == "kill-in-commit" else N
    files = sorted(p for p in (pristine / "c").iterdir() if p.is_file())
    names = {p.name for p in files}
    assert ("hnsw.index" in names) == (index == "hnsw")
    journal = {"records.sqlite-journal"} if ending == "kill-in-commit" else set()
    assert names - {"hnsw.index"} == {"records.sqlite", *journal}, "a journal only mid-commit"
    shutil.copytree(pristine, tmp_path / "copy")
    _check_intact(tmp_path / "copy", n)  # undamaged, the store is the oracle's
    rng = random.Random(7)
    outcomes = {"intact": 0, "corrupt": 0}
    for original in files:
        data = original.read_bytes()
        for kind, offset in _damages(len(data), rng):
            trial = tmp_path / "trial"
            shutil.rmtree(trial, ignore_errors=True)
            shutil.copytree(pristine, trial)
            target = trial / "c" / original.name
            if kind == "flip":
                damaged = bytearray(data)
                damaged[offset] ^= 1 << rng.randrange(8)
                target.write_bytes(bytes(damaged))
            else:
                target.write_bytes(data[:offset])
            try:
                _check_intact(trial, n)
            except CorruptDataError:
                outcomes["corrupt"] += 1
            except AssertionError as exc:
                raise AssertionError(f"{original.name}: {kind} at {offset} changed data") from exc
            else:
                outcomes["intact"] += 1
    assert outcomes["corrupt"] > 0, outcomes  # the damage was not all in unused bytes
