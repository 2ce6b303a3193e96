"""Vector validation and normalisation: every write and query passes through here first."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from edgevec.errors import DimensionMismatchError, InvalidVectorError
from edgevec.types import Metric

__all__ = ["COSINE_NORM_RANGE", "as_matrix", "as_query", "normalize_rows"]

Matrix = npt.NDArray[np.float32]

COSINE_NORM_RANGE = (2.0**-60, 2.0**60)
"""Norms a cosine vector may have. Engines square norms in float32, which holds 2**-126..2**128:
beyond this range ``[1e-30, 0]`` would score NaN and ``[1e20, 1e20]`` come back as zeros, so such
vectors raise :class:`InvalidVectorError` on every backend instead."""
_SQ_RANGE = (COSINE_NORM_RANGE[0] ** 2, COSINE_NORM_RANGE[1] ** 2)


def as_matrix(vectors: Any, dim: int, metric: Metric, *, what: str = "vectors") -> Matrix:
    """Return ``vectors`` as a C-contiguous float32 ``(n, dim)`` matrix, validated.

    Raises :class:`DimensionMismatchError` for a wrong shape and :class:`InvalidVectorError` for
    non-numeric data (strings, objects, complex numbers, ragged lists), NaN/Inf, or under cosine
    a zero vector (its direction is undefined) or a norm outside :data:`COSINE_NORM_RANGE`.
    """
    if vectors is None:
        raise InvalidVectorError(f"{what} are None; expected an (n, dim) array")
    try:
        arr = np.asarray(vectors)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise InvalidVectorError(f"{what} are not a numeric array: {exc}") from exc
    if arr.dtype.kind not in "fiu":  # 'c' (complex), 'U', 'O', 'b', ... have no place here
        raise InvalidVectorError(f"{what} must be real numbers, got dtype {arr.dtype}")
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
        wide = mat.astype(np.float64)
        sq = np.einsum("ij,ij->i", wide, wide)
        out = (sq < _SQ_RANGE[0]) | (sq > _SQ_RANGE[1])
        if out.any():
            bad = int(np.flatnonzero(out)[0])
            if sq[bad] == 0.0:
                raise InvalidVectorError(f"{what}[{bad}] is all zeros; cosine needs a direction")
            lo, hi = COSINE_NORM_RANGE
            raise InvalidVectorError(
                f"{what}[{bad}] has norm {math.sqrt(sq[bad]):.3g}; cosine needs a norm within "
                f"{lo:.3g}..{hi:.3g} (engines square it in float32): rescale the vector"
            )
    return mat


def as_query(vector: Any, dim: int, metric: Metric) -> Matrix:
    """Validate one query vector (``(dim,)`` or ``(1, dim)``); returns it as ``(1, dim)``."""
    arr = np.asarray(vector) if not isinstance(vector, np.ndarray) else vector
    if arr.shape == (dim,) and arr.dtype == np.float32 and arr.flags.c_contiguous:
        # The common case, in one BLAS call: a NaN or Inf anywhere makes the dot non-finite, and
        # a cosine norm out of range shows in it. Anything unusual takes the full check below.
        sq = float(np.vdot(arr, arr))  # vdot: an overflow gives inf, not a RuntimeWarning
        if math.isfinite(sq) and (metric != "cosine" or _SQ_RANGE[0] <= sq <= _SQ_RANGE[1]):
            return arr.reshape(1, dim)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    elif arr.ndim != 2 or arr.shape[0] != 1:
        raise DimensionMismatchError(
            f"query vector must have shape ({dim},); got {arr.shape}; use query_batch for several"
        )
    return as_matrix(arr, dim, metric, what="query vector")


def normalize_rows(mat: Matrix) -> Matrix:
    """Return a copy of ``mat`` with unit-length rows (rows must be non-zero).

    Norms are taken in float64, where no float32 row can under- or overflow.
    """
    wide = mat.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))[:, None]
    return np.ascontiguousarray(wide / norms, dtype=np.float32)
