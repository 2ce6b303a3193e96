"""The result cache's key: everything that can change a query's answer, hashed to 16 bytes.

Pure (no I/O), so a shared cache in another process computes the same key for the same query.
Two queries share a key only when they are the same query: the exact vector bytes with their
dtype and shape, ``k``, the canonical filter (:func:`edgevec.filters.canonical`, so filters
written differently but equal share it), search params, score threshold, include flags, the
region selection a router is answering for, and the collection's write generation.

Everything but the vector bytes repeats from query to query, so the hash state after that
part is kept per distinct part (a few thousand at most) and only the vector is hashed per
query: half the cost of a key, and the same bytes as hashing it whole. The canonical form of a
filter object is kept with the object too: an application that builds its filters once pays
for normalising one once, not per query.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from collections.abc import Hashable, Iterator
from typing import Any

from edgevec.filters import Filter, canonical
from edgevec.prepare import PreparedQuery

__all__ = ["KEY_BYTES", "cache_key", "region_selection", "selected_region"]

KEY_BYTES = 16
"""Digest size: 100k keys take 1.6 MB, and a collision needs ~2**64 distinct queries."""

_MAX_SEEDS = 4096
"""Hash states (and filter forms) kept for reuse; past this many, all are dropped."""

_seeds: dict[tuple[Hashable, ...], Any] = {}  # the head of a key -> blake2b state after it
_canonicals: dict[int, tuple[Filter, str]] = {}  # id(filter) -> (that filter, its canonical)

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
    flt = q.filter
    threshold = q.score_threshold
    # Tuples equal by == must mean the same query, as they share a hash state: the flags go
    # in as bool (1 == True) and the threshold with -0.0 made 0.0 (equal, but printed apart).
    head = (
        scope,
        generation,
        kind,
        vectors.dtype,
        vectors.shape,
        q.k,
        "" if flt is None else _canonical(flt),
        q.params.ef,
        q.params.exact,
        None if threshold is None else threshold + 0.0,
        bool(q.include_vectors),
        bool(q.include_payload),
        _region.get(),
    )
    seed = _seeds.get(head)
    if seed is None:
        seed = hashlib.blake2b(
            repr(head).encode("utf-8", "backslashreplace"), digest_size=KEY_BYTES
        )
        if len(_seeds) >= _MAX_SEEDS:
            _seeds.clear()
        _seeds[head] = seed
    digest = seed.copy()
    digest.update(vectors.data if vectors.flags.c_contiguous else vectors.tobytes())
    return digest.digest()


def _canonical(flt: Filter) -> str:
    """:func:`~edgevec.filters.canonical` of ``flt``, kept per filter *object* (equal filters
    may differ: ``F("n") == 1`` equals ``F("n") == True``). Kept only for a hashable filter,
    whose values cannot change; the entry holds the filter, so its id is not reused."""
    known = _canonicals.get(id(flt))
    if known is not None and known[0] is flt:
        return known[1]
    text = canonical(flt)
    try:
        hash(flt)
    except TypeError:  # a value such as a list, which its owner may still change
        return text
    if len(_canonicals) >= _MAX_SEEDS:
        _canonicals.clear()
    _canonicals[id(flt)] = (flt, text)
    return text
