"""Records, hits, ids and vector validation."""

from __future__ import annotations

import numpy as np
import pytest

from edgevec import DimensionMismatchError, Hit, Hits, InvalidInputError, InvalidVectorError, Record
from edgevec.types import check_id, check_metric
from edgevec.vectors import as_matrix, as_query


def test_record_coerces_vectors_to_contiguous_float32() -> None:
    r = Record("a", np.arange(8, dtype=np.float64)[::2], {"x": 1})  # type: ignore[arg-type]
    assert r.vector is not None
    assert r.vector.dtype == np.float32
    assert r.vector.flags.c_contiguous
    assert r == Record("a", np.array([0, 2, 4, 6], np.float32), {"x": 1})
    assert r != Record("a", np.array([0, 2, 4, 7], np.float32), {"x": 1})


@pytest.mark.parametrize("bad", [1, b"x", "", "x" * 513, "é" * 257, None, "a\ud800b"])
def test_bad_ids_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        check_id(bad)


def test_ids_up_to_512_utf8_bytes_are_accepted() -> None:
    assert check_id("é" * 256) == "é" * 256
    assert check_id("🙂" * 128) == "🙂" * 128


def test_payload_must_be_a_mapping() -> None:
    with pytest.raises(InvalidInputError):
        Record("a", None, [1, 2])  # type: ignore[arg-type]


def test_hits_carry_partial_and_missing() -> None:
    hits = Hits([Hit("a", 1.0), Hit("b", 0.5)])
    assert hits.ids == ["a", "b"]
    assert hits.scores.dtype == np.float32
    assert (hits.partial, hits.missing) == (False, [])
    partial = Hits([Hit("a", 1.0)], partial=True, missing=["eu-west-1"])
    assert "missing=['eu-west-1']" in repr(partial)


def test_hits_say_when_scores_are_fused_ranks() -> None:
    assert not Hits().fused
    assert "fused" not in repr(Hits([Hit("a", 1.0)]))
    fused = Hits([Hit("a", 0.03), Hit("b", 0.02)], partial=True, missing=["us"], fused=True)
    assert repr(fused).endswith("partial=True, missing=['us'], fused=True)")
    kept = fused.with_hits(fused[:1])  # a trimmed copy keeps what the answer is
    assert (kept.ids, kept.partial, kept.missing, kept.fused) == (["a"], True, ["us"], True)


def test_metric_names() -> None:
    assert check_metric("l2") == "l2"
    with pytest.raises(InvalidInputError, match="cosine, dot, l2"):
        check_metric("euclidean")


def test_vector_validation() -> None:
    m = as_matrix([[1, 2], [3, 4]], 2, "dot")
    assert m.dtype == np.float32
    assert m.shape == (2, 2)
    with pytest.raises(DimensionMismatchError):
        as_matrix(np.ones((2, 3)), 2, "dot")
    with pytest.raises(DimensionMismatchError):
        as_matrix(np.ones(2), 2, "dot")
    with pytest.raises(InvalidVectorError):
        as_matrix([["a", "b"]], 2, "dot")
    with pytest.raises(InvalidVectorError):
        as_matrix([[1, 2], [3]], 2, "dot")
    with pytest.raises(InvalidVectorError, match=r"\[1\]"):
        as_matrix([[1, 2], [np.nan, 0]], 2, "dot")
    with pytest.raises(InvalidVectorError):
        as_matrix([[0, 0]], 2, "cosine")
    assert as_matrix([[0, 0]], 2, "l2").shape == (1, 2)
    assert as_query([1, 2], 2, "l2").shape == (1, 2)
    with pytest.raises(DimensionMismatchError):
        as_query(np.ones((2, 2)), 2, "l2")


@pytest.mark.parametrize(
    "vector",
    [
        ["a", "b", "c", "d"],
        [[1.0, 2.0], [3.0]],
        [1 + 2j, 0, 0, 0],
        np.array([1, "2", 3, 4], dtype=object),
    ],
)
def test_record_refuses_what_is_not_a_real_vector(vector: object) -> None:
    """These raised raw ValueError (or dropped the imaginary part with a warning)."""
    with pytest.raises(InvalidVectorError, match="vector of 'x'"):
        Record("x", vector)  # type: ignore[arg-type]


def test_record_overflowing_float32_is_refused_on_write_not_on_build() -> None:
    r = Record("x", [1e300, 0.0])  # type: ignore[arg-type]  # no RuntimeWarning: Inf, then ...
    assert r.vector is not None
    with pytest.raises(InvalidVectorError, match="NaN or Inf"):
        as_matrix(r.vector[None, :], 2, "l2")  # ... the shared validation refuses it
