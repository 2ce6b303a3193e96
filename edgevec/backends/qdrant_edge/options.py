"""Options of the Qdrant Edge backend: the store's, and each collection's index settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QdrantEdgeIndexOptions(BaseModel):
    """Per-collection options (``create_collection(..., index="flat")``), saved beside the shard
    so ``collection(name)`` restores them; the store's options are their defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Literal["flat", "hnsw"] = "hnsw"
    """``hnsw``: the engine builds an HNSW graph when it is optimized (searches are exact until
    then); ``flat``: never indexed, every search is exact."""
    hnsw_m: int = Field(16, ge=4, le=256)
    ef_construct: int = Field(100, ge=4, le=4096)
    ef: int | None = Field(None, ge=1, le=32_768)
    """HNSW search beam when a query sets none; ``None``: the engine's default."""
    optimize_after: int | None = Field(20_000, ge=1)
    """``hnsw``: the upsert that leaves this many records written since the last optimize runs
    :meth:`optimize` before it returns (it holds the GIL for seconds); ``None``: only explicit
    ``collection.optimize()`` builds the graph."""
    full_scan_threshold_kb: int = Field(10_000, ge=1)
    """A search whose filter lets fewer than this many KB of vectors through scans them exactly
    instead of walking the graph (Qdrant's ``full_scan_threshold``): why narrow filters keep
    their recall."""
    quantization: Literal["none", "int8"] = "none"
    """``int8``: scalar quantization of the indexed vectors (4x less memory for the search;
    results are rescored with the original vectors)."""
    acorn: bool = False
    """Filtered HNSW searches use ACORN (a wider walk through filtered-out neighbours)."""


class QdrantEdgeOptions(QdrantEdgeIndexOptions):
    """Options of ``edgevec.connect("qdrant_edge", ...)``; the index options are collection
    defaults."""

    path: str | None = None
    """Directory holding one shard directory per collection; ``None``: a temporary directory,
    removed on close."""
    search_threads: int | None = Field(None, ge=1)
    """Threads of each shard's search pool; ``None``: the count the shard was last opened with,
    else the engine's default (one per CPU). The engine saves the count with the shard."""
