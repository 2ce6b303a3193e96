"""The portable per-query search parameters: one name per idea, on every backend.

Engines spell the same knob differently (FAISS ``efSearch``, Qdrant ``hnsw_ef``, Milvus
``ef``); callers write :class:`SearchParams` once and each backend translates it. A backend
declares in its :class:`~edgevec.capabilities.Capabilities` which parameters it really honours,
and a parameter it cannot honour is refused before any I/O rather than silently ignored, so a
query never quietly runs differently from what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from edgevec.errors import InvalidInputError

__all__ = [
    "DEFAULT",
    "MAX_EF",
    "PARAM_NAMES",
    "SearchParams",
    "SearchParamsLike",
    "as_search_params",
]

MAX_EF = 32_768
"""Largest beam width accepted; wider beams cost more than an exact scan of any real index."""


@dataclass(frozen=True, slots=True)
class SearchParams:
    """How one query searches; the defaults leave every choice to the collection.

    Pass one to ``query(..., params=SearchParams(ef=128))`` or the same as a mapping
    (``params={"ef": 128}``).
    """

    ef: int | None = None
    """HNSW beam width for this query (higher: better recall, slower); ``None``: the index's."""
    exact: bool = False
    """Scan every (filtered) record instead of the ANN index: the exact answer, at its cost."""

    def __post_init__(self) -> None:
        ef = self.ef
        if ef is not None and (
            isinstance(ef, bool) or not isinstance(ef, int | np.integer) or not 1 <= ef <= MAX_EF
        ):
            raise InvalidInputError(f"search param 'ef' must be an int in 1..{MAX_EF}, got {ef!r}")
        if not isinstance(self.exact, bool | np.bool_):
            raise InvalidInputError(f"search param 'exact' must be a bool, got {self.exact!r}")
        object.__setattr__(self, "ef", None if ef is None else int(ef))
        object.__setattr__(self, "exact", bool(self.exact))

    def asked(self) -> frozenset[str]:
        """The names of the parameters set to something other than their default."""
        return frozenset(
            name for name, value in ((f.name, getattr(self, f.name)) for f in fields(self)) if value
        )


PARAM_NAMES = frozenset(f.name for f in fields(SearchParams))
"""Every portable parameter name."""

SearchParamsLike = SearchParams | Mapping[str, Any]


def as_search_params(params: SearchParamsLike | None) -> SearchParams:
    """``params`` as a :class:`SearchParams`; unknown keys and wrong types raise here."""
    if params is None:
        return DEFAULT
    if isinstance(params, SearchParams):
        return params
    if not isinstance(params, Mapping):
        raise InvalidInputError(
            f"params must be an edgevec.SearchParams or a mapping, got {type(params).__name__}"
        )
    unknown = set(params) - PARAM_NAMES
    if unknown:
        raise InvalidInputError(
            f"unknown search param(s) {', '.join(sorted(map(repr, unknown)))}; "
            f"the portable ones are {', '.join(sorted(PARAM_NAMES))}"
        )
    return SearchParams(**params)


DEFAULT = SearchParams()
