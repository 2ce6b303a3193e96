"""Qdrant backend: a server (REST or gRPC) or Qdrant's own local mode, through one code path.

``edgevec.connect("qdrant", url="https://qdrant.example.com:6333", api_key=...)`` talks to a
server; ``location=":memory:"`` (the default) and ``path="./dir"`` run qdrant-client's local mode,
Qdrant's reference implementation in pure Python. Either way the same ``QdrantClient`` /
``AsyncQdrantClient`` methods are called with the same arguments.

Everything that is not I/O lives in pure functions, one idea per module: option handling
(``options``, ``connection``), id mapping (``codec``), the filter compiler (``filters``), request
building and response parsing (``steps``, ``plans``, ``schema``), error mapping (``errors``). A
hook builds a ``Call`` (client method name, keyword arguments, parser) and the sync and async
shells (``store``) only differ in whether they ``await`` it, so the two APIs cannot drift apart.

Mapping to edgevec's contracts:

* **Ids**: Qdrant point ids must be unsigned ints or UUIDs, so the caller's ``str`` id becomes
  ``uuid5(ID_NAMESPACE, id)``; the original id travels in the payload under :data:`RESERVED_KEY`
  and is stripped from what callers see.
* **Scores**: Qdrant returns cosine similarity and inner product as they are, and the *distance*
  ``‖a-b‖`` (square-rooted, ascending) for Euclid; edgevec's l2 score is its negation.
* **Cosine vectors** are unit-normalised by Qdrant on write; the norm is kept next to the id so
  ``get`` and ``include_vectors`` return what was written (as the FAISS backend does).
* **Filters** compile to ``models.Filter``; where Qdrant's own operators differ from edgevec's
  semantics they are rewritten faithfully (see :func:`compile_filter`).
"""

from __future__ import annotations

from edgevec.backends._qdrant_codec import ID_NAMESPACE, RESERVED_KEY, point_id
from edgevec.backends.qdrant.connection import client_kwargs
from edgevec.backends.qdrant.filters import compile_filter
from edgevec.backends.qdrant.options import QdrantCollectionOptions, QdrantOptions, server_url
from edgevec.backends.qdrant.store import (
    AsyncQdrantCollection,
    AsyncQdrantStore,
    QdrantCollection,
    QdrantStore,
)

__all__ = [
    "ID_NAMESPACE",
    "RESERVED_KEY",
    "AsyncQdrantCollection",
    "AsyncQdrantStore",
    "QdrantCollection",
    "QdrantCollectionOptions",
    "QdrantOptions",
    "QdrantStore",
    "client_kwargs",
    "compile_filter",
    "point_id",
    "server_url",
]
