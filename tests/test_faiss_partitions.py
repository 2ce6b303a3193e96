"""FAISS HNSW per-value partitions (in-process FAISS, the real library): a filter with an
``eq``/``in`` on a declared ``int``/``keyword`` field searches only those values' rows, and the
answer stays the oracle's (flat partitions) or keeps recall (graph partitions) through upserts,
deletes, overwrites that move a record between values, compaction, reopen and concurrent use.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("faiss", reason='FAISS extra not installed: pip install "edgevec[faiss]"')

import edgevec
from edgevec import ConfigError, F, Filter, Metric
from edgevec.backends.faiss.partitions import MAX_SETS, MERGE_VALUES
from edgevec.testing import assert_hits_match, oracle_topk, recall_at_k

FIELDS = {"label": "int", "color": "keyword", "p": "float"}
COLORS = ["red", "green", "blue"]
WIDE = list(range(MERGE_VALUES + 2))  # an `in` this wide gets one partition for the value set
FILTERS: list[Filter] = [
    F("label") == 2,
    F("label").isin([1, 3.0]),  # 3.0 is the int 3, as the oracle says
    (F("label") == 4) & (F("p") < 0.3),  # a bitmap on top of the partition
    F("color") == "red",
    (F("color") == "blue") & F("label").isin([0, 2]),
    F("label").isin(WIDE),
    F("label") == 7,  # no row holds it at first
]


class Model:
    """The records a collection should hold: what the oracle judges against."""

    def __init__(self, dim: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        self.rows: dict[str, tuple[npt.NDArray[np.float32], dict[str, Any]]] = {}

    def records(
        self, ids: list[str], labels: list[int]
    ) -> tuple[npt.NDArray[np.float32], list[dict[str, Any]]]:
        vecs = self.rng.normal(size=(len(ids), self.dim)).astype(np.float32)
        pays = [
            {
                "label": lab,
                "color": COLORS[int(self.rng.integers(3))],
                "p": float(self.rng.random()),
            }
            for lab in labels
        ]
        self.rows.update(zip(ids, zip(vecs, pays)))
        return vecs, pays

    def upsert(self, coll: Any, ids: list[str], labels: list[int]) -> None:
        vecs, pays = self.records(ids, labels)
        coll.upsert_arrays(ids, vecs, pays)

    def delete(self, coll: Any, ids: list[str]) -> None:
        coll.delete(ids=ids)
        for i in ids:
            self.rows.pop(i, None)

    def arrays(self) -> tuple[list[str], npt.NDArray[np.float32], list[dict[str, Any]]]:
        ids = list(self.rows)
        return ids, np.stack([self.rows[i][0] for i in ids]), [self.rows[i][1] for i in ids]


def _health(coll: Any, key: str) -> int:
    return int(coll.stats().health[key])


def _assert_exact(
    coll: Any, model: Model, metric: Metric, queries: npt.NDArray[np.float32]
) -> None:
    ids, vecs, pays = model.arrays()
    for flt in FILTERS:
        for q, hits in zip(queries, coll.query_batch(queries, k=10, filter=flt)):
            assert_hits_match(hits, ids, vecs, pays, q, 10, metric, flt)


def _recall(coll: Any, model: Model, metric: Metric, queries: npt.NDArray[np.float32]) -> float:
    ids, vecs, pays = model.arrays()
    got: list[list[str]] = []
    truth: list[list[str]] = []
    for flt in FILTERS:
        got += [h.ids for h in coll.query_batch(queries, k=10, filter=flt)]
        truth += [[i for i, _ in oracle_topk(ids, vecs, pays, q, 10, metric, flt)] for q in queries]
    return recall_at_k(got, truth)


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_flat_partitions_equal_the_oracle_through_every_kind_of_write(metric: Metric) -> None:
    store = edgevec.connect("faiss", index="hnsw", hnsw_m=8, compact_fraction=0.3)
    coll = store.create_collection("c", 8, metric, fields=FIELDS)
    model = Model(8, seed=1)
    ids = [f"r{i}" for i in range(600)]
    model.upsert(coll, ids, [i % 6 for i in range(600)])
    queries = model.rng.normal(size=(4, 8)).astype(np.float32)
    _assert_exact(coll, model, metric, queries)  # builds the partitions
    coll.query(queries[0], k=10, filter=F("label").isin(WIDE))  # a second ask builds the set
    assert "partitions of label" in coll.explain(F("label") == 2)
    built = _health(coll, "partition_rows")
    assert built > 0

    # Overwrites that move records to another value (and one that stays), a delete by id, a
    # delete by filter, and records of a value no partition holds yet.
    model.upsert(coll, ids[:60], [(i % 6 + 1) % 6 for i in range(60)])
    model.upsert(coll, ids[60:70], [i % 6 for i in range(60, 70)])
    model.delete(coll, ids[100:130])
    gone = [i for i, (_, p) in model.rows.items() if p["color"] == "blue" and p["p"] < 0.2]
    coll.delete(filter=(F("color") == "blue") & (F("p") < 0.2))
    model.delete(coll, gone)
    model.upsert(coll, [f"n{i}" for i in range(40)], [7] * 40)
    assert _health(coll, "tombstones") > 0
    _assert_exact(coll, model, metric, queries)
    assert _health(coll, "partition_rows") > built, "writes extend the built partitions"

    # Deleting past compact_fraction rebuilds the index: partitions are dropped with the old
    # slot numbers and rebuilt from the new ones.
    model.delete(coll, ids[130:400])
    assert _health(coll, "tombstones") == 0
    _assert_exact(coll, model, metric, queries)


def test_graph_partitions_keep_recall_after_writes_and_reopen(tmp_path: Path) -> None:
    options: dict[str, Any] = {
        "index": "hnsw",
        "hnsw_m": 12,
        "ef_construction": 40,
        "ef_search": 48,
        "partition_flat_rows": 40,
    }
    store = edgevec.connect("faiss", path=str(tmp_path), durable=False, **options)
    coll = store.create_collection("c", 12, "l2", fields=FIELDS)
    model = Model(12, seed=2)
    ids = [f"r{i}" for i in range(1200)]
    model.upsert(coll, ids, [i % 8 for i in range(1200)])  # 150 rows a value: graphs
    queries = model.rng.normal(size=(6, 12)).astype(np.float32)
    assert _recall(coll, model, "l2", queries) >= 0.95
    model.upsert(coll, ids[:200], [(i + 3) % 8 for i in range(200)])
    model.delete(coll, ids[900:950])
    model.upsert(coll, [f"n{i}" for i in range(60)], [7] * 60)
    assert _recall(coll, model, "l2", queries) >= 0.95
    store.close()

    store = edgevec.connect("faiss", path=str(tmp_path), durable=False, **options)
    coll = store.collection("c")
    assert _health(coll, "partition_rows") == 0, "partitions are rebuilt, not stored"
    assert _recall(coll, model, "l2", queries) >= 0.95
    assert _health(coll, "partition_rows") > 0
    store.close()


def test_value_sets_are_bounded_and_exact() -> None:
    coll = edgevec.connect("faiss", index="hnsw", hnsw_m=8).create_collection(
        "c", 6, "cosine", fields=FIELDS
    )
    model = Model(6, seed=3)
    n = 40 * (MAX_SETS + MERGE_VALUES + 4)
    model.upsert(coll, [str(i) for i in range(n)], [i % 40 for i in range(n)])
    ids, vecs, pays = model.arrays()
    q = model.rng.normal(size=6).astype(np.float32)
    parts = coll._parts._parts  # type: ignore[attr-defined]
    for start in range(MAX_SETS + 3):  # more distinct wide `in` sets than are kept
        flt = F("label").isin(range(start, start + MERGE_VALUES + 1))
        for ask in range(2):  # a set is built on its second ask; both answers are exact
            got = coll.query(q, k=10, filter=flt)
            assert_hits_match(got, ids, vecs, pays, q, 10, "cosine", flt)
            assert (("label", frozenset(flt.value)) in parts) == (ask == 1)
    assert len([key for key in parts if len(key[1]) > 1]) == MAX_SETS


def test_concurrent_readers_build_partitions_while_writers_move_records() -> None:
    coll = edgevec.connect("faiss", index="hnsw", hnsw_m=8).create_collection(
        "c", 8, "dot", fields=FIELDS
    )
    model = Model(8, seed=4)
    ids = [f"r{i}" for i in range(800)]
    model.upsert(coll, ids, [i % 6 for i in range(800)])
    errors: list[BaseException] = []
    lock = threading.Lock()  # the model's rng is not thread-safe

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(40):
                label = int(rng.integers(6))
                hits = coll.query(
                    rng.normal(size=8).astype(np.float32), k=5, filter=F("label") == label
                )
                assert all(h.payload["label"] == label for h in hits), "a hit of another value"
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    def writer(t: int) -> None:
        try:
            for b in range(10):
                picked = ids[t * 200 + b * 20 : t * 200 + b * 20 + 20]
                with lock:
                    model.upsert(coll, picked, [(b + t) % 6] * 20)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    threads += [threading.Thread(target=writer, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    _assert_exact(coll, model, "dot", model.rng.normal(size=(3, 8)).astype(np.float32))


def test_a_flat_partition_that_outgrows_its_size_becomes_a_graph() -> None:
    store = edgevec.connect("faiss", index="hnsw", hnsw_m=8, partition_flat_rows=50)
    coll = store.create_collection("c", 6, "l2", fields=FIELDS)
    model = Model(6, seed=6)
    model.upsert(coll, [str(i) for i in range(90)], [i % 2 for i in range(90)])  # 45 a value
    q = model.rng.normal(size=6).astype(np.float32)
    parts = coll._parts._parts  # type: ignore[attr-defined]

    def check() -> None:
        ids, vecs, pays = model.arrays()
        flt = F("label") == 1
        assert_hits_match(coll.query(q, k=10, filter=flt), ids, vecs, pays, q, 10, "l2", flt)

    check()
    assert not parts[("label", frozenset({1}))].hnsw
    model.upsert(coll, [f"n{i}" for i in range(10)], [1] * 10)
    assert ("label", frozenset({1})) not in parts, "dropped once past partition_flat_rows"
    check()  # rebuilt as a graph of 55 rows, and efSearch 64 walks all of it: exact
    assert parts[("label", frozenset({1}))].hnsw


def test_a_repeated_narrow_filter_gets_a_block_dropped_when_rows_are_added() -> None:
    coll = edgevec.connect("faiss", index="hnsw", hnsw_m=8).create_collection("c", 8, "l2")
    model = Model(8, seed=5)
    model.upsert(coll, [str(i) for i in range(500)], [0] * 500)
    flt = (F("p") < 0.2) & (F("color") != "red")  # no partition key: a range, undeclared
    queries = model.rng.normal(size=(3, 8)).astype(np.float32)

    def check() -> None:
        ids, vecs, pays = model.arrays()
        for q in queries:
            assert_hits_match(coll.query(q, k=10, filter=flt), ids, vecs, pays, q, 10, "l2", flt)

    coll.query(queries[0], k=10, filter=flt)
    assert _health(coll, "partition_rows") == 0, "a filter asked once gets no block"
    check()
    assert 0 < _health(coll, "partition_rows") < 500
    model.delete(coll, [i for i, (_, p) in model.rows.items() if p["p"] < 0.1])
    check()  # deleted rows are masked out of the block
    model.upsert(coll, [f"n{i}" for i in range(30)], [0] * 30)
    assert _health(coll, "partition_rows") == 0, "an added row may pass: the block is dropped"
    check()


def test_partitions_can_be_switched_off_and_options_are_validated() -> None:
    store = edgevec.connect("faiss", index="hnsw", partitions=False)
    coll = store.create_collection("c", 4, fields=FIELDS)
    assert "exact scan" in coll.explain(F("label") == 1)
    on = store.create_collection("d", 4, fields=FIELDS, partitions=True)
    assert "partitions of label" in on.explain((F("p") < 1) & (F("label") == 1))
    assert "exact scan" in on.explain(F("label") < 1), "ranges are not partitioned"
    assert "exact scan" in on.explain(F("p") == 1.0), "float fields are not partitioned"
    with pytest.raises(ConfigError, match="partition_flat_rows"):
        store.create_collection("e", 4, partition_flat_rows=-1)
