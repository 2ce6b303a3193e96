"""Milvus backend: a server, Zilliz Cloud or Milvus Lite (``uri="./edge.db"``), one code path.

Schema of every collection: ``id`` (VARCHAR primary key, the caller's str id unchanged),
``vector`` (FLOAT_VECTOR), ``payload`` (JSON, returned as written) and ``payload_terms`` (JSON,
derived from the payload on every write; filters run against it). The derived column exists
because Milvus' expression language cannot state edgevec's filter semantics directly: Milvus Lite
compares JSON values with Python ``==`` (so ``true == 1``), no engine has a type test, ``x == v``
does not look inside lists, and a comparison on a missing JSON key is *unknown*, so
``not (x < 3)`` drops records without ``x`` although edgevec says they match. For each dotted
path of a payload (nested objects walked, list elements flattened, keys holding a ``.`` skipped
since no filter path can name them) ``payload_terms`` holds, under keys hashed from the path:

* ``x_<h>``: ``true`` when the value is present, not null and not an empty list (``exists``);
* ``e_<h>``: the scalar elements as type-tagged strings, ``"s:red"``, ``"n:3"``, ``"b:true"``
  (``eq``/``in`` become ``json_contains``/``json_contains_any`` on strings: strict by construction,
  ``3`` and ``3.0`` share the tag ``n:3``);
* ``lo_<h>`` / ``hi_<h>``: the smallest and largest number (bools excluded), since "any element
  < v" is "min < v".

Filters are compiled in negation normal form, and every negated atom is guarded by an ``exists``
test, so no result depends on how an engine treats missing keys. User text only ever reaches an
expression inside a quoted, escaped string literal; field paths are hashed, never spliced. Data
written to the collection by other clients lacks ``payload_terms`` and is invisible to filters.

Declared fields (``create_collection(..., fields=...)``) also get a nullable scalar column each,
``f_<name>`` (INT64, DOUBLE, BOOL, VARCHAR, with an INVERTED index; ARRAY of those for lists), and
comparisons on them compile to those columns: ``label == 3 and price < 50`` is what a raw user
writes, at the engine's native speed. Exact semantics still hold: a negated atom is guarded with
``f_x is null or not (...)``, int bounds stay ints (``int64_range``), and what a typed column
cannot state directly (a range over a list's elements, a value no column of that type holds)
falls back to ``payload_terms``, which is written for every field as before.

Reads see this process's acknowledged writes: requests use the consistency level ``Session`` by
default, which waits only for the timestamp of the last write pymilvus saw from this process to
the collection (a server answers deletes without one, see :func:`cover_delete`). ``Strong`` waits
for the server's next time tick on every read (0.2-0.4 s measured) and buys only the visibility
of other processes' writes. On Milvus Lite every write is followed by
``flush()``: its write-ahead log is not fsynced until then, and a search over unflushed rows is
brute force in Python (measured 370 ms vs 28 ms at 20k x 128). On a server, flush is rate-limited
and not needed for durability (the log is), so it is skipped.

Milvus Lite's engine runs each request on a worker thread without locking the collection: two
writes can share sequence numbers, a write can land in a memtable that a concurrent flush already
froze, and concurrent flushes fail (``current_seq is monotonic``) after storing the data; a
concurrent ``create_collection`` of the same name fails halfway. edgevec therefore serialises, per
``.db`` within the process, every write, delete, flush and collection DDL; reads run concurrently.
On a server only DDL is serialised (per uri and database), so that concurrent
``create_collection(..., exist_ok=True)`` calls agree on one collection.

Async uses ``AsyncMilvusClient`` for data operations. DDL (create, drop, describe, load) runs the
sync ``MilvusClient`` in a worker thread, because ``AsyncMilvusClient.create_collection`` fails
against Milvus Lite with ``UNIMPLEMENTED`` (after half-creating the collection).
"""

from __future__ import annotations

from edgevec.backends.milvus.errors import translate_error
from edgevec.backends.milvus.filters import compile_filter, ids_filter, quote
from edgevec.backends.milvus.options import MilvusIndexOptions, MilvusOptions, client_kwargs
from edgevec.backends.milvus.store import (
    AsyncMilvusCollection,
    AsyncMilvusStore,
    MilvusCollection,
    MilvusStore,
)
from edgevec.backends.milvus.terms import payload_terms

__all__ = [
    "AsyncMilvusCollection",
    "AsyncMilvusStore",
    "MilvusCollection",
    "MilvusIndexOptions",
    "MilvusOptions",
    "MilvusStore",
    "client_kwargs",
    "compile_filter",
    "ids_filter",
    "payload_terms",
    "quote",
    "translate_error",
]
