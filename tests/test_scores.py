"""Engine score conversions, judged against the exact numpy oracle without any engine."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edgevec.scores import Reported, l2_between, l2_from_squared, to_score
from edgevec.testing.oracle import exact_scores
from edgevec.types import Metric

RNG = np.random.default_rng(7)
ROWS = RNG.standard_normal((16, 5)).astype(np.float32)
QUERY = RNG.standard_normal(5).astype(np.float32)


def _raw(reported: Reported) -> npt.NDArray[np.float64]:
    """What an engine reporting ``reported`` returns for ROWS against QUERY, in float64."""
    x, q = ROWS.astype(np.float64), QUERY.astype(np.float64)
    unit_x = x / np.linalg.norm(x, axis=1, keepdims=True)
    unit_q = q / np.linalg.norm(q)
    raw: dict[Reported, npt.NDArray[np.float64]] = {
        "similarity": x @ q,
        "distance": np.linalg.norm(x - q, axis=1),
        "squared_distance": ((x - q) ** 2).sum(axis=1),
        "negated": -(x @ q),
        "cosine_distance": 1.0 - unit_x @ unit_q,
        "unit_squared": ((unit_x - unit_q) ** 2).sum(axis=1),
    }
    return raw[reported]


@pytest.mark.parametrize(
    ("reported", "metric"),
    [
        ("similarity", "dot"),
        ("distance", "l2"),
        ("squared_distance", "l2"),
        ("negated", "dot"),
        ("cosine_distance", "cosine"),
        ("unit_squared", "cosine"),
    ],
)
def test_every_reported_kind_becomes_the_oracle_score(reported: Reported, metric: Metric) -> None:
    got = [to_score(float(r), reported) for r in _raw(reported)]
    np.testing.assert_allclose(got, exact_scores(ROWS, QUERY, metric), rtol=1e-9, atol=1e-9)


def test_a_squared_distance_rounded_below_zero_is_an_exact_match() -> None:
    assert to_score(-1e-7, "squared_distance") == 0.0
    dist = np.array([[-1e-7, 4.0]], np.float32)
    assert l2_from_squared(dist).tolist() == [[0.0, -2.0]]


def test_the_matrix_conversion_agrees_with_the_scalar_one() -> None:
    squared = _raw("squared_distance").astype(np.float32)[None, :]
    expected = [to_score(float(r), "squared_distance") for r in squared[0]]
    np.testing.assert_allclose(l2_from_squared(squared.copy())[0], expected, rtol=1e-6)


def test_l2_between_is_exact_and_never_negative_zero() -> None:
    np.testing.assert_allclose(
        [l2_between(row, QUERY) for row in ROWS], exact_scores(ROWS, QUERY, "l2"), rtol=1e-12
    )
    same = l2_between(QUERY, QUERY)
    assert same == 0.0
    assert np.copysign(1.0, same) == 1.0
