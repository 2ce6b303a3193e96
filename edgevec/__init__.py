"""edgevec: one typed API for vector similarity over FAISS, Qdrant, Milvus, Pinecone and Weaviate.

>>> import edgevec, numpy as np
>>> store = edgevec.connect("faiss")
>>> coll = store.create_collection("items", dim=3, metric="cosine")
>>> coll.upsert([edgevec.Record("a", np.array([1, 0, 0], np.float32), {"color": "red"})])
>>> coll.query(np.array([1, 0, 0], np.float32), k=1, filter=edgevec.F("color") == "red")[0].id
'a'

Importing edgevec loads no vendor client; a backend's client is imported on first ``connect``.
"""

from typing import TYPE_CHECKING, Any

from edgevec.abase import AsyncBaseCollection, AsyncBaseStore
from edgevec.aembedded import AsyncEmbeddedCollection
from edgevec.base import BaseCollection, BaseStore
from edgevec.capabilities import Capabilities
from edgevec.connect import connect, connect_async
from edgevec.deadlines import deadline
from edgevec.embedded import EmbeddedCollection
from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    CorruptDataError,
    DimensionMismatchError,
    EdgevecError,
    EmbedderMismatchError,
    FilterNotSupportedError,
    InvalidImageError,
    InvalidInputError,
    InvalidVectorError,
    MissingDependencyError,
    ModelIntegrityError,
    PartialWriteError,
    RecordNotFoundError,
    RoutingError,
    StoreClosedError,
    VerificationError,
)
from edgevec.filters import F, Filter
from edgevec.search_params import SearchParams
from edgevec.types import ArrayHits, CollectionSpec, Hit, Hits, Metric, Record

if TYPE_CHECKING:
    from edgevec.router.arouter import AsyncRouter
    from edgevec.router.store import Router

# The interfaces to type application code against. Every backend, and a router that wraps
# stores, subclasses these base classes, so one name serves as both contract and base.
VectorStore = BaseStore
Collection = BaseCollection
AsyncVectorStore = AsyncBaseStore
AsyncCollection = AsyncBaseCollection

__version__ = "0.1.0"

__all__ = [
    "ArrayHits",
    "AsyncBaseCollection",
    "AsyncBaseStore",
    "AsyncCollection",
    "AsyncEmbeddedCollection",
    "AsyncRouter",
    "AsyncVectorStore",
    "AuthenticationError",
    "BackendError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "BaseCollection",
    "BaseStore",
    "Capabilities",
    "Collection",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "CollectionSpec",
    "ConfigError",
    "CorruptDataError",
    "DimensionMismatchError",
    "EdgevecError",
    "EmbeddedCollection",
    "EmbedderMismatchError",
    "F",
    "Filter",
    "FilterNotSupportedError",
    "Hit",
    "Hits",
    "InvalidImageError",
    "InvalidInputError",
    "InvalidVectorError",
    "Metric",
    "MissingDependencyError",
    "ModelIntegrityError",
    "PartialWriteError",
    "Record",
    "RecordNotFoundError",
    "Router",
    "RoutingError",
    "SearchParams",
    "StoreClosedError",
    "VectorStore",
    "VerificationError",
    "__version__",
    "connect",
    "connect_async",
    "deadline",
]


def __getattr__(name: str) -> Any:
    """``Router`` and ``AsyncRouter`` on first use: the router needs pydantic and tenacity,
    which ``import edgevec`` does not load (both are core dependencies)."""
    if name == "Router":
        from edgevec.router.store import Router

        return Router
    if name == "AsyncRouter":
        from edgevec.router.arouter import AsyncRouter

        return AsyncRouter
    raise AttributeError(f"module 'edgevec' has no attribute {name!r}")
