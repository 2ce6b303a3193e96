"""Many threads and asyncio tasks on one persisted FAISS store: upsert, delete, query, open and
create at once. At the end, and after a reopen, the records are exactly the acknowledged ones."""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from edgevec import CollectionExistsError, F, Record

DIM = 4
Acked = dict[str, dict[str, Any]]  # id -> payload of its last acknowledged write


def _vec(payload: dict[str, Any]) -> np.ndarray[Any, Any]:
    return np.array([payload["w"], payload["k"] + 1, 1.0, -1.0], np.float32)


def _stored(path: Path, ids: list[str]) -> Acked:
    with edgevec.connect("faiss", path=str(path)) as store:
        coll = store.collection("c")
        records = coll.get(ids)
        assert coll.count() == len(records)
    for r in records:
        np.testing.assert_array_equal(r.vector, _vec(dict(r.payload)))
    return {r.id: dict(r.payload) for r in records}


def _plan(worker: int, rounds: int) -> list[tuple[str, int]]:
    rng = random.Random(worker)
    ops = ["upsert", "upsert", "delete", "query", "open", "create", "count"]
    return [(rng.choice(ops), rng.randrange(6)) for _ in range(rounds)]


def test_thread_hammer_keeps_exactly_the_acknowledged_writes(tmp_path: Path) -> None:
    store = edgevec.connect("faiss", path=str(tmp_path), index="hnsw", checkpoint_rows=10)
    store.create_collection("c", DIM, "l2")
    acked: list[Acked] = [{} for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(w: int) -> None:
        try:
            start.wait()
            for k, (op, n) in enumerate(_plan(w, 30)):
                rid = f"w{w}-{n}"
                if op == "upsert":
                    pay = {"w": w, "k": k}
                    store.collection("c").upsert([Record(rid, _vec(pay), pay)])
                    acked[w][rid] = pay
                elif op == "delete":
                    store.collection("c").delete(ids=[rid])
                    acked[w].pop(rid, None)
                elif op == "query":
                    hits = store.collection("c").query(
                        np.ones(DIM, np.float32), k=5, filter=F("w") == w
                    )
                    assert {h.id for h in hits} <= {f"w{w}-{i}" for i in range(6)}
                elif op == "open":
                    assert store.collection("c").dim == DIM
                elif op == "create":
                    store.create_collection("c", DIM, "l2", exist_ok=True)
                else:
                    store.collection("c").count(filter=F("w") == w)
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    expected = {rid: pay for part in acked for rid, pay in part.items()}
    every = [f"w{w}-{n}" for w in range(8) for n in range(6)]
    live = {r.id: dict(r.payload) for r in store.collection("c").get(every)}
    assert live == expected
    store.close()
    assert _stored(tmp_path, every) == expected


async def test_asyncio_hammer_keeps_exactly_the_acknowledged_writes(tmp_path: Path) -> None:
    store = edgevec.connect_async("faiss", path=str(tmp_path))
    await store.create_collection("c", DIM, "l2")
    acked: list[Acked] = [{} for _ in range(24)]

    async def task(t: int) -> None:
        for k, (op, n) in enumerate(_plan(100 + t, 12)):
            rid = f"t{t}-{n}"
            coll = await store.collection("c")
            if op == "upsert":
                pay = {"w": t, "k": k}
                await coll.upsert([Record(rid, _vec(pay), pay)])
                acked[t][rid] = pay
            elif op == "delete":
                await coll.delete(ids=[rid])
                acked[t].pop(rid, None)
            elif op == "query":
                hits = await coll.query(np.ones(DIM, np.float32), k=5, filter=F("w") == t)
                assert {h.id for h in hits} <= {f"t{t}-{i}" for i in range(6)}
            elif op == "create":
                await store.create_collection("c", DIM, "l2", exist_ok=True)
            else:
                await coll.count()

    await asyncio.gather(*(task(t) for t in range(24)))
    await store.close()
    expected = {rid: pay for part in acked for rid, pay in part.items()}
    assert _stored(tmp_path, [f"t{t}-{n}" for t in range(24) for n in range(6)]) == expected


def test_eight_threads_opening_one_collection_keep_eight_records(tmp_path: Path) -> None:
    """The issue's reproduction: 3-8 of 8 records survived when each thread opened its own."""
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        store.create_collection("c", DIM)
    store = edgevec.connect("faiss", path=str(tmp_path))
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        start.wait()
        store.collection("c").upsert([Record(f"r{t}", np.ones(DIM, np.float32), {"t": t})])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    store.close()
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        assert store.collection("c").count() == 8


async def _create_and_upsert_20(path: Path) -> list[BaseException | None]:
    store = edgevec.connect_async("faiss", path=str(path))

    async def one(t: int) -> None:
        coll = await store.create_collection("c", DIM, exist_ok=True)
        await coll.upsert([Record(f"r{t}", np.ones(DIM, np.float32), {"t": t})])

    results = await asyncio.gather(*(one(t) for t in range(20)), return_exceptions=True)
    await store.close()
    return [r if isinstance(r, BaseException) else None for r in results]


async def test_concurrent_creates_never_create_twice_or_lose_a_write(tmp_path: Path) -> None:
    """FAISS's side of the issue's 20-task reproduction (1 of 20 records survived): one
    collection is created, a racing create is refused with a typed error, not overwritten,
    and every acknowledged upsert is kept."""
    outcomes = await _create_and_upsert_20(tmp_path)
    for exc in outcomes:
        assert exc is None or isinstance(exc, CollectionExistsError), repr(exc)
    ok = {f"r{t}" for t, exc in enumerate(outcomes) if exc is None}
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll = store.collection("c")
        assert {r.id for r in coll.get([f"r{t}" for t in range(20)])} == ok
        assert coll.count() == len(ok)


async def test_twenty_concurrent_create_exist_ok_keep_twenty_records(tmp_path: Path) -> None:
    """The issue's reproduction, in full: every task's create and upsert succeed."""
    assert await _create_and_upsert_20(tmp_path) == [None] * 20
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        assert store.collection("c").count() == 20
