"""Vector validation and normalisation: every write and query passes through here first."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from edgevec.errors import DimensionMismatchError, InvalidVectorError
from edgevec.types import Metric

__all__ = ["as_matrix", "as_query", "normalize_rows"]

Matrix = npt.NDArray[np.float32]


def as_matrix(vectors: Any, dim: int, metric: Metric, *, what: str = "vectors") -> Matrix:
    """Return ``vectors`` as a C-contiguous float32 ``(n, dim)`` matrix, validated.

    Raises :class:`DimensionMismatchError` for a wrong shape and :class:`InvalidVectorError` for
    non-numeric data, NaN/Inf, or a zero vector under cosine (its direction is undefined).
    """
    try:
        arr = np.asarray(vectors)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise InvalidVectorError(f"{what} are not a numeric array: {exc}") from exc
    if arr.dtype.kind not in "fiu":
        raise InvalidVectorError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, dim)
    if arr.ndim != 2 or arr.shape[1] != dim:
        got = arr.shape[-1] if arr.ndim else 0
        raise DimensionMismatchError(
            f"{what} must have shape (n, {dim}); got shape {arr.shape} (dimension {got})"
        )
    if arr.dtype == np.float32 and arr.flags.c_contiguous:
        mat = arr
    else:
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes Inf: caught below
            mat = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(mat).all():
        bad = int(np.flatnonzero(~np.isfinite(mat).all(axis=1))[0])
        raise InvalidVectorError(f"{what}[{bad}] contains NaN or Inf (or overflows float32)")
    if metric == "cosine" and mat.shape[0]:
        zero = ~mat.any(axis=1)
        if zero.any():
            bad = int(np.flatnonzero(zero)[0])
            raise InvalidVectorError(f"{what}[{bad}] is all zeros; cosine needs a direction")
    return mat


def as_query(vector: Any, dim: int, metric: Metric) -> Matrix:
    """Validate one query vector (``(dim,)`` or ``(1, dim)``); returns it as ``(1, dim)``."""
    arr = np.asarray(vector) if not isinstance(vector, np.ndarray) else vector
    if arr.shape == (dim,) and arr.dtype == np.float32 and arr.flags.c_contiguous:
        # The common case, in one BLAS call: a NaN or Inf anywhere makes the dot non-finite, and
        # a zero dot means a zero vector. Anything unusual takes the full check below.
        sq = float(arr.dot(arr))
        if math.isfinite(sq) and (sq > 0.0 or metric != "cosine"):
            return arr.reshape(1, dim)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    elif arr.ndim != 2 or arr.shape[0] != 1:
        raise DimensionMismatchError(
            f"query vector must have shape ({dim},); got {arr.shape}; use query_batch for several"
        )
    return as_matrix(arr, dim, metric, what="query vector")


def normalize_rows(mat: Matrix) -> Matrix:
    """Return a copy of ``mat`` with unit-length rows (rows must be non-zero)."""
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.ascontiguousarray(mat / norms, dtype=np.float32)
