"""Pinecone backend: every collection is a namespace of one Pinecone index.

``edgevec.connect("pinecone", api_key=..., host="https://my-index-abc.svc.pinecone.io")`` (or
``index="my-index"``, resolved through Pinecone's control plane). Namespaces are Pinecone's tenant
boundary, so a collection maps to the namespace ``namespace_prefix + name``; a catalog namespace
(``namespace_prefix + "edgevec-catalog"``, a name no collection can have) holds one small record
per collection with its dimension, metric and embedder fingerprint. The sync API uses
``pinecone.Index``, the async API ``pinecone.AsyncIndex`` (what ``Pinecone.IndexAsyncio``
returns) natively.

All logic is pure code, one idea per module: ``options``, ``codec`` (ids and payloads),
``filters``, ``space`` (vector transforms and scores), and *plans* (``steps``, ``catalog``,
``plans``) — generators that yield the client calls (or sleeps) an operation needs and receive
their results; ``errors`` maps client exceptions and ``store`` holds the sync and async shells,
which only differ in how they run a plan, so chunking, pagination, partial-failure reporting and
read-your-writes are written once.

Mapping to edgevec's contracts (details in ``docs/backends/pinecone.md``):

* **Dimension and metric.** An index has one dimension ``D`` and one metric. A collection of
  dimension ``d <= D`` is stored zero-padded to ``D`` (padding changes no cosine, inner product or
  distance). A collection whose metric differs from the index's is served exactly where algebra
  allows: on a ``dotproduct`` index cosine uses unit vectors and l2 uses lifted vectors
  ``[a, ‖a‖², 1]`` queried with ``[2q, -1, 0]`` (re-scored exactly from the returned values); on a
  ``euclidean`` index cosine uses unit vectors (``cos = 1 - d²/2``). Other pairs are refused.
* **Ids** must be ASCII without NUL, at most 512 characters. Such ids are used unchanged (unless
  they start with ``~``); others become ``~q:`` + percent-encoded UTF-8 when that fits, else
  ``~h:`` + SHA-256 with the original id kept in the record's metadata.
* **Scores**: cosine and dotproduct are similarities; euclidean returns the *squared* distance
  (Pinecone's documentation), so edgevec's l2 score is ``-sqrt(raw)``.
* **Payloads** are flattened to dotted keys (``.``, ``%`` and a leading ``~``/``$`` escaped) so
  Pinecone stores what it can natively (strings, numbers, booleans, lists of strings); what it
  cannot (nulls, empty containers, lists holding non-strings) travels in a JSON side record
  ``~m`` and in derived ``~``-keys that keep filters faithful.
* **Filters** compile to Pinecone's metadata filter language in negation normal form; see
  :func:`compile_filter`.
"""

from __future__ import annotations

from edgevec.backends.pinecone.codec import decode_metadata, encode_metadata, record_id, vector_id
from edgevec.backends.pinecone.errors import map_error
from edgevec.backends.pinecone.filters import compile_filter
from edgevec.backends.pinecone.limits import (
    CATALOG_NAMESPACE,
    MAX_METADATA_BYTES,
    MAX_REQUEST_BYTES,
)
from edgevec.backends.pinecone.options import PineconeOptions, https_url
from edgevec.backends.pinecone.store import (
    AsyncPineconeCollection,
    AsyncPineconeStore,
    PineconeCollection,
    PineconeStore,
)

__all__ = [
    "CATALOG_NAMESPACE",
    "MAX_METADATA_BYTES",
    "MAX_REQUEST_BYTES",
    "AsyncPineconeCollection",
    "AsyncPineconeStore",
    "PineconeCollection",
    "PineconeOptions",
    "PineconeStore",
    "compile_filter",
    "decode_metadata",
    "encode_metadata",
    "https_url",
    "map_error",
    "record_id",
    "vector_id",
]
