"""A collection bound to an embedder: ``add`` and ``search`` take items (images, text), not vectors.

It is a full collection -- every method of the backend collection it wraps still works, vectors
included -- plus the two item-level calls. ``add`` embeds everything first (in batches, with a
progress bar on long ingests) and writes only when every item embedded, so one bad item fails the
call before any write. As a :class:`~edgevec.wrapped.WrappedCollection` it shares the wrapped
handle's state (a closed store or a dropped collection refuses it too) and writes through the
backend's one write hook, so every backend rule (flush, reserved keys, partial-write reports)
holds for ``add`` as for ``upsert``.
``scripts/unasync.py`` generates :mod:`edgevec.aembedded` from this file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgevec.base import BaseCollection
from edgevec.errors import InvalidInputError
from edgevec.filters import FilterLike
from edgevec.prepare import check_add_args, prepare_arrays
from edgevec.progress import progress_bar
from edgevec.search_params import SearchParamsLike
from edgevec.types import Hits
from edgevec.wrapped import WrappedCollection

if TYPE_CHECKING:
    from edgevec.embedders.protocol import Embedder, Matrix

__all__ = ["EmbeddedCollection"]


class EmbeddedCollection(WrappedCollection):
    """A backend collection plus the embedder whose fingerprint it records."""

    def __init__(self, inner: BaseCollection, embedder: Embedder) -> None:
        super().__init__(inner)
        self.embedder = embedder

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
        into several calls. An error about one item names its index in ``items``.
        """
        self._handle_state.check()
        id_list, item_list = check_add_args(ids, items, payloads)
        vectors = self._embed_all(item_list, batch_size, progress)
        self._upsert(
            prepare_arrays(
                id_list,
                vectors,
                payloads,
                self.dim,
                self.metric,
                int_bits=self.capabilities.exact_int_bits,
                fields=self.spec.fields,
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
                try:
                    parts.append(self.embedder.embed(chunk))
                except InvalidInputError as exc:
                    if start:
                        raise _renumbered(exc, start, start + len(chunk)) from exc
                    raise
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
        params: SearchParamsLike | None = None,
        score_threshold: float | None = None,
    ) -> Hits:
        """The ``k`` records nearest to ``item`` once embedded (best first); ``params`` and
        ``score_threshold`` as in :meth:`query` (``0.98`` finds near-duplicate images)."""
        self._handle_state.check()
        vectors = self.embedder.embed([item])
        return self.query(
            vectors[0], k, filter,
            include_vectors=include_vectors, include_payload=include_payload, params=params,
            score_threshold=score_threshold,
        )  # fmt: skip


def _renumbered(exc: InvalidInputError, start: int, stop: int) -> InvalidInputError:
    """The embedder's error for ``items[start:stop]``, told in ``add``'s numbering.

    Embedders name a bad item ``#i`` counting from the start of the list they were given (the
    bundled ones do); ``add`` gives them one batch at a time, so ``i`` is shifted by the batch's
    offset. A message without ``#i`` gets the batch's range instead.
    """
    message, found = re.subn(r"#(\d+)", lambda m: f"#{int(m[1]) + start}", str(exc), count=1)
    if not found:
        message = f"{message} (in items {start}..{stop - 1} of this add)"
    return type(exc)(message)
