"""The record of truth of one persisted FAISS collection: a stdlib SQLite file.

``records.sqlite`` uses a rollback journal with ``synchronous=EXTRA`` (``OFF`` when the store is
not ``durable``: still safe when the process dies, not when the machine loses power), and every
write call is one transaction, so an acknowledged upsert or delete batch survives a crash whole
and an unacknowledged one leaves no trace. Two tables::

    meta(key, value, sum)              "collection": format, dim, metric, options, fingerprint;
                                       "state": count, total
    rows(id, vector, payload, sum)     float32 bytes, orjson bytes, checksum of all three

SQLite checks its own structure but not the bytes of a row, so each row carries a 64-bit
BLAKE2b checksum over id, vector and payload, and ``state`` keeps the row count and the sum of
all row checksums (mod 2**64), updated in the same transaction. A flipped bit, a lost row or a
damaged meta value is a :class:`CorruptDataError` on load, never a silently different store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import orjson

from edgevec.backends._files import crash_point, is_plain_file
from edgevec.errors import BackendError, CorruptDataError

__all__ = ["DB_NAME", "FORMAT_VERSION", "LoadedRows", "RowStore"]

FORMAT_VERSION = 2
DB_NAME = "records.sqlite"
_MASK = 2**64 - 1
_FILES = ("", "-journal", "-wal", "-shm")
_SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL, sum INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE rows(id TEXT PRIMARY KEY, vector BLOB NOT NULL, payload BLOB NOT NULL,"
    " sum INTEGER NOT NULL) WITHOUT ROWID",
)
# OperationalErrors that describe the machine, not the file's content.
_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")


def checksum(key: str, *parts: bytes) -> int:
    """64-bit BLAKE2b over ``key`` and ``parts``, each length-prefixed so fields cannot shift."""
    h = hashlib.blake2b(digest_size=8)
    for part in (key.encode("utf-8"), *parts):
        h.update(struct.pack("<Q", len(part)))
        h.update(part)
    return int.from_bytes(h.digest(), "little")


def _signed(value: int) -> int:  # SQLite integers are signed 64-bit
    return value - 2**64 if value >= 2**63 else value


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[None]:
    """SQLite errors as edgevec errors: damaged content is corruption, the rest a backend fault."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if any(word in str(exc).lower() for word in _TRANSIENT):
            raise BackendError(f"SQLite failed on {path}: {exc}") from exc
        raise CorruptDataError(f"{path} is damaged: {exc}") from exc
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
        raise CorruptDataError(f"{path} is damaged: {exc}") from exc


@dataclass(slots=True)
class LoadedRows:
    """Every verified row: ids, an ``(n, dim)`` float32 matrix, payloads and row checksums."""

    ids: list[str]
    vectors: npt.NDArray[np.float32]
    payloads: list[dict[str, Any]]
    sums: npt.NDArray[np.uint64]


class RowStore:
    """One collection's SQLite file; callers serialise access (the collection lock)."""

    def __init__(self, path: Path, *, durable: bool) -> None:
        for suffix in _FILES:  # SQLite follows symlinks; a store never holds one
            side = path.with_name(path.name + suffix)
            if (suffix == "" or side.exists() or side.is_symlink()) and not is_plain_file(side):
                raise CorruptDataError(f"{side} is missing or not a regular file")
        self.path = path
        with _mapped(path):
            self._db = sqlite3.connect(
                f"file:{quote(os.path.abspath(path))}?mode=rw",  # must exist: never create here
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                _configure(self._db, durable=durable)
                self.meta = self._read_meta("collection")
                self._state = self._read_meta("state")
            except BaseException:
                self._db.close()
                raise
        if self.meta.get("format") != FORMAT_VERSION:
            raise CorruptDataError(f"{path} has unknown format {self.meta.get('format')!r}")

    @staticmethod
    def create(path: Path, meta: dict[str, Any]) -> None:
        """Write a new, empty collection file at ``path`` (a fresh name the caller renames)."""
        meta = {**meta, "format": FORMAT_VERSION}
        with _mapped(path), contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
            _configure(db, durable=True)
            db.execute("BEGIN")
            for ddl in _SCHEMA:
                db.execute(ddl)
            for key, value in (("collection", meta), ("state", _state(0, 0))):
                RowStore._put_meta(db, key, value)
            db.execute("COMMIT")

    @staticmethod
    def _put_meta(db: sqlite3.Connection, key: str, value: dict[str, Any]) -> None:
        raw = orjson.dumps(value)
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?, ?)", (key, raw, _signed(checksum(key, raw)))
        )

    def _read_meta(self, key: str) -> dict[str, Any]:
        row = self._db.execute("SELECT value, sum FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise CorruptDataError(f"{self.path} has no {key!r} metadata")
        raw, stored = row
        if not isinstance(raw, bytes) or _signed(checksum(key, raw)) != stored:
            raise CorruptDataError(f"{self.path}: {key!r} metadata fails its checksum")
        value = orjson.loads(raw)
        if not isinstance(value, dict):
            raise CorruptDataError(f"{self.path}: {key!r} metadata is not an object")
        return value

    def load(self, dim: int) -> LoadedRows:
        """Read and verify every row against its checksum and the running count and total."""
        ids: list[str] = []
        vectors: list[bytes] = []
        payloads: list[dict[str, Any]] = []
        sums: list[int] = []
        width = 4 * dim
        with _mapped(self.path):
            for rid, vec, pay, stored in self._db.execute(
                "SELECT id, vector, payload, sum FROM rows"
            ):
                if not (
                    isinstance(rid, str)
                    and isinstance(vec, bytes)
                    and isinstance(pay, bytes)
                    and isinstance(stored, int)
                    and len(vec) == width
                ):
                    raise CorruptDataError(f"{self.path}: row {rid!r} is malformed")
                value = checksum(rid, vec, pay)
                if _signed(value) != stored:
                    raise CorruptDataError(f"{self.path}: row {rid!r} fails its checksum")
                ids.append(rid)
                vectors.append(vec)
                payloads.append(orjson.loads(pay))
                sums.append(value)
        total = sum(sums) & _MASK
        if len(ids) != self._state["count"] or total != self._state["total"]:
            raise CorruptDataError(
                f"{self.path}: {len(ids)} rows do not match the recorded count "
                f"{self._state['count']} and checksum total (rows lost or duplicated)"
            )
        matrix = np.frombuffer(b"".join(vectors), dtype=np.float32).reshape(len(ids), dim)
        return LoadedRows(ids, matrix.copy(), payloads, np.array(sums, dtype=np.uint64))

    def upsert(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        payloads: Sequence[dict[str, Any]],
        replaced: npt.NDArray[np.uint64],
    ) -> npt.NDArray[np.uint64]:
        """Write rows in one transaction; ``replaced`` are the checksums of rows they overwrite.

        Returns the new rows' checksums.
        """
        raw = np.ascontiguousarray(vectors, dtype="<f4").tobytes()
        width = len(raw) // len(ids) if ids else 0
        vecs = [raw[at : at + width] for at in range(0, len(raw), width or 1)]
        pays = [orjson.dumps(p) for p in payloads]
        values = [checksum(*row) for row in zip(ids, vecs, pays)]
        rows = list(zip(ids, vecs, pays, map(_signed, values)))
        sums = np.array(values, dtype=np.uint64)
        self._commit(
            "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?)", rows, len(ids), sums, replaced
        )
        return sums

    def delete(self, ids: Sequence[str], removed: npt.NDArray[np.uint64]) -> None:
        """Delete rows in one transaction; ``removed`` are their checksums."""
        none = np.zeros(0, dtype=np.uint64)
        self._commit("DELETE FROM rows WHERE id = ?", [(i,) for i in ids], 0, none, removed)

    def _commit(
        self,
        sql: str,
        params: list[tuple[Any, ...]],
        added: int,
        added_sums: npt.NDArray[np.uint64],
        removed: npt.NDArray[np.uint64],
    ) -> None:
        old = self._state
        state = _state(
            old["count"] + added - len(removed),
            (old["total"] + _total(added_sums) - _total(removed)) & _MASK,
        )
        with _mapped(self.path):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(sql, params)
                self._put_meta(self._db, "state", state)
                crash_point("commit")
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        crash_point("committed")
        self._state = state

    def close(self) -> None:
        """Close the file (nothing is pending: every write call committed)."""
        with _mapped(self.path):
            self._db.close()


def _configure(db: sqlite3.Connection, *, durable: bool) -> None:
    # A rollback journal, not WAL: at rest (after any commit, even after a kill) the database
    # file alone holds every acknowledged write, so damage to it is caught by the checksums.
    # In WAL mode a damaged or truncated log reads as a shorter log and silently drops the
    # transactions in it (measured: one flipped bit in the -wal header lost every row), and
    # nothing outside the log records that they existed. The price: ~2 fsyncs per commit, not 1.
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute(f"PRAGMA synchronous={'EXTRA' if durable else 'OFF'}")


def _state(count: int, total: int) -> dict[str, Any]:
    return {"count": count, "total": total}


def _total(sums: npt.NDArray[np.uint64]) -> int:
    return sum(sums.tolist())
