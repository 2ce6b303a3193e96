"""Declared payload fields: the typed ``PayloadIndex`` columns against the oracle and the untyped
columns, and FAISS keeping a declaration across a reopen."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgevec
from edgevec import F
from edgevec.errors import CollectionExistsError, InvalidInputError
from edgevec.fields import check_fields
from edgevec.filters import PayloadIndex
from edgevec.testing.oracle import matches
from edgevec.testing.strategies import random_filter
from tests.plugins.tinystore import TinyOptions, TinyStore

DECLARED = {
    "iv": "int",
    "fv": "float",
    "bv": "bool",
    "kv": "keyword",
    "lv": "int[]",
    "sv": "keyword[]",
}
VALUES: list[Any] = [3, 3.0, "3", True, False, 1, 0, 2.5, -1, "", "x", 2**53, 2**53 + 1, -0.0]
NUMBERS: list[Any] = [0, 1, 2.5, 3, 3.0, -1, -0.0, 2**53, 2**53 + 1, float(2**53), 2**63 - 1]


def _payloads(n: int, seed: int) -> list[dict[str, Any]]:
    """Values of each declared type, with the awkward ones (edges of int64 and of doubles,
    empty lists and strings, -0.0) frequent, and every field absent or null now and then."""
    rng = random.Random(seed)
    ints = [0, 1, 3, -1, 2**53, 2**53 + 1, 2**63 - 1, -(2**63)]
    floats = [0.0, -0.0, 2.5, 3.0, 3, 1, 0.1, float(2**53), -7.5]
    gen: dict[str, Callable[[], Any]] = {
        "iv": lambda: rng.choice(ints),
        "fv": lambda: rng.choice(floats),
        "bv": lambda: rng.random() < 0.5,
        "kv": lambda: rng.choice(["3", "x", "", "ü"]),
        "lv": lambda: rng.sample(ints, rng.randint(0, 3)),
        "sv": lambda: rng.sample(["3", "x", "", "a"], rng.randint(0, 2)),
    }
    out = []
    for _ in range(n):
        p: dict[str, Any] = {}
        for name, make in gen.items():
            roll = rng.random()
            if roll < 0.7:
                p[name] = make()
            elif roll < 0.8:
                p[name] = None
        out.append(p)
    return out


def test_typed_columns_answer_as_the_oracle() -> None:
    """Random trees over every declared type: typed masks equal the untyped ones and the oracle,
    also after rows are appended in several batches (columns extend incrementally)."""
    pays = _payloads(400, seed=1)
    typed, untyped = PayloadIndex(check_fields(DECLARED)), PayloadIndex()
    rng = random.Random(2)
    for start in range(0, len(pays), 100):
        typed.append(pays[start : start + 100])
        untyped.append(pays[start : start + 100])
        seen = pays[: start + 100]
        for _ in range(150):
            flt = random_filter(rng, list(DECLARED), VALUES, NUMBERS)
            want = np.array([matches(flt, p) for p in seen])
            got = typed.mask(flt)
            assert np.array_equal(got, want), flt.explain()
            assert np.array_equal(untyped.mask(flt), want), flt.explain()


@pytest.mark.skipif(
    importlib.util.find_spec("faiss") is None,
    reason='needs the faiss extra: pip install "edgevec[faiss]"',
)
def test_faiss_keeps_declared_fields_across_reopen(tmp_path: Path) -> None:
    fields = {"label": "int", "price": "float", "tags": "keyword[]"}
    pays = [{"label": i % 4, "price": float(i), "tags": ["a"] if i % 2 else []} for i in range(20)]
    flt = (F("label") == 3) & (F("price") < 12) & ~(F("tags") == "b")
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll = store.create_collection("c", 4, "l2", fields=fields)
        coll.upsert_arrays([f"r{i}" for i in range(20)], np.eye(20, 4, dtype=np.float32), pays)
        before = sorted(coll.query(np.zeros(4, np.float32), k=20, filter=flt).ids)
    assert before == ["r11", "r3", "r7"]
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll = store.collection("c")
        assert dict(coll.spec.fields) == fields
        assert sorted(coll.query(np.zeros(4, np.float32), k=20, filter=flt).ids) == before
        with pytest.raises(InvalidInputError, match=r"payload #0: field 'label' is declared"):
            coll.upsert_arrays(["bad"], np.ones((1, 4), np.float32), [{"label": "3"}])
        with pytest.raises(CollectionExistsError, match="fields"):
            store.create_collection("c", 4, "l2", exist_ok=True)
        assert store.create_collection("c", 4, "l2", exist_ok=True, fields=fields) is coll


def test_a_backend_that_cannot_keep_fields_refuses_them() -> None:
    """Forgetting a declaration on reopen would silently drop its type checks: refuse it."""

    class Forgetful(TinyStore):
        capabilities = TinyStore.capabilities.narrowed(declared_fields=False)

    store = Forgetful(TinyOptions())
    with pytest.raises(InvalidInputError, match="does not keep declared fields"):
        store.create_collection("c", 2, fields={"a": "int"})
    assert store.list_collections() == []
    store.create_collection("c", 2)  # without fields it works as before
