"""Capability manifests: what a backend (or one collection) can do, checked before any I/O.

One manifest per backend class drives both early errors (an unsupported filter operator raises
:class:`~edgevec.errors.FilterNotSupportedError` before a request is sent) and the conformance
suite's skips, so skips are never scattered through tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from edgevec.errors import FilterNotSupportedError, InvalidInputError
from edgevec.filters import OPS, Filter
from edgevec.search_params import SearchParams

__all__ = ["Capabilities"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Declared abilities of a backend; collections may narrow them (an HNSW index is not exact)."""

    filter_ops: frozenset[str] = field(default=OPS)
    """Filter operators the backend runs natively or by faithful rewriting."""
    exact: bool = True
    """Query results equal the exact numpy oracle (ids, and scores within 1e-4)."""
    native_async: bool = False
    """The async API uses the vendor's async client rather than worker threads."""
    max_batch: int = 1000
    """Records per write request; larger upserts are split."""
    max_k: int = 10_000
    """Largest ``k`` a query may ask for."""
    persistent: bool = False
    """Data survives :meth:`close` and a new process (given the same path or server)."""
    namespaces: bool = False
    """Collections map to namespaces of one index (a tenant boundary)."""
    exact_int_bits: int = 64
    """Payload ints the backend stores and compares exactly: 64 (int64), or 53 where numbers
    are doubles (ints within ±2**53). Writes holding other ints raise ``InvalidInputError``
    rather than be answered wrongly by a filter later."""
    exact_floats: bool = True
    """Every finite payload float is stored and compared exactly. ``False`` where the engine
    reads payload numbers from decimal text with up to one ulp of error (Qdrant Edge 0.9): only
    floats every decimal parser reads exactly are admitted
    (:func:`edgevec.payloads.float_reads_exactly`), and writes holding others raise
    ``InvalidInputError`` rather than be stored as a neighbouring value."""
    declared_fields: bool = False
    """``create_collection(fields=...)`` is kept: the declaration is persisted with the
    collection and its fields become native typed columns or indexes. Backends without it refuse
    a declaration rather than forget it on reopen."""
    search_params: frozenset[str] = frozenset()
    """:class:`~edgevec.search_params.SearchParams` fields the backend honours per query
    (``"ef"``, ``"exact"``). An exact collection honours ``exact`` without declaring it."""

    def honoured_params(self) -> frozenset[str]:
        """The search parameters a query may set here."""
        return self.search_params | {"exact"} if self.exact else self.search_params

    def narrowed(self, **changes: object) -> Capabilities:
        """A copy with some fields changed (for example ``exact=False`` for an ANN index)."""
        return replace(self, **changes)  # type: ignore[arg-type]  # field names checked by replace

    def check_params(self, params: SearchParams, backend: str) -> None:
        """Raise :class:`InvalidInputError` if ``params`` sets one this backend cannot honour."""
        refused = params.asked() - self.honoured_params()
        if refused:
            supported = ", ".join(sorted(self.honoured_params())) or "none"
            raise InvalidInputError(
                f"backend {backend!r} does not honour the search params "
                f"{', '.join(sorted(refused))} here (it honours: {supported}); nothing was sent"
            )

    def check_filter(self, flt: Filter | None, backend: str) -> None:
        """Raise :class:`FilterNotSupportedError` if ``flt`` uses an operator this backend lacks."""
        if flt is None:
            return
        missing = flt.ops() - self.filter_ops
        if missing:
            raise FilterNotSupportedError(
                f"backend {backend!r} cannot run filter operator(s) {', '.join(sorted(missing))} "
                f"in {flt.explain()}"
            )
