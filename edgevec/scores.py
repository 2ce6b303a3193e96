"""Engine scores to edgevec scores, written once for every backend.

edgevec's contract is *higher is better*: cosine similarity for ``cosine``, the inner product for
``dot`` and ``-‖a-b‖`` for ``l2``. Engines report other quantities (a distance, a squared
distance, a negated product), so each backend names, per metric, what its engine reports
(:data:`Reported`) and converts through :func:`to_score`; the conversions live here so an engine
quirk is fixed in one place and unit-tested without the engine.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Reported", "l2_between", "l2_from_squared", "to_score"]

Reported = Literal[
    "similarity", "distance", "squared_distance", "negated", "cosine_distance", "unit_squared"
]
"""What an engine returns for a hit.

* ``similarity``: already edgevec's score (cosine similarity or inner product).
* ``distance``: the Euclidean distance ``‖a-b‖``.
* ``squared_distance``: ``‖a-b‖²``.
* ``negated``: the negated score (``-a·b``, Weaviate's dot "distance").
* ``cosine_distance``: ``1 - cos``.
* ``unit_squared``: ``‖a-b‖²`` between unit vectors, which is ``2 - 2·cos``.
"""


def to_score(raw: float, reported: Reported) -> float:
    """edgevec's score for one ``raw`` engine value of kind ``reported``."""
    if reported == "similarity":
        return float(raw)
    if reported in ("distance", "negated"):
        return -float(raw)
    if reported == "squared_distance":
        # Rounding can leave a tiny negative square for an exact match; never take its root.
        return -math.sqrt(max(raw, 0.0))
    if reported == "cosine_distance":
        return 1.0 - raw
    return 1.0 - raw / 2.0


def l2_from_squared(dist: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """:func:`to_score` of ``squared_distance`` over a whole result matrix, in place."""
    np.maximum(dist, 0.0, out=dist)
    np.sqrt(dist, out=dist)
    np.negative(dist, out=dist)
    return dist


def l2_between(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """``-‖a-b‖`` computed exactly in float64, for engines whose own score loses precision."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    return -float(np.sqrt(diff @ diff)) + 0.0  # + 0.0: no -0.0 for an exact match
