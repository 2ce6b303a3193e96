"""The result cache's key: everything that can change a query's answer, hashed to 16 bytes.

Pure (no I/O), so a shared cache in another process computes the same key for the same query.
Two queries share a key only when they are the same query: the exact vector bytes with their
dtype and shape, ``k``, the canonical filter (:func:`edgevec.filters.canonical`, so filters
written differently but equal share it), search params, score threshold, include flags, the
region selection a router is answering for, and the collection's write generation.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from collections.abc import Hashable, Iterator

from edgevec.filters import canonical
from edgevec.prepare import PreparedQuery

__all__ = ["KEY_BYTES", "cache_key", "region_selection", "selected_region"]

KEY_BYTES = 16
"""Digest size: 100k keys take 1.6 MB, and a collision needs ~2**64 distinct queries."""

_region: contextvars.ContextVar[Hashable] = contextvars.ContextVar("edgevec_region", default=None)


@contextlib.contextmanager
def region_selection(selection: Hashable) -> Iterator[None]:
    """Key the queries made inside this block by ``selection`` (which regions answer them).

    A router that answers the same query differently per region sets this around its query,
    so ``region="us"`` and ``regions="all"`` never share a cache entry. ``selection`` should be
    a ``str`` or a tuple of them: its ``repr`` goes into the key, and must be stable across
    processes for a cache that several share. Context-local: threads and tasks inherit it.
    """
    token = _region.set(selection)
    try:
        yield
    finally:
        _region.reset(token)


def selected_region() -> Hashable:
    """The selection set by the innermost :func:`region_selection` (``None`` outside one)."""
    return _region.get()


def cache_key(scope: str, generation: int, kind: str, q: PreparedQuery) -> bytes:
    """The key of query ``q`` answered by ``kind`` (``"hits"`` or ``"arrays"``) in ``scope``
    (the cache's namespace and the collection name) at write ``generation``."""
    vectors = q.vectors
    head = (
        scope,
        generation,
        kind,
        vectors.dtype.str,
        vectors.shape,
        q.k,
        canonical(q.filter),
        q.params.ef,
        q.params.exact,
        q.score_threshold,
        q.include_vectors,
        q.include_payload,
        _region.get(),
    )
    digest = hashlib.blake2b(repr(head).encode("utf-8", "backslashreplace"), digest_size=KEY_BYTES)
    digest.update(vectors.data if vectors.flags.c_contiguous else vectors.tobytes())
    return digest.digest()
