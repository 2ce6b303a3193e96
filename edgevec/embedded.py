"""A collection bound to an embedder: ``add`` and ``search`` take items (images, text), not vectors.

It is a full collection -- every method of the backend collection it wraps still works, vectors
included -- plus the two item-level calls. ``add`` embeds everything first (in batches, with a
progress bar on long ingests) and writes only when every item embedded, so one bad item fails the
call before any write. ``scripts/unasync.py`` generates :mod:`edgevec.aembedded` from this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgevec.base import BaseCollection, PreparedQuery, PreparedUpsert
from edgevec.errors import InvalidInputError
from edgevec.filters import Filter, FilterLike
from edgevec.prepare import check_add_args, prepare_arrays
from edgevec.progress import progress_bar
from edgevec.types import Hits, Record

if TYPE_CHECKING:
    from edgevec.embedders.protocol import Embedder, Matrix

__all__ = ["EmbeddedCollection"]


class EmbeddedCollection(BaseCollection):
    """A backend collection plus the embedder whose fingerprint it records."""

    def __init__(self, inner: BaseCollection, embedder: Embedder) -> None:
        super().__init__(inner.spec, inner.capabilities)
        self.inner = inner
        self.embedder = embedder
        self.backend = inner.backend  # type: ignore[misc]  # per instance: the wrapped backend

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} dim={self.dim} metric={self.metric!r} "
            f"backend={self.backend!r} embedder={self.embedder.fingerprint!r}>"
        )

    def add(
        self,
        ids: Sequence[str],
        items: Sequence[Any],
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        batch_size: int = 256,
        progress: bool | None = None,
    ) -> None:
        """Embed ``items`` and upsert them under ``ids``; all or nothing.

        Items are embedded ``batch_size`` at a time (a tqdm bar shows on long ingests when
        ``progress`` is ``None``; ``True``/``False`` force it). Every vector is held until all
        items embedded: memory is ``len(items) * dim * 4`` bytes, so split very large ingests
        into several calls.
        """
        id_list, item_list = check_add_args(ids, items, payloads)
        vectors = self._embed_all(item_list, batch_size, progress)
        self._write(
            prepare_arrays(
                id_list,
                vectors,
                payloads,
                self.dim,
                self.metric,
                int_bits=self.capabilities.exact_int_bits,
            )
        )

    def _embed_all(self, items: list[Any], batch_size: int, progress: bool | None) -> Matrix:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        parts: list[Matrix] = []
        bar = progress_bar(len(items), progress, f"embedding into {self.name}")
        try:
            for start in range(0, len(items), batch_size):
                chunk = items[start : start + batch_size]
                parts.append(self.embedder.embed(chunk))
                bar.update(len(chunk))
        finally:
            bar.close()
        if not parts:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.concatenate(parts)

    def search(
        self,
        item: Any,
        k: int = 10,
        filter: FilterLike | None = None,
        *,
        include_vectors: bool = False,
        include_payload: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> Hits:
        """The ``k`` records nearest to ``item`` once embedded (best first)."""
        vectors = self.embedder.embed([item])
        return self.query(
            vectors[0], k, filter,
            include_vectors=include_vectors, include_payload=include_payload, params=params,
        )  # fmt: skip

    # -- every hook goes to the wrapped backend collection ----------------------------------

    def _upsert(self, batch: PreparedUpsert) -> None:
        self.inner._upsert(batch)

    def _query(self, q: PreparedQuery) -> list[Hits]:
        return self.inner._query(q)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        return self.inner._get(ids, include_vectors)

    def _delete_ids(self, ids: list[str]) -> None:
        self.inner._delete_ids(ids)

    def _delete_filter(self, flt: Filter) -> None:
        self.inner._delete_filter(flt)

    def _count(self, flt: Filter | None) -> int:
        return self.inner._count(flt)

    def _explain(self, flt: Filter) -> str:
        return self.inner._explain(flt)
