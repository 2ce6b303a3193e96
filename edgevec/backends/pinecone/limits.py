"""What edgevec can promise on Pinecone, its documented limits, and the catalog's namespace."""

from __future__ import annotations

from edgevec.capabilities import Capabilities

CATALOG_NAMESPACE = "edgevec-catalog"
"""Namespace (after the prefix) of the collection catalog; ``-`` keeps it off collection names."""
MAX_METADATA_BYTES = 40_000
"""Pinecone's limit is 40 KB of metadata per record; measured as compact JSON, with a margin."""
MAX_REQUEST_BYTES = 2_000_000 - 16_384
"""Pinecone's upsert limit is 2 MB per request; the margin covers the request envelope."""
MAX_IDS_PER_REQUEST = 1_000  # fetch and delete
MAX_FETCH_URL_BYTES = 8_000  # ids travel in the query string of GET /vectors/fetch
MAX_FILTER_VALUES = 10_000  # per $in / $nin operator
MAX_ID_CHARS = 512
LIST_PAGE = 100  # /vectors/list allows at most 100 per page

CAPABILITIES = Capabilities(
    exact=False,
    native_async=True,
    max_batch=1000,
    persistent=True,
    namespaces=True,
    exact_int_bits=53,
    declared_fields=True,  # metadata is indexed already: declaring checks types and persists
)
"""Every Pinecone store's; a store narrows them by its options."""
