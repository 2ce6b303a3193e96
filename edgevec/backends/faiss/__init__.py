"""In-process FAISS backend: the embedded default.

Index kinds: ``flat`` (exact) and ``hnsw`` (``hnsw_m``, ``ef_construction``, ``ef_search``). Every
record lives in a *slot*: the FAISS internal id is the slot number, a dict maps the caller's str id
to it. FAISS HNSW cannot remove vectors, so an overwrite or delete tombstones the old slot (searches
skip it through an ``IDSelectorBitmap``) and the collection is compacted (rebuilt) once tombstones
pass ``compact_fraction``. Filters run as a pre-filter over a columnar payload index; when a filter
lets through only a small share of rows, the search switches to an exact scan of just those rows,
so filtered recall does not collapse on HNSW (whose graph walk loses recall on narrow filters);
``eq``/``in`` filters on declared ``int``/``keyword`` fields search per-value partitions instead.

With ``path`` set, each collection's rows live in a SQLite file, the record of truth: every write
call is one transaction, committed before it is applied in memory (see
:mod:`edgevec.backends._rowstore`). The FAISS index is a cache rebuilt from those rows on open;
an HNSW graph is also saved beside them (:mod:`edgevec.backends._index_cache`) and reused when it
reflects the latest write.

Queries run side by side under a readers-writer lock; a write (and any compaction) runs alone.
Modules: :mod:`.options` (store and index options), :mod:`.collection` (index, slots, search),
:mod:`.partitions` (filtered-HNSW sub-indexes), :mod:`.store` (the set of collections and their
directories), :mod:`.growing`; the lock is
:mod:`edgevec.backends._rwlock`.
"""

from edgevec.backends.faiss.collection import FaissCollection
from edgevec.backends.faiss.options import FaissIndexOptions, FaissOptions
from edgevec.backends.faiss.store import FaissStore

__all__ = ["FaissCollection", "FaissIndexOptions", "FaissOptions", "FaissStore"]
