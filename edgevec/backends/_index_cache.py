"""A saved HNSW graph: a cache of the rows in ``records.sqlite``, never a source of truth.

Building an HNSW graph costs far more than reading the rows, so a persisted HNSW collection saves
its graph next to its database, with the id and row checksum of every slot and a SHA-256 over
everything::

    b"EVHNSW2\\n" | sha256(rest) | rest
    rest = u64 length | ids JSON | u64 length | row checksums (u64 each) | FAISS index bytes

A slot whose row checksum still matches the database holds exactly that row's vector, so the
caller reuses those slots, tombstones the rest and inserts the rows written since the save: the
file never has to be in step with the database. :func:`load_index` answers ``None`` (with a
warning unless the file is simply absent) for a file that is damaged or a symlink; the caller then
rebuilds the graph from the rows.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from edgevec.backends._files import read_plain, write_atomic
from edgevec.errors import CorruptDataError

__all__ = ["CACHE_NAME", "load_index", "save_index"]

log = logging.getLogger("edgevec.faiss")

CACHE_NAME = "hnsw.index"
_MAGIC = b"EVHNSW2\n"
_LEN = struct.Struct("<Q")


def save_index(
    path: Path, ids: list[str], sums: npt.NDArray[np.uint64], index_bytes: bytes
) -> None:
    """Atomically write a graph whose slot ``i`` holds row ``ids[i]`` with checksum ``sums[i]``."""
    names = orjson.dumps(ids)
    checks = np.ascontiguousarray(sums, dtype="<u8").tobytes()
    rest = b"".join((_LEN.pack(len(names)), names, _LEN.pack(len(checks)), checks, index_bytes))
    write_atomic(path, _MAGIC + hashlib.sha256(rest).digest() + rest)


def _parse(data: bytes) -> tuple[list[str], npt.NDArray[np.uint64], bytes]:
    head = len(_MAGIC) + 32
    rest = data[head:]
    if data[: len(_MAGIC)] != _MAGIC or hashlib.sha256(rest).digest() != data[len(_MAGIC) : head]:
        raise ValueError("damaged (checksum mismatch)")
    (n_names,) = _LEN.unpack_from(rest, 0)
    ids = orjson.loads(rest[8 : 8 + n_names])
    (n_checks,) = _LEN.unpack_from(rest, 8 + n_names)
    start = 16 + n_names
    sums = np.frombuffer(rest[start : start + n_checks], dtype="<u8").astype(np.uint64)
    if not isinstance(ids, list) or len(ids) != len(sums):
        raise ValueError("its id and checksum lists differ in length")
    return ids, sums, rest[start + n_checks :]


def load_index(
    path: Path, dim: int, metric_type: int
) -> tuple[list[str], npt.NDArray[np.uint64], Any] | None:
    """The saved HNSW graph with the id and row checksum of each slot; ``None`` to rebuild."""
    import faiss

    try:
        data = read_plain(path)
    except CorruptDataError as exc:
        log.warning("ignoring the HNSW cache %s: %s; rebuilding the graph", path, exc)
        return None
    if data is None:
        return None
    try:
        ids, sums, raw = _parse(data)
        index = faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8))
        if index.ntotal != len(ids) or index.d != dim:
            raise ValueError(f"it holds {index.ntotal}x{index.d}, expected {len(ids)}x{dim}")
        if not isinstance(index, faiss.IndexHNSWFlat) or index.metric_type != metric_type:
            raise ValueError("it is not an HNSW graph of this collection's metric")
    except (ValueError, KeyError, TypeError, RuntimeError, struct.error) as exc:
        # orjson.JSONDecodeError is a ValueError; FAISS raises RuntimeError on bad bytes.
        log.warning("ignoring the HNSW cache %s: %s; rebuilding the graph", path, exc)
        return None
    return ids, sums, index
