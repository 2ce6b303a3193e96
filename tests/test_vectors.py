"""Vector validation shared by every backend: typed errors for what is not a real vector, and
cosine norms that float32 engines cannot square."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgevec.errors import InvalidVectorError
from edgevec.vectors import COSINE_NORM_RANGE, as_matrix, as_query, normalize_rows


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [[1.0, 2.0], [3.0]],
        [["a", "b"]],
        np.ones((1, 2), np.complex128),
        np.array([[1, "2"]], dtype=object),
        np.ones((1, 2), bool),
    ],
)
def test_non_real_input_is_an_invalid_vector(bad: Any) -> None:
    with pytest.raises(InvalidVectorError):
        as_matrix(bad, 2, "l2")


@pytest.mark.parametrize("vector", [[1e-30, 0.0], [1e20, 1e20], [1e-45, 0.0], [3e38, 3e38]])
def test_cosine_norms_float32_cannot_square_are_refused(vector: list[float]) -> None:
    """Before, [1e-30, 0] passed (its float32 square is 0 but it is not all zeros) and scored
    NaN; [1e20, 1e20] passed and came back normalised to zeros."""
    vec = np.array(vector, np.float32)
    with pytest.raises(InvalidVectorError, match="norm"):
        as_query(vec, 2, "cosine")
    with pytest.raises(InvalidVectorError, match="norm"):
        as_matrix(vec[None, :], 2, "cosine")
    assert as_query(vec, 2, "dot").shape == (1, 2)  # only cosine normalises


def test_norms_inside_the_range_normalise_exactly() -> None:
    lo, hi = COSINE_NORM_RANGE
    mat = np.array([[lo * 1.01, 0.0], [hi / 2, hi / 2], [3.0, 4.0]], np.float32)
    assert as_matrix(mat, 2, "cosine") is mat
    unit = normalize_rows(mat)
    np.testing.assert_allclose(np.linalg.norm(unit.astype(np.float64), axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(unit[2], [0.6, 0.8], rtol=1e-6)
    tiny = normalize_rows(np.array([[1e-30, 0.0]], np.float32))  # float64 norms: no underflow
    np.testing.assert_array_equal(tiny, [[1.0, 0.0]])
