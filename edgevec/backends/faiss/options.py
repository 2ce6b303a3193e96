"""Options of the FAISS backend: store-wide settings and per-collection index defaults."""

from __future__ import annotations

from typing import Any, Literal

import faiss as _faiss
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["METRIC", "FaissIndexOptions", "FaissOptions", "faiss"]

# FAISS's bundled stubs are partial (no SearchParametersHNSW, IndexFlat.get_xb, ...): use it as Any.
faiss: Any = _faiss


class FaissIndexOptions(BaseModel):
    """Per-collection index options (``create_collection(..., index="hnsw", ef_search=128)``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Literal["flat", "hnsw"] = "flat"
    hnsw_m: int = Field(32, ge=4, le=256)
    ef_construction: int = Field(200, ge=8, le=4096)
    ef_search: int = Field(64, ge=1, le=32_768)
    exact_rows: int = Field(40_000, ge=0)
    """HNSW: a filter admitting at most this many rows is answered by an exact scan of them."""
    exact_fraction: float = Field(0.05, ge=0.0, le=1.0)
    """HNSW: ... or at most this share of all rows (for collections far beyond ``exact_rows``)."""
    partitions: bool = True
    """HNSW: answer ``eq``/``in`` filters on declared ``int``/``keyword`` fields from per-value
    sub-indexes, built on first use (each holds a copy of its rows' vectors)."""
    partition_flat_rows: int = Field(4096, ge=0)
    """HNSW: a partition of at most this many rows is a flat block searched exactly; larger ones
    get their own graph."""
    compact_fraction: float = Field(0.25, gt=0.0, le=1.0)
    """Rebuild once tombstoned slots exceed this share of all slots."""


class FaissOptions(FaissIndexOptions):
    """Options of ``edgevec.connect("faiss", ...)``; the index options are collection defaults."""

    path: str | None = None
    """Directory to persist collections in; ``None`` keeps everything in memory."""
    durable: bool = True
    """With ``path``: an acknowledged write survives power loss (SQLite ``synchronous=EXTRA``).

    ``False`` skips the fsyncs: a killed process still loses nothing, but a power loss may lose
    recent writes or damage the file (then reported as :class:`CorruptDataError`)."""
    checkpoint_rows: int = Field(50_000, ge=1)
    """HNSW with ``path``: save the graph after this many written records (and on close), so a
    reopen after a crash rebuilds at most this much work's worth of staleness."""
    threads: int | None = Field(None, ge=1)
    """OpenMP threads FAISS may use (process-wide); ``None`` leaves FAISS's default."""


METRIC = {
    "cosine": faiss.METRIC_INNER_PRODUCT,
    "dot": faiss.METRIC_INNER_PRODUCT,
    "l2": faiss.METRIC_L2,
}
