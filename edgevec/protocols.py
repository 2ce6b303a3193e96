"""Structural types for stores and collections, sync and async.

Anything with these methods is a store to edgevec (a router that wraps stores is one too), so code
can be typed against :class:`VectorStore` / :class:`Collection` rather than a backend class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from edgevec.capabilities import Capabilities
from edgevec.filters import FilterLike
from edgevec.types import CollectionSpec, Hits, Metric, Record

__all__ = ["AsyncCollection", "AsyncVectorStore", "Collection", "VectorStore"]


@runtime_checkable
class Collection(Protocol):
    """A named set of records of one dimension and metric."""

    spec: CollectionSpec
    capabilities: Capabilities

    @property
    def name(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def metric(self) -> Metric: ...

    def upsert(self, records: Iterable[Record]) -> None: ...
    def upsert_arrays(
        self,
        ids: Sequence[str],
        vectors: Any,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None: ...
    def query(
        self,
        vector: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> Hits: ...
    def query_batch(
        self,
        vectors: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> list[Hits]: ...
    def get(self, ids: Iterable[str], *, include_vectors: bool = True) -> list[Record]: ...
    def delete(
        self, ids: Iterable[str] | None = None, *, filter: FilterLike | None = None
    ) -> None: ...
    def count(self, filter: FilterLike | None = None) -> int: ...
    def explain(self, filter: FilterLike) -> str: ...


@runtime_checkable
class VectorStore(Protocol):
    """A connection to one engine (or a router over several) holding named collections."""

    def create_collection(
        self, name: str, dim: int, metric: str = "cosine", *, exist_ok: bool = False, **options: Any
    ) -> Collection: ...
    def collection(self, name: str) -> Collection: ...
    def has_collection(self, name: str) -> bool: ...
    def list_collections(self) -> list[str]: ...
    def drop_collection(self, name: str, *, missing_ok: bool = False) -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class AsyncCollection(Protocol):
    """Async twin of :class:`Collection`."""

    spec: CollectionSpec
    capabilities: Capabilities

    async def upsert(self, records: Iterable[Record]) -> None: ...
    async def upsert_arrays(
        self,
        ids: Sequence[str],
        vectors: Any,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None: ...
    async def query(
        self,
        vector: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> Hits: ...
    async def query_batch(
        self,
        vectors: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> list[Hits]: ...
    async def get(self, ids: Iterable[str], *, include_vectors: bool = True) -> list[Record]: ...
    async def delete(
        self, ids: Iterable[str] | None = None, *, filter: FilterLike | None = None
    ) -> None: ...
    async def count(self, filter: FilterLike | None = None) -> int: ...
    def explain(self, filter: FilterLike) -> str: ...


@runtime_checkable
class AsyncVectorStore(Protocol):
    """Async twin of :class:`VectorStore`."""

    async def create_collection(
        self, name: str, dim: int, metric: str = "cosine", *, exist_ok: bool = False, **options: Any
    ) -> AsyncCollection: ...
    async def collection(self, name: str) -> AsyncCollection: ...
    async def has_collection(self, name: str) -> bool: ...
    async def list_collections(self) -> list[str]: ...
    async def drop_collection(self, name: str, *, missing_ok: bool = False) -> None: ...
    async def close(self) -> None: ...
