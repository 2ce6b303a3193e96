"""Migration between real engines: FAISS (in process), Qdrant (its local mode), Milvus Lite.

Each test needs the extras of the engines it uses and skips without them; only the chain needs
all three. Verification is judged against what was written, never against edgevec's own report
alone: the copies are read back and compared record by record.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgevec
from edgevec import Record
from edgevec.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidInputError,
    VerificationError,
)
from edgevec.migrate import VECTOR_ATOL, VECTOR_RTOL, migrate, verify
from edgevec.testing.strategies import random_payloads
from edgevec.testing.wrappers import VectorEmbedder
from edgevec.types import Metric

N, DIM = 150, 16
FIELDS = {"i": "int", "color": "keyword"}


def _needs(*modules: str) -> pytest.MarkDecorator:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs the extras of {', '.join(missing)}")


needs_faiss = _needs("faiss")


@pytest.fixture
def source() -> Iterator[Any]:
    """A FAISS store holding ``items``: N records, declared fields, an embedder fingerprint."""
    with edgevec.connect("faiss") as store:
        coll = store.create_collection(
            "items", embedder=VectorEmbedder(DIM, "cosine"), fields=FIELDS
        )
        vecs = np.random.default_rng(7).normal(size=(N, DIM)).astype(np.float32)
        coll.upsert_arrays([f"id-{i}" for i in range(N)], vecs, random_payloads(N, 7, 53))
        yield store


def _all(store: Any, name: str) -> dict[str, Record]:
    return {r.id: r for page in store.collection(name).scan() for r in page}


def _assert_same_records(a: dict[str, Record], b: dict[str, Record]) -> None:
    assert sorted(a) == sorted(b)
    for rid, rec in a.items():
        assert rec.payload == b[rid].payload, rid
        mine, theirs = rec.vector, b[rid].vector
        assert mine is not None
        assert theirs is not None
        np.testing.assert_allclose(theirs, mine, rtol=VECTOR_RTOL, atol=VECTOR_ATOL)


@_needs("faiss", "qdrant_client", "milvus_lite")
def test_chain_faiss_qdrant_milvus_verifies(source: Any, tmp_path: Path) -> None:
    """FAISS -> Qdrant -> Milvus Lite: each copy holds every record, spec included."""
    written = _all(source, "items")
    with (
        edgevec.connect({"backend": "qdrant", "location": ":memory:"}) as qdrant,
        edgevec.connect({"backend": "milvus", "uri": str(tmp_path / "m.db")}) as milvus,
    ):
        steps: list[int] = []
        first = migrate(source, qdrant, "items", batch_size=64, progress=steps.append)
        assert steps == [64, 64, N - 128]
        second = migrate(qdrant, milvus, "items", target_collection="copy", verify_sample=N)
        for report in (first, second):
            assert report.ok
            assert (report.read, report.written, report.skipped) == (N, N, 0)
            assert report.verification.source_count == report.verification.target_count == N
        assert second.verification.sampled == N
        spec = milvus.collection("copy").spec
        assert (spec.dim, spec.metric, dict(spec.fields)) == (DIM, "cosine", FIELDS)
        assert spec.fingerprint == VectorEmbedder(DIM, "cosine").fingerprint
        _assert_same_records(written, _all(qdrant, "items"))
        _assert_same_records(written, _all(milvus, "copy"))


@needs_faiss
def test_target_lacking_a_record_fails_verification(source: Any) -> None:
    with edgevec.connect("faiss") as target:
        assert migrate(source, target, "items", verify_sample=10).ok
        copy = target.collection("items")
        copy.delete(ids=["id-3"])
        report = verify(source, target, "items", sample=N)
        assert not report.ok
        assert (report.source_count, report.target_count, report.missing) == (N, N - 1, ("id-3",))
        assert "'id-3'" in report.describe()
        # Same count, one payload and one vector changed: only the sample can tell.
        old = source.collection("items").get(["id-3"])[0]
        copy.upsert([Record("id-3", old.vector, {"changed": True})])
        other = copy.get(["id-4"])[0]
        assert other.vector is not None
        copy.upsert([Record("id-4", other.vector * 2, other.payload)])
        report = verify(source, target, "items", sample=N, seed=1)
        assert not report.ok
        assert report.source_count == report.target_count
        assert sorted(report.different) == [("id-3", "payload"), ("id-4", "vector")]
        assert verify(source, target, "items", sample=0).ok  # the counts alone agree


@needs_faiss
def test_migrate_raises_when_the_target_holds_more(source: Any) -> None:
    """A record the source never had stays in the target, and the count check catches it."""
    with edgevec.connect("faiss") as target:
        extra = target.create_collection(
            "items", embedder=VectorEmbedder(DIM, "cosine"), fields=FIELDS
        )
        extra.upsert([Record("stale", np.ones(DIM, np.float32), {"i": -1})])
        with pytest.raises(VerificationError) as caught:
            migrate(source, target, "items")
        assert (caught.value.report.source_count, caught.value.report.target_count) == (N, N + 1)
        assert "target" in str(caught.value)


@needs_faiss
def test_interrupted_migration_resumes_without_rewriting(source: Any) -> None:
    class CrashError(Exception):  # a stand-in for Ctrl-C or a lost process
        pass

    def fail_after_first(n: int) -> None:
        raise CrashError

    with edgevec.connect("faiss") as target:
        with pytest.raises(CrashError):
            migrate(source, target, "items", batch_size=40, progress=fail_after_first)
        assert target.collection("items").count() == 40
        report = migrate(source, target, "items", batch_size=40)
        assert (report.read, report.written, report.skipped) == (N, N - 40, 40)
        assert report.ok
        assert target.collection("items").count() == N
        _assert_same_records(_all(source, "items"), _all(target, "items"))


@needs_faiss
@pytest.mark.parametrize(
    ("dim", "metric", "embedder"),
    [(DIM + 1, "cosine", True), (DIM, "l2", True), (DIM, "cosine", False)],
    ids=["dim", "metric", "fingerprint"],
)
def test_mismatching_target_refused_before_any_write(
    source: Any, dim: int, metric: Metric, embedder: bool
) -> None:
    with edgevec.connect("faiss") as target:
        if embedder:
            target.create_collection("items", embedder=VectorEmbedder(dim, metric), fields=FIELDS)
        else:
            target.create_collection("items", dim, metric, fields=FIELDS)
        with pytest.raises(CollectionExistsError):
            migrate(source, target, "items")
        assert target.collection("items").count() == 0


@needs_faiss
def test_bad_arguments_raise_before_any_io(source: Any) -> None:
    with edgevec.connect("faiss") as target:
        for kwargs in ({"batch_size": 0}, {"batch_size": True}, {"verify_sample": -1}):
            with pytest.raises(InvalidInputError):
                migrate(source, target, "items", **kwargs)
        with pytest.raises(InvalidInputError):
            migrate(source, source, "items")
        with pytest.raises(InvalidInputError):
            verify(source, target, "items", sample=-1)
        with pytest.raises(CollectionNotFoundError):
            migrate(source, target, "nothing")
        assert target.list_collections() == []
