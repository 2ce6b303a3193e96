"""How a collection's vectors live in an index of another dimension or metric, and their scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from edgevec.errors import InvalidInputError, InvalidVectorError
from edgevec.scores import l2_between, to_score
from edgevec.types import CollectionSpec, Metric

IndexMetric = Literal["cosine", "dotproduct", "euclidean"]


NATIVE: dict[IndexMetric, Metric] = {"cosine": "cosine", "dotproduct": "dot", "euclidean": "l2"}


Vector = npt.NDArray[np.float32]


Mode = Literal["native", "unit", "lift"]


@dataclass(frozen=True, slots=True)
class IndexInfo:
    dimension: int
    metric: IndexMetric


@dataclass(frozen=True, slots=True)
class Space:
    """How a collection's vectors live in the index: padding, normalisation or lifting."""

    dim: int
    index_dim: int
    metric: Metric
    index_metric: IndexMetric
    mode: Mode

    @classmethod
    def of(cls, spec: CollectionSpec, info: IndexInfo) -> Space:
        native = NATIVE[info.metric]
        mode: Mode | None = None
        if spec.metric == native:
            mode = "native"
        elif spec.metric == "cosine" and info.metric in ("dotproduct", "euclidean"):
            mode = "unit"
        elif spec.metric == "l2" and info.metric == "dotproduct":
            mode = "lift"
        if mode is None:
            raise InvalidInputError(
                f"this Pinecone index scores with {info.metric!r}, which cannot serve a "
                f"{spec.metric!r} collection; create an index with metric "
                f"{'dotproduct' if spec.metric == 'dot' else spec.metric!r} (a dotproduct index "
                "serves all three metrics)"
            )
        room = info.dimension - (2 if mode == "lift" else 0)
        if spec.dim > room:
            extra = " (an l2 collection on a dotproduct index needs 2 spare dimensions)"
            raise InvalidInputError(
                f"collection {spec.name!r} has dim={spec.dim}, but the Pinecone index holds "
                f"{info.dimension}-dimensional vectors{extra if mode == 'lift' else ''}"
            )
        return cls(spec.dim, info.dimension, spec.metric, info.metric, mode)

    @property
    def rescore(self) -> bool:
        """Scores are recomputed from the returned values (lifted l2)."""
        return self.mode == "lift"

    def rows(self, mat: Vector) -> tuple[Vector, npt.NDArray[np.float64] | None]:
        """Stored rows ``(n, index_dim)`` for ``mat`` ``(n, dim)``, and the norms (unit mode)."""
        n = mat.shape[0]
        out = np.zeros((n, self.index_dim), dtype=np.float32)
        norms = None
        if self.mode == "unit":
            norms = np.linalg.norm(mat.astype(np.float64), axis=1)
            out[:, : self.dim] = mat / norms[:, None]
        else:
            out[:, : self.dim] = mat
        if self.mode == "lift":
            with np.errstate(over="ignore"):
                squared = np.einsum("ij,ij->i", mat.astype(np.float64), mat.astype(np.float64))
                out[:, -2] = squared.astype(np.float32)
            if not np.isfinite(out[:, -2]).all():
                bad = int(np.flatnonzero(~np.isfinite(out[:, -2]))[0])
                raise InvalidVectorError(
                    f"vectors[{bad}] is too long for l2 on a dotproduct index (‖v‖² overflows)"
                )
            out[:, -1] = 1.0
        elif not out.any(axis=1).all():
            bad = int(np.flatnonzero(~out.any(axis=1))[0])
            raise InvalidVectorError(f"vectors[{bad}] is all zeros, which Pinecone rejects")
        return out, norms

    def query(self, row: Vector) -> list[float]:
        out = np.zeros(self.index_dim, dtype=np.float32)
        if self.mode == "unit":
            out[: self.dim] = row / np.linalg.norm(row.astype(np.float64))
        elif self.mode == "lift":
            out[: self.dim] = 2.0 * row
            out[-2] = -1.0
        else:
            out[: self.dim] = row
        result: list[float] = out.tolist()
        return result

    def score(self, raw: float, row: Vector, values: Vector | None) -> float:
        if self.mode == "lift":
            if values is not None and values.shape[0] >= self.dim:
                return l2_between(values[: self.dim], row)
            squared = float(row.astype(np.float64) @ row.astype(np.float64)) - raw
            return to_score(squared, "squared_distance")
        if self.index_metric == "euclidean":
            return to_score(raw, "unit_squared" if self.mode == "unit" else "squared_distance")
        return to_score(raw, "similarity")

    def restore(self, values: Sequence[float], side: Mapping[str, Any]) -> Vector:
        vec = np.asarray(values[: self.dim], dtype=np.float32)
        if self.mode == "unit":
            norm = side.get("n")
            if isinstance(norm, int | float):
                vec = (vec.astype(np.float64) * float(norm)).astype(np.float32)
        return np.ascontiguousarray(vec)
