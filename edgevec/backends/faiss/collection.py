"""One FAISS collection in memory: index, id map, payload columns, tombstones (and its rows)."""

from __future__ import annotations

import bisect
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from edgevec.backends._index_cache import load_index, save_index
from edgevec.backends._rowstore import RowStore
from edgevec.backends._rwlock import ReadWriteLock
from edgevec.backends.faiss.growing import GrowingArray
from edgevec.backends.faiss.options import METRIC, FaissIndexOptions, faiss
from edgevec.base import BaseCollection, PreparedQuery, PreparedUpsert
from edgevec.capabilities import Capabilities
from edgevec.errors import CorruptDataError, EdgevecError
from edgevec.filters import Filter, PayloadIndex
from edgevec.payloads import copy_payload, is_flat
from edgevec.scores import l2_from_squared
from edgevec.search_params import SearchParams
from edgevec.stats import CollectionStats
from edgevec.types import ArrayHits, CollectionSpec, Hit, Hits, Record
from edgevec.vectors import normalize_rows

__all__ = ["FaissCollection"]

log = logging.getLogger("edgevec.faiss")

CAPABILITIES = Capabilities(max_batch=100_000, persistent=True, declared_fields=True)
_MIN_COMPACT_SLOTS = 64
_CACHED_MASKS = 8
"""Filter objects whose masks are kept until the next write (a caller repeating a filter)."""


class FaissCollection(BaseCollection):
    """One FAISS index with its id map, payload columns and tombstones.

    With persistence, ``rows`` is the record of truth: a write commits there first and is applied
    in memory only once committed, and the index is rebuilt (or reused from ``cache``) on open.
    """

    backend: ClassVar[str] = "faiss"

    def __init__(
        self,
        spec: CollectionSpec,
        opts: FaissIndexOptions,
        rows: RowStore | None = None,
        cache: Path | None = None,
        checkpoint_rows: int = 0,
    ) -> None:
        exact = opts.index == "flat"
        ann = frozenset() if exact else frozenset({"ef", "exact"})  # exact: the graph's storage
        super().__init__(spec, CAPABILITIES.narrowed(exact=exact, search_params=ann))
        self.opts = opts
        self._rows = rows
        self._cache = cache
        self._checkpoint_rows = checkpoint_rows
        self._unsaved = 0  # records written since the HNSW cache was last saved
        self._refusal: EdgevecError | None = None  # set once the store closed or dropped it
        # Queries share the collection, writes (and compaction) have it alone; the payload
        # columns grow lazily on a filter's first use, so building them is serialised apart.
        self._lock = ReadWriteLock()
        self._columns_lock = threading.Lock()
        # Bumped by every change to the rows or their liveness (never reset, even by _reset):
        # a cached filter mask is valid only for the generation it was computed in.
        self._generation = 0
        self._reset(None)

    # -- state ------------------------------------------------------------------------------

    def _new_index(self) -> Any:
        d, metric = self.dim, METRIC[self.metric]
        if self.opts.index == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.opts.hnsw_m, metric)
            index.hnsw.efConstruction = self.opts.ef_construction
            index.hnsw.efSearch = self.opts.ef_search
            return index
        return faiss.IndexFlat(d, metric)

    def _reset(self, index: Any) -> None:
        self._index = index if index is not None else self._new_index()
        self._slot: dict[str, int] = {}
        self._ids: list[str | None] = []
        # Per-slot columns: views of buffers with spare room, so appends never copy them all.
        self._columns = (GrowingArray(np.bool_), GrowingArray(np.float32), GrowingArray(np.uint64))
        self._alive: npt.NDArray[np.bool_] = self._columns[0].extend([])
        self._norms: npt.NDArray[np.float32] = self._columns[1].extend([])
        self._sums: npt.NDArray[np.uint64] = self._columns[2].extend([])  # row checksums
        self._payloads = PayloadIndex(self.spec.fields)
        self._dead = 0
        self._order: list[str] | None = None  # live ids sorted, for scans; None after a write
        # Per slot, whether its payload holds atoms only (a dict.copy is then a private copy).
        self._flat = bytearray()
        # id(filter) -> (filter, generation, read-only mask): filter objects used again.
        self._masks: dict[int, tuple[Filter, int, npt.NDArray[np.bool_]]] = {}
        self._generation += 1

    def _storage(self) -> npt.NDArray[np.float32]:
        """A view of the stored (for cosine: unit-length) vectors, one row per slot."""
        flat = (
            self._index if self.opts.index == "flat" else faiss.downcast_index(self._index.storage)
        )
        n = self._index.ntotal
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        view: npt.NDArray[np.float32] = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim)
        return view.reshape(n, self.dim)

    def _fill(
        self,
        ids: list[str],
        norms: npt.NDArray[np.float32],
        payloads: list[dict[str, Any]],
        sums: npt.NDArray[np.uint64] | None,
    ) -> None:
        """Book-keeping for rows the index just received as its last ``len(ids)`` slots."""
        start = len(self._ids)
        self._order = None
        self._generation += 1
        self._ids.extend(ids)
        self._flat.extend(map(is_flat, payloads))
        self._slot.update(zip(ids, range(start, start + len(ids))))
        alive, norm_col, sum_col = self._columns
        self._alive = alive.extend(np.ones(len(ids), dtype=bool))
        self._norms = norm_col.extend(norms)
        self._sums = sum_col.extend(np.zeros(len(ids), np.uint64) if sums is None else sums)
        self._payloads.append(payloads)

    def _append(
        self,
        ids: list[str],
        vectors: npt.NDArray[np.float32],
        payloads: list[dict[str, Any]],
        sums: npt.NDArray[np.uint64] | None = None,
    ) -> None:
        self._tombstone([self._slot[i] for i in ids if i in self._slot])
        norms = np.linalg.norm(vectors, axis=1).astype(np.float32)
        if self.metric == "cosine":
            vectors = np.ascontiguousarray(vectors / norms[:, None], dtype=np.float32)
        self._index.add(vectors)
        self._fill(ids, norms, payloads, sums)

    def _tombstone(self, slots: list[int]) -> None:
        self._order = None
        self._generation += 1
        for s in slots:
            rid = self._ids[s]
            if rid is not None:
                del self._slot[rid]
                self._ids[s] = None
                self._payloads.clear_row(s)
        if slots:
            self._alive[slots] = False
            self._dead += len(slots)

    def _live_slots(self) -> npt.NDArray[np.int64]:
        return np.flatnonzero(self._alive)

    def _compact(self) -> None:
        """Rebuild the index from the live slots only (FAISS HNSW cannot remove vectors)."""
        live = self._live_slots()
        ids: list[str] = [self._ids[s] for s in live]
        rows = self._payloads.rows  # stored payloads are never mutated: no copies needed here
        payloads = [rows[s] or {} for s in live]
        stored = np.ascontiguousarray(self._storage()[live])
        norms, sums = self._norms[live], self._sums[live]
        self._reset(None)
        self._index.add(stored)
        self._fill(ids, norms, payloads, sums)

    def _maybe_compact(self) -> None:
        n = len(self._ids)
        if n >= _MIN_COMPACT_SLOTS and self._dead > self.opts.compact_fraction * n:
            self._compact()

    def _load(self) -> None:
        """Fill memory from the verified rows, reusing the saved HNSW graph where it still fits."""
        assert self._rows is not None
        rows = self._rows.load(self.dim)
        cached = None
        if self._cache is not None:
            cached = load_index(self._cache, self.dim, METRIC[self.metric])
        fresh = np.ones(len(rows.ids), dtype=bool)
        if cached is not None:
            ids, sums, index = cached
            index.hnsw.efSearch = self.opts.ef_search
            self._reset(index)
            where = {rid: j for j, rid in enumerate(rows.ids)}
            found = np.array([where.get(rid, -1) for rid in ids], dtype=np.int64)
            same = found >= 0
            same[same] = rows.sums[found[same]] == sums[same]
            pick = found[same]
            norms = np.ones(len(ids), dtype=np.float32)
            norms[same] = np.linalg.norm(rows.vectors[pick], axis=1)
            payloads: list[dict[str, Any]] = [{} for _ in ids]
            for slot, j in zip(np.flatnonzero(same).tolist(), pick.tolist()):
                payloads[slot] = rows.payloads[j]
            self._fill(ids, norms, payloads, sums)
            self._tombstone(np.flatnonzero(~same).tolist())
            fresh[pick] = False
            log.info(
                "%r: reused %d saved graph slots, inserting %d newer rows",
                self.name, len(pick), int(fresh.sum()),
            )  # fmt: skip
        todo = np.flatnonzero(fresh)
        if len(todo):
            self._append(
                [rows.ids[j] for j in todo],
                np.ascontiguousarray(rows.vectors[todo]),
                [rows.payloads[j] for j in todo],
                rows.sums[todo],
            )
        if len(self._slot) != len(rows.ids):
            raise CorruptDataError(f"collection {self.name!r} stores duplicate ids")
        self._unsaved = int(fresh.sum()) + self._dead
        self._maybe_compact()

    def _save_graph(self) -> None:
        """Write the HNSW cache (compacted first, so every slot is a live row).

        A failure only costs a rebuild on the next open (the rows are committed), so it is
        logged rather than raised from a write that already succeeded.
        """
        assert self._cache is not None
        if self._dead:
            self._compact()
        ids: list[str] = list(self._ids)  # type: ignore[arg-type]  # no tombstones after compact
        try:
            save_index(self._cache, ids, self._sums, faiss.serialize_index(self._index).tobytes())
        except OSError as exc:
            log.warning(
                "could not save the HNSW graph of %r (%s); it is rebuilt on open", self.name, exc
            )
            return
        self._unsaved = 0

    # -- hooks ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._refusal is not None:
            raise type(self._refusal)(str(self._refusal))

    def _upsert(self, batch: PreparedUpsert) -> None:
        if not batch.ids:
            return
        with self._lock.write():
            self._check_open()
            sums = None
            if self._rows is not None:  # commit first: memory never runs ahead of the disk
                replaced = [self._slot[i] for i in batch.ids if i in self._slot]
                sums = self._rows.upsert(
                    batch.ids, batch.vectors, batch.payloads, self._sums[replaced]
                )
            self._append(batch.ids, batch.vectors, batch.payloads, sums)
            self._after_write(len(batch.ids))

    def _after_write(self, n: int) -> None:
        self._maybe_compact()
        if self._cache is not None:
            self._unsaved += n
            if self._unsaved >= self._checkpoint_rows:
                self._save_graph()

    def _delete_ids(self, ids: list[str]) -> None:
        with self._lock.write():
            self._check_open()
            self._delete_present([i for i in ids if i in self._slot])

    def _delete_filter(self, flt: Filter) -> None:
        with self._lock.write():
            self._check_open()
            slots = np.flatnonzero(self._mask(flt))
            ids: list[str] = [self._ids[s] for s in slots]  # type: ignore[misc]  # live slots have ids
            self._delete_present(ids)

    def _delete_present(self, present: list[str]) -> None:
        """Delete stored ids (commit first, then tombstone); the caller holds the write lock."""
        if not present:
            return
        slots = [self._slot[i] for i in present]
        if self._rows is not None:
            self._rows.delete(present, self._sums[slots])
        self._tombstone(slots)
        self._after_write(len(present))

    def _mask(self, flt: Filter | None) -> npt.NDArray[np.bool_]:
        """The live slots ``flt`` admits. A filter's mask is read-only: the same filter object
        used again before the next write gets the same array back, not a recomputed one."""
        if flt is None:
            alive: npt.NDArray[np.bool_] = self._alive.copy()
            return alive
        with self._columns_lock:
            cached = self._masks.get(id(flt))
            # An entry holds its filter, so no other live object can have the same id.
            if cached is not None and cached[1] == self._generation:
                return cached[2]
            mask = self._payloads.mask(flt)
            if self._dead:  # without tombstones every slot is alive: nothing to clear
                mask = mask & self._alive
            mask.flags.writeable = False
            if len(self._masks) >= _CACHED_MASKS:
                del self._masks[next(iter(self._masks))]  # the oldest entry
            self._masks[id(flt)] = (flt, self._generation, mask)
        return mask

    def _count(self, flt: Filter | None) -> int:
        with self._lock.read():
            self._check_open()
            if flt is None:
                return len(self._slot)
            return int(np.count_nonzero(self._mask(flt)))

    def _stats(self) -> CollectionStats:
        with self._lock.read():
            self._check_open()
            health: dict[str, str | int | bool] = {
                "faiss_index": type(self._index).__name__,
                "rows": int(self._index.ntotal),  # live records plus tombstones
                "tombstones": self._dead,  # until compaction rebuilds the index without them
                "persistent": self._rows is not None,
            }
            return CollectionStats(
                self.name, self.backend, len(self._slot), self.dim, self.metric,
                index=self.opts.index, health=health,
            )  # fmt: skip

    def _vectors_out(self, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        out = self._storage()[slots]
        if self.metric == "cosine":  # stored unit-length; give back what was written
            out = out * self._norms[slots][:, None]
        return np.ascontiguousarray(out, dtype=np.float32)

    def _get(self, ids: list[str], include_vectors: bool) -> list[Record]:
        with self._lock.read():
            self._check_open()
            return self._records([i for i in ids if i in self._slot], include_vectors, True)

    def _records(
        self, ids: list[str], include_vectors: bool, include_payload: bool
    ) -> list[Record]:
        """Records of stored ``ids``; the caller holds the read lock."""
        slot_list = [self._slot[i] for i in ids]
        slots = np.array(slot_list, dtype=np.int64)
        vecs = self._vectors_out(slots) if include_vectors else None
        pays = self._payload_copies(slot_list) if include_payload else [{} for _ in ids]
        return [
            Record(rid, None if vecs is None else vecs[j], pay)
            for j, (rid, pay) in enumerate(zip(ids, pays))
        ]

    def _payload_copies(self, slots: list[int]) -> list[dict[str, Any]]:
        """Private copies of the payloads of ``slots``: what a caller does to one cannot reach
        the store. A flat payload (noted once, on write) needs one ``dict.copy``, a nested one
        :func:`copy_payload`'s deep copy."""
        rows, flat = self._payloads.rows, self._flat
        # A slot marked flat holds a dict (is_flat says so), hence .copy().
        copy = copy_payload
        return [rows[s].copy() if flat[s] else copy(rows[s]) for s in slots]  # type: ignore[union-attr]

    def _scan_page(
        self, cursor: str | None, limit: int, include_vectors: bool, include_payload: bool
    ) -> tuple[list[Record], str | None]:
        # Keyset pages over the sorted live ids: the cursor is the last id returned. The sorted
        # list is kept until the next write, so a scan of an idle collection sorts once.
        with self._lock.read():
            self._check_open()
            order = self._order
            if order is None:
                order = self._order = sorted(self._slot)
            start = 0 if cursor is None else bisect.bisect_right(order, cursor)
            ids = order[start : start + limit]
            records = self._records(ids, include_vectors, include_payload)
        return records, ids[-1] if start + limit < len(order) else None

    def _query(self, q: PreparedQuery) -> list[Hits]:
        with self._lock.read():
            scores, slots = self._nearest(q)
            return self._hits(scores, slots, q)

    def _query_arrays(self, q: PreparedQuery) -> ArrayHits:
        # The FAISS result matrices are already the answer: map slots to ids, pad to k.
        n = len(q.vectors)
        with self._lock.read():
            scores, slots = self._nearest(q)
            names = self._ids
            flat = slots.ravel().tolist()
            padded = bool(flat) and min(flat) < 0  # fewer hits than k somewhere
            found = (
                [names[s] if s >= 0 else None for s in flat]
                if padded
                else [*map(names.__getitem__, flat)]
            )
        width = slots.shape[1]
        ids = np.empty(n * width, dtype=object)
        ids[:] = found
        if padded:
            scores = np.where(slots >= 0, scores, np.float32(np.nan))
        if width == q.k:  # the common case: the matrices FAISS filled are the answer
            return ArrayHits(ids.reshape(n, width), scores)
        wide_ids = np.full((n, q.k), None, dtype=object)
        wide_scores = np.full((n, q.k), np.nan, dtype=np.float32)
        wide_ids[:, :width] = ids.reshape(n, width)
        wide_scores[:, :width] = scores
        return ArrayHits(wide_ids, wide_scores)

    def _nearest(self, q: PreparedQuery) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Scores and slots (``-1`` past the last hit) of ``q``; the caller holds the read lock."""
        self._check_open()
        vecs = normalize_rows(q.vectors) if self.metric == "cosine" else q.vectors
        n_slots = len(self._ids)
        if q.filter is None and self._dead == 0:
            k = min(q.k, n_slots)
            return self._search(vecs, k, None, q.params) if k else self._empty(len(vecs))
        mask = self._mask(q.filter)
        allowed = int(np.count_nonzero(mask))
        k = min(q.k, allowed)
        share = allowed / n_slots if n_slots else 0.0
        if k == 0:
            return self._empty(len(vecs))
        if self.opts.index == "hnsw" and (
            allowed <= max(self.opts.exact_rows, 4 * k) or share <= self.opts.exact_fraction
        ):
            # A filter correlated with the vectors (a class label) cuts the graph apart:
            # measured recall@10 0.66 at 10 % and 0.72 at 50 % of rows on Fashion-MNIST
            # even with a 10x wider beam, while this scan is exact and costs ~allowed*dim.
            return self._search(vecs, k, mask, q.params, exact=True)
        return self._search(vecs, k, mask, q.params, share=share)

    @staticmethod
    def _empty(n: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)

    def _search(
        self,
        vecs: npt.NDArray[np.float32],
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        params: SearchParams,
        *,
        share: float = 1.0,
        exact: bool = False,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        ef_asked, exact = params.ef, exact or params.exact
        if mask is None and ef_asked is None and not exact:  # the common case: nothing to build
            return self._search_plain(vecs, k)
        sel = None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        index = self._index
        if self.opts.index == "hnsw" and exact:
            # The graph's own flat storage, scanned under the bitmap: exact, and no copy.
            index = faiss.downcast_index(self._index.storage)
            sp: Any = faiss.SearchParameters(sel=sel)
        elif self.opts.index == "hnsw":
            # A pre-filter hides part of the graph; widen the beam in proportion so recall holds.
            ef = max(int(ef_asked or self.opts.ef_search), k)
            sp = faiss.SearchParametersHNSW(sel=sel, efSearch=min(int(ef / share), 4096))
        else:
            sp = faiss.SearchParameters(sel=sel) if sel is not None else None
        dist, labels = index.search(vecs, k, params=sp)
        del sel  # keep the bitmap alive until the search returned
        return self._scores(dist), labels

    def _search_plain(
        self, vecs: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """An unfiltered search through the index's C entry point, which ``index.search``
        wraps after re-checking what :func:`~edgevec.prepare.prepare_query` already did."""
        n = len(vecs)
        if not vecs.flags.c_contiguous:  # a wrapper's own PreparedQuery: make it one block
            vecs = np.ascontiguousarray(vecs)
        dist = np.empty((n, k), dtype=np.float32)
        labels = np.empty((n, k), dtype=np.int64)
        ptr = faiss.swig_ptr
        self._index.search_c(n, ptr(vecs), k, ptr(dist), ptr(labels), None)
        return self._scores(dist), labels

    def _scores(self, dist: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # FAISS reports the squared distance for l2 and the inner product otherwise.
        return l2_from_squared(dist) if self.metric == "l2" else dist

    def _hits(
        self, scores: npt.NDArray[np.float32], slots: npt.NDArray[np.int64], q: PreparedQuery
    ) -> list[Hits]:
        # The per-query hot path: one tolist per matrix, no numpy per row, and Hit built by
        # map (a C loop) from columns: ids, scores, payload copies, vectors.
        names = self._ids
        out: list[Hits] = []
        for row, row_scores in zip(slots.tolist(), scores.tolist()):
            if row and row[-1] < 0:  # fewer than k results: FAISS pads with -1
                row_scores = [sc for s, sc in zip(row, row_scores) if s >= 0]
                row = [s for s in row if s >= 0]
            rids = [names[s] for s in row]
            if q.include_vectors:
                pays = self._payload_copies(row) if q.include_payload else [{} for _ in row]
                vecs = self._vectors_out(np.array(row, dtype=np.int64))
                out.append(Hits(map(Hit, rids, row_scores, pays, vecs)))
            elif q.include_payload:
                out.append(Hits(map(Hit, rids, row_scores, self._payload_copies(row))))
            else:
                out.append(Hits(map(Hit, rids, row_scores)))
        return out

    def _explain(self, flt: Filter) -> str:
        if self.opts.index == "flat":
            return f"{flt.explain()}  [bitmap pre-filter, exact]"
        return (
            f"{flt.explain()}  [bitmap pre-filter; exact scan when <= "
            f"max({self.opts.exact_rows}, {self.opts.exact_fraction:.0%}) rows pass, "
            "else HNSW with efSearch widened by 1/share]"
        )

    # -- lifecycle --------------------------------------------------------------------------

    def _shut(self, refusal: EdgevecError, *, save: bool) -> None:
        """Refuse every later call with ``refusal``; save the HNSW graph first if ``save``."""
        with self._lock.write():
            if self._refusal is not None:
                return
            self._refusal = refusal
            if self._rows is None:
                return
            try:
                if save and self._cache is not None and self._unsaved:
                    self._save_graph()
            finally:
                self._rows.close()
