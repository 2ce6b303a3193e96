"""Concurrent readers on one FAISS collection: they run side by side, writes run alone, and
every answer a reader gets is the exact answer over one whole acknowledged state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from edgevec import F, Record
from edgevec.backends._rwlock import ReadWriteLock
from edgevec.testing.oracle import assert_hits_match
from edgevec.testing.wrappers import handle_of

DIM, GROUPS, ROWS, K = 8, 4, 24, 5


def _in_thread(fn: Callable[[], Any]) -> threading.Thread:
    th = threading.Thread(target=fn, daemon=True)
    th.start()
    return th


def test_a_query_runs_while_another_reader_holds_the_collection() -> None:
    """Before, one lock serialised every query: this one would wait for the held read."""
    coll = edgevec.connect("faiss").create_collection("c", DIM, "l2")
    coll.upsert([Record(f"r{i}", np.full(DIM, i, np.float32)) for i in range(10)])
    got: list[list[str]] = []
    with handle_of(coll)._lock.read():
        th = _in_thread(lambda: got.append(coll.query(np.zeros(DIM, np.float32), k=2).ids))
        th.join(timeout=10)
        assert not th.is_alive(), "a query waited for another reader"
    assert got == [["r0", "r1"]]


def test_a_write_waits_for_readers_and_new_readers_wait_for_it() -> None:
    lock = ReadWriteLock()
    events: list[str] = []
    with lock.read():
        writer = _in_thread(lambda: _locked(lock.write, events, "write"))
        while not lock._waiting_writers:  # the writer is queued behind this reader
            threading.Event().wait(0.001)
        reader = _in_thread(lambda: _locked(lock.read, events, "read"))
        reader.join(timeout=0.2)
        assert events == [], "a writer or a late reader got in while a reader held the lock"
    writer.join(timeout=10)
    reader.join(timeout=10)
    assert events == ["write", "read"]  # writer preference: the queued write goes first


def _locked(hold: Callable[[], Any], events: list[str], name: str) -> None:
    with hold():
        events.append(name)


def _generation(
    group: int, gen: int
) -> tuple[list[str], np.ndarray[Any, Any], list[dict[str, Any]]]:
    """Group ``group``'s records as written in generation ``gen`` (one batch, all replaced)."""
    rng = np.random.default_rng(1000 * group + gen)
    ids = [f"g{group}-{i}" for i in range(ROWS)]
    vecs = rng.standard_normal((ROWS, DIM)).astype(np.float32)
    return ids, vecs, [{"g": group, "gen": gen, "i": i} for i in range(ROWS)]


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_reader_writer_hammer_answers_exactly_over_whole_writes(index: str) -> None:
    """Writers replace whole groups (tombstones, frequent compaction) or delete them while
    readers query each group: every answer is the oracle's over one generation of it."""
    store = edgevec.connect("faiss", index=index, compact_fraction=0.1)
    coll = store.create_collection("c", DIM, "l2")
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(groups: list[int]) -> None:
        try:
            for gen in range(40):
                for g in groups:
                    if gen % 7 == 6:
                        coll.delete(filter=F("g") == g)
                    else:
                        coll.upsert_arrays(*_generation(g, gen))
        except BaseException as exc:
            errors.append(exc)

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                g = int(rng.integers(GROUPS))
                q = rng.standard_normal((2, DIM)).astype(np.float32)
                flt = F("g") == g
                for row, hits in enumerate(coll.query_batch(q, k=K, filter=flt)):
                    gens = {h.payload["gen"] for h in hits}
                    assert len(gens) <= 1, f"one answer mixes generations {gens}"
                    if gens:
                        ids, vecs, pays = _generation(g, gens.pop())
                        assert_hits_match(hits, ids, vecs, pays, q[row], K, "l2", flt)
                for row_ids in coll.query_arrays(q, k=K).ids.tolist():  # unfiltered
                    found = [i for i in row_ids if i is not None]
                    assert row_ids[: len(found)] == found, f"a dead slot answered: {row_ids}"
                    assert len(set(found)) == len(found), f"duplicate ids: {row_ids}"
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    readers = [_in_thread(lambda s=s: reader(s)) for s in range(3)]  # type: ignore[misc]
    writers = [_in_thread(lambda gs=gs: writer(gs)) for gs in ([0, 1], [2, 3])]  # type: ignore[misc]
    for th in writers:
        th.join(timeout=120)
    stop.set()
    for th in readers:
        th.join(timeout=60)
    assert errors == []
    assert coll.count() == GROUPS * ROWS
    for g in range(GROUPS):
        ids, vecs, pays = _generation(g, 39)
        hits = coll.query(vecs[0], k=K, filter=F("g") == g)
        assert_hits_match(hits, ids, vecs, pays, vecs[0], K, "l2", F("g") == g)
