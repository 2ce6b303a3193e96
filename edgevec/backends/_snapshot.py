"""Crash-safe, pickle-free persistence for in-process collections: snapshots plus a write-ahead log.

Layout of one collection directory::

    CURRENT              name of the live snapshot, replaced atomically (os.replace)
    snap-000007/         meta.json, vectors.npy, norms.npy, records.jsonl [, index.bin]
    wal-000007.log       writes since snapshot 7, each entry length-prefixed and CRC-checked

A snapshot is written to a fresh directory, fsynced, and only then named in ``CURRENT``, so a crash
leaves either the old or the new snapshot, never a mix. ``meta.json`` pins the dimension, metric,
row count and the SHA-256 of every file; any mismatch on load is a :class:`CorruptDataError`,
never a silently empty store. A torn final WAL entry (a crash mid-append) is dropped with a
warning; a damaged entry followed by more data is corruption.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import orjson

from edgevec.errors import CorruptDataError

__all__ = [
    "FORMAT_VERSION",
    "Snapshot",
    "WalEntry",
    "WriteAheadLog",
    "read_snapshot",
    "write_snapshot",
]

log = logging.getLogger("edgevec.snapshot")

FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sBII")  # magic, op, body length, crc32 of body
_MAGIC = b"EVW1"
OP_UPSERT, OP_DELETE = 1, 2


@dataclass(slots=True)
class Snapshot:
    """Everything needed to rebuild a collection: spec, rows and (optionally) a serialised index."""

    meta: dict[str, Any]
    ids: list[str]
    payloads: list[dict[str, Any]]
    vectors: npt.NDArray[np.float32]
    norms: npt.NDArray[np.float32]
    index: bytes | None = None


def _fsync_dir(path: Path) -> None:
    if os.name == "posix":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> str:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return hashlib.sha256(data).hexdigest()


def _npy_bytes(arr: npt.NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def current_generation(root: Path) -> int | None:
    """The live snapshot number, or ``None`` if ``root`` holds no collection."""
    try:
        name = (root / "CURRENT").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if not name.startswith("snap-") or not name[5:].isdigit():
        raise CorruptDataError(f"{root / 'CURRENT'} names {name!r}, not a snapshot")
    return int(name[5:])


def write_snapshot(root: Path, snap: Snapshot) -> int:
    """Write ``snap`` as the next generation and make it current; returns its number."""
    root.mkdir(parents=True, exist_ok=True)
    gen = (current_generation(root) or 0) + 1
    final = root / f"snap-{gen:06d}"
    tmp = root / f".tmp-snap-{gen:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    records = b"".join(
        orjson.dumps({"id": i, "payload": p}) + b"\n" for i, p in zip(snap.ids, snap.payloads)
    )
    files = {
        "vectors.npy": _npy_bytes(snap.vectors),
        "norms.npy": _npy_bytes(snap.norms),
        "records.jsonl": records,
    }
    if snap.index is not None:
        files["index.bin"] = snap.index
    digests = {name: _write_file(tmp / name, data) for name, data in files.items()}
    meta = {**snap.meta, "format": FORMAT_VERSION, "count": len(snap.ids), "sha256": digests}
    _write_file(tmp / "meta.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    _fsync_dir(tmp)
    os.replace(tmp, final)
    _write_file(root / "CURRENT.tmp", final.name.encode("ascii"))
    os.replace(root / "CURRENT.tmp", root / "CURRENT")  # the commit point
    _fsync_dir(root)
    for old in root.iterdir():  # older generations and their logs are now garbage
        if old.name.startswith(("snap-", "wal-")) and not old.name.endswith(f"{gen:06d}"):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    return gen


def _read_checked(path: Path, digest: str | None) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CorruptDataError(f"snapshot file missing: {path}") from exc
    if digest is None or hashlib.sha256(data).hexdigest() != digest:
        raise CorruptDataError(f"snapshot file {path} does not match its SHA-256 in meta.json")
    return data


def _load_npy(data: bytes, path: Path) -> npt.NDArray[Any]:
    try:
        arr: npt.NDArray[Any] = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise CorruptDataError(f"{path} is not a valid .npy array: {exc}") from exc
    return arr


def read_snapshot(root: Path, gen: int) -> Snapshot:
    """Load and validate snapshot ``gen``; raises :class:`CorruptDataError` on any mismatch."""
    snap_dir = root / f"snap-{gen:06d}"
    try:
        meta = orjson.loads((snap_dir / "meta.json").read_bytes())
    except FileNotFoundError as exc:
        raise CorruptDataError(f"snapshot {snap_dir} has no meta.json") from exc
    except orjson.JSONDecodeError as exc:
        raise CorruptDataError(f"{snap_dir / 'meta.json'} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise CorruptDataError(f"{snap_dir} has unknown format {meta.get('format')!r}")
    digests: Mapping[str, str] = meta.get("sha256", {})
    count, dim = meta.get("count"), meta.get("dim")
    vectors = _load_npy(
        _read_checked(snap_dir / "vectors.npy", digests.get("vectors.npy")), snap_dir
    )
    norms = _load_npy(_read_checked(snap_dir / "norms.npy", digests.get("norms.npy")), snap_dir)
    raw = _read_checked(snap_dir / "records.jsonl", digests.get("records.jsonl"))
    rows = [orjson.loads(line) for line in raw.splitlines()]
    if vectors.dtype != np.float32 or vectors.shape != (count, dim) or norms.shape != (count,):
        raise CorruptDataError(
            f"{snap_dir}: vectors {vectors.shape} / norms {norms.shape} do not match "
            f"count={count}, dim={dim} in meta.json"
        )
    if len(rows) != count:
        raise CorruptDataError(f"{snap_dir}: {len(rows)} records, meta.json says {count}")
    index = None
    if "index.bin" in digests:
        index = _read_checked(snap_dir / "index.bin", digests["index.bin"])
    return Snapshot(
        meta, [r["id"] for r in rows], [r["payload"] for r in rows], vectors, norms, index
    )


@dataclass(slots=True)
class WalEntry:
    """One logged write: an upsert (ids, payloads, vectors) or a delete (ids)."""

    op: int
    ids: list[str]
    payloads: list[dict[str, Any]] | None = None
    vectors: npt.NDArray[np.float32] | None = None


class WriteAheadLog:
    """Append-only log of writes since the last snapshot; each append is fsynced if ``durable``."""

    def __init__(self, path: Path, dim: int, *, durable: bool) -> None:
        self.path = path
        self.dim = dim
        self.durable = durable
        self._fh: BinaryIO | None = None

    def append(self, entry: WalEntry) -> None:
        head = orjson.dumps({"ids": entry.ids, "payloads": entry.payloads})
        body = struct.pack("<I", len(head)) + head
        if entry.vectors is not None:
            body += entry.vectors.tobytes()
        if self._fh is None:
            self._fh = open(self.path, "ab")  # noqa: SIM115  # held open across appends
        self._fh.write(_HEADER.pack(_MAGIC, entry.op, len(body), zlib.crc32(body)) + body)
        self._fh.flush()
        if self.durable:
            os.fsync(self._fh.fileno())

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def replay(self) -> Iterator[WalEntry]:
        """Entries in write order; a torn last entry is dropped (and cut off the file)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        pos = 0
        while pos < len(data):
            end = pos + _HEADER.size
            entry = None
            if end <= len(data):
                magic, op, length, crc = _HEADER.unpack_from(data, pos)
                body = data[end : end + length]
                if magic == _MAGIC and len(body) == length and zlib.crc32(body) == crc:
                    entry = self._decode(op, body)
                    end += length
            if entry is None:
                if self._has_later_entry(data, pos + 1):
                    raise CorruptDataError(f"{self.path}: damaged entry at byte {pos}")
                log.warning("dropping a torn write at the end of %s (byte %d)", self.path, pos)
                with open(self.path, "r+b") as fh:
                    fh.truncate(pos)
                return
            yield entry
            pos = end

    @staticmethod
    def _has_later_entry(data: bytes, start: int) -> bool:
        return data.find(_MAGIC, start) != -1

    def _decode(self, op: int, body: bytes) -> WalEntry:
        (head_len,) = struct.unpack_from("<I", body)
        head = orjson.loads(body[4 : 4 + head_len])
        if op == OP_DELETE:
            return WalEntry(op, head["ids"])
        vectors = np.frombuffer(body[4 + head_len :], dtype=np.float32)
        return WalEntry(op, head["ids"], head["payloads"], vectors.reshape(-1, self.dim).copy())
