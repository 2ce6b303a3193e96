"""Qdrant Edge backend: Qdrant's own Rust engine in process (``qdrant-edge-py``), for devices.

``edgevec.connect("qdrant_edge", path="./vectors")`` keeps one engine shard per collection in
``./vectors/<name>/shard`` with edgevec's metadata beside it (``edgevec.json``); without
``path`` the shards live in a temporary directory removed on close. Tested with qdrant-edge-py
0.9 (the extra pins ``>=0.9,<0.10``: the API changes between minor versions).

Mapping to edgevec's contracts (shared with the Qdrant backend through
:mod:`edgevec.backends._qdrant_codec` and :mod:`edgevec.backends._qdrant_filters`):

* **Ids** become ``uuid5(ID_NAMESPACE, id)``; the original id is kept in the payload under
  ``__edgevec__`` and stripped from what callers see.
* **Scores**: cosine similarity and inner product as the engine reports them; Euclid comes back
  as the distance ``‖a-b‖`` and is negated.
* **Cosine vectors** are stored unit length by the engine; the written norm is kept in the
  reserved payload entry, so ``get`` and ``include_vectors`` return the vector as written.
* **Filters** compile through the Qdrant compiler to the engine's ``Filter`` classes; declared
  fields get payload indexes, so filtered HNSW searches keep their recall.
* **Index**: ``index="hnsw"`` (default) is built by :meth:`QdrantEdgeCollection.optimize`, by
  hand or once ``optimize_after`` records were written; searches are exact until then.
  ``index="flat"`` is never indexed.

Modules: :mod:`.options`, :mod:`.filters` (the engine's emitter), :mod:`.errors`,
:mod:`.collection` (one shard), :mod:`.store` (the directory of shards, sync and async).
"""

from edgevec.backends.qdrant_edge.collection import QdrantEdgeCollection
from edgevec.backends.qdrant_edge.filters import compile_filter
from edgevec.backends.qdrant_edge.options import QdrantEdgeIndexOptions, QdrantEdgeOptions
from edgevec.backends.qdrant_edge.store import (
    AsyncQdrantEdgeCollection,
    AsyncQdrantEdgeStore,
    QdrantEdgeStore,
)

__all__ = [
    "AsyncQdrantEdgeCollection",
    "AsyncQdrantEdgeStore",
    "QdrantEdgeCollection",
    "QdrantEdgeIndexOptions",
    "QdrantEdgeOptions",
    "QdrantEdgeStore",
    "compile_filter",
]
