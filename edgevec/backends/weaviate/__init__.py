"""Weaviate backend: a self-hosted server or Weaviate Cloud, through weaviate-client v4.

``edgevec.connect("weaviate", url="http://localhost:8080")`` talks REST (schema) and gRPC (data)
to one Weaviate; the sync API uses ``WeaviateClient``, the async API ``WeaviateAsyncClient``
natively. Every operation is written once, as a *plan*: a generator that yields client calls
(``steps.Call``) and receives their results. The sync shell runs a plan, the async shell awaits
it; planning, filter compilation, result parsing and error mapping are shared and free of I/O.

How edgevec's contracts map to Weaviate (``docs/backends/weaviate.md`` has the long form):

* **Collections** are Weaviate classes named ``Edgevec_`` + :func:`encode_name` (a lowercase,
  reversible escape: ``items`` -> ``Edgevec_items``, ``My_Coll`` -> ``Edgevec__my___coll``).
  Weaviate class and property names must be unique *ignoring case*, so the encoding never relies
  on case. Dimension, metric, options and embedder fingerprint are kept as JSON in the class
  ``description``; vectors are self-provided (no vectorizer module) under the named vector
  ``default`` with the collection's distance (``cosine``, ``dot``, ``l2-squared``).
* **Ids**: object uuids are ``uuid5(ID_NAMESPACE, id)`` (the namespace the Qdrant backend uses
  too); the caller's id is stored in the ``ev_id`` property and returned unchanged.
* **Payloads** are stored verbatim as JSON in the ``ev_payload`` property, so nested payloads
  come back exactly as written. Filters run on properties derived from the payload on every write:
  for each dotted path of scalar values ``ps_<path>`` (text[], strings), ``pn_<path>`` (number[],
  floats and the ints a double holds exactly), ``pi_<path>`` (int[], the other ints, beyond 2**53)
  and ``pb_<path>`` (boolean[]), with ``<path>`` escaped by :func:`encode_name`; ``ev_paths``
  (text[]) lists every path that is present, non-null and not an empty list. Keeping the kinds
  apart makes ``3``, ``"3"`` and ``True`` distinct, as edgevec requires, while ``3 == 3.0``. New
  paths add properties to the class (``POST /v1/schema/{class}/properties``) before the write.
* **Filters** become ``weaviate.classes.query.Filter`` trees (:func:`compile_where`), see there.
* **Scores**: Weaviate returns distances. cosine: ``1 - d``; dot: Weaviate's distance is the
  negative inner product, so ``-d``; l2: the distance is squared Euclidean, so ``-sqrt(d)``.
* **Deadlines**: weaviate-client retries gRPC calls that fail with ``UNAVAILABLE``, sleeping
  1, 2, 4, ... 32 s (about a minute) before it gives up. edgevec owns the deadline instead: the
  gRPC channel the client opens is wrapped (``channel.fail_fast_params``) so an ``UNAVAILABLE`` call
  fails at once and every RPC's timeout is clipped to what is left of the operation's
  ``timeout``; REST calls use the same ``timeout`` and no transport retries.
"""

from __future__ import annotations

from edgevec.backends.weaviate.codec import (
    CLASS_PREFIX,
    ID_NAMESPACE,
    MAX_PROPERTY_NAME,
    class_name,
    collection_name,
    decode_name,
    encode_name,
    object_properties,
    object_uuid,
    property_name,
    property_path,
)
from edgevec.backends.weaviate.connection import client_kwargs
from edgevec.backends.weaviate.errors import map_error
from edgevec.backends.weaviate.filters import compile_where, render_where, to_client_filter
from edgevec.backends.weaviate.options import (
    Endpoints,
    WeaviateCollectionOptions,
    WeaviateOptions,
    endpoints,
)
from edgevec.backends.weaviate.plans import to_score
from edgevec.backends.weaviate.store import (
    AsyncWeaviateCollection,
    AsyncWeaviateStore,
    WeaviateCollection,
    WeaviateStore,
    parse_version,
)

__all__ = [
    "CLASS_PREFIX",
    "ID_NAMESPACE",
    "MAX_PROPERTY_NAME",
    "AsyncWeaviateCollection",
    "AsyncWeaviateStore",
    "Endpoints",
    "WeaviateCollection",
    "WeaviateCollectionOptions",
    "WeaviateOptions",
    "WeaviateStore",
    "class_name",
    "client_kwargs",
    "collection_name",
    "compile_where",
    "decode_name",
    "encode_name",
    "endpoints",
    "map_error",
    "object_properties",
    "object_uuid",
    "parse_version",
    "property_name",
    "property_path",
    "render_where",
    "to_client_filter",
    "to_score",
]
