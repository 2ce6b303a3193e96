"""One collection object per name per store, and closed means closed, on FAISS with a path.

Before the store kept one handle per name, concurrent ``collection``/``create_collection`` calls
each loaded their own copy of a persisted collection, and whichever checkpointed last won: 8
threads writing one record each kept 3-8 of them after a reopen, 20 tasks kept 1 of 20. The
conformance suite checks identity and the closed check on every backend; these tests check
the data that both protect, across a reopen.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')

import edgevec
from edgevec import Record
from edgevec.errors import StoreClosedError


def _vec(i: int) -> npt.NDArray[np.float32]:
    return np.array([i + 1, 1.0, 0.5, -1.0], dtype=np.float32)


def _count(path: Path) -> int:
    with edgevec.connect("faiss", path=str(path)) as store:
        return store.collection("c").count()


@pytest.mark.parametrize("round_", range(10))
def test_threads_opening_one_collection_keep_every_write(tmp_path: Path, round_: int) -> None:
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        store.create_collection("c", 4, "l2")
    start = threading.Barrier(8)

    def write(i: int) -> None:
        start.wait()
        store.collection("c").upsert([Record(f"r{i}", _vec(i))])

    with edgevec.connect("faiss", path=str(tmp_path)) as store, ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    assert _count(tmp_path) == 8


def test_tasks_creating_one_collection_keep_every_write(tmp_path: Path) -> None:
    async def main() -> None:
        async with edgevec.connect_async("faiss", path=str(tmp_path)) as store:

            async def write(i: int) -> None:
                coll = await store.create_collection("c", 4, "l2", exist_ok=True)
                await coll.upsert([Record(f"r{i}", _vec(i))])

            await asyncio.gather(*(write(i) for i in range(20)))

    asyncio.run(main())
    assert _count(tmp_path) == 20


def test_a_closed_store_takes_no_late_write(tmp_path: Path) -> None:
    store = edgevec.connect("faiss", path=str(tmp_path))
    coll = store.create_collection("c", 4, "l2")
    coll.upsert([Record("kept", _vec(0))])
    store.close()
    with edgevec.connect("faiss", path=str(tmp_path)) as second:  # the directory lock is free
        with pytest.raises(StoreClosedError):
            coll.upsert([Record("late", _vec(1))])  # would land outside the lock
        assert second.collection("c").count() == 1
    assert _count(tmp_path) == 1
