"""Where persisted in-process collections live under ``path=``: one directory per collection.

``<path>/<name>/<marker>`` is a collection (FAISS: ``records.sqlite``; Qdrant Edge: its metadata
file beside the shard); nothing else is. A collection is created under a hidden temporary name
and renamed into place once complete, and dropped by renaming it to a hidden tombstone before
deleting it, so a crash leaves either a whole collection or none. Hidden leftovers (collection
names never start with a dot) are removed when the next store opens the directory.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from edgevec.backends._files import crash_point, fsync_dir, is_plain_dir, is_plain_file
from edgevec.backends._index_cache import CACHE_NAME
from edgevec.backends._rowstore import DB_NAME
from edgevec.errors import CollectionExistsError, ConfigError, CorruptDataError

__all__ = ["CollectionDirs", "data_dir"]

log = logging.getLogger("edgevec.backends")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_CREATING, _DROPPED = ".creating-", ".dropped-"
_FORMAT_1 = "CURRENT"  # the snapshot + log layout of edgevec's first releases


class CollectionDirs:
    """The collection directories under one store root (the caller holds the directory lock).

    ``marker`` is the file whose presence makes a directory a collection; ``own`` names the
    other files and directories a collection holds (one of them without the marker means the
    collection is damaged, not absent). The defaults are the FAISS layout.
    """

    def __init__(
        self,
        root: Path,
        marker: str = DB_NAME,
        own: tuple[str, ...] = (CACHE_NAME, f"{DB_NAME}-journal", f"{DB_NAME}-wal"),
    ) -> None:
        self.root = root
        self.marker = marker
        self.own = own
        for entry in root.iterdir():
            if entry.name.startswith((_CREATING, _DROPPED)):
                log.info("removing %s, left by an interrupted create or drop", entry)
                _remove(entry)

    def path(self, name: str) -> Path:
        return self.root / name

    def names(self) -> list[str]:
        """Names of the collections on disk; stray files and directories are not collections."""
        return [
            entry.name
            for entry in self.root.iterdir()
            if _NAME.fullmatch(entry.name) and self.status(entry.name) != "absent"
        ]

    def status(self, name: str) -> str:
        """``"absent"``, ``"ok"``, ``"format-1"`` (an old layout this version cannot read) or
        ``"damaged"`` (a collection's own files without its database: the data is lost)."""
        where = self.root / name
        if not is_plain_dir(where):
            return "absent"
        if is_plain_file(where / self.marker):
            return "ok"
        if is_plain_file(where / _FORMAT_1):
            return "format-1"
        return "damaged" if any(os.path.lexists(where / f) for f in self.own) else "absent"

    def check_readable(self, name: str) -> None:
        if self.status(name) == "damaged":
            raise CorruptDataError(
                f"collection {name!r} in {self.root} has lost its {self.marker}, without which "
                "it cannot be read: restore the file from a backup, or drop the collection"
            )
        if self.status(name) == "format-1":
            raise ConfigError(
                f"collection {name!r} in {self.root} is in edgevec's on-disk format 1 (snapshot "
                "plus log) of an earlier release, which this version does not read; re-create it"
            )

    def create(self, name: str, fill: Callable[[Path], None]) -> Path:
        """Make ``<root>/<name>`` appear complete or not at all; ``fill`` writes its files."""
        final = self.root / name
        if self.status(name) != "absent":
            raise CollectionExistsError(f"collection {name!r} already exists")
        if os.path.lexists(final):
            raise ConfigError(
                f"{final} exists but is not an edgevec collection; move it away to use the name"
            )
        tmp = self.root / f"{_CREATING}{name}-{os.getpid()}"
        _remove(tmp)
        tmp.mkdir()
        try:
            fill(tmp)
            fsync_dir(tmp)
            crash_point("create")
            os.rename(tmp, final)
            crash_point("created")
            fsync_dir(self.root)
        except BaseException:
            _remove(tmp)
            raise
        return final

    def drop(self, name: str) -> None:
        """Remove a collection: first out of sight (one rename), then from the disk."""
        tomb = self.root / f"{_DROPPED}{name}-{os.getpid()}"
        _remove(tomb)
        crash_point("drop")
        os.rename(self.root / name, tomb)
        fsync_dir(self.root)
        crash_point("dropped")
        _remove(tomb)


def data_dir(path: str, backend: str) -> Path:
    """``path=`` as a directory, created if missing; anything else is a :class:`ConfigError`."""
    if "\0" in path:
        raise ConfigError(f"{backend} option 'path' contains a NUL character")
    root = Path(path)
    if os.path.lexists(root) and not root.is_dir():
        raise ConfigError(f"{backend} option 'path' must be a directory, but {path!r} is not one")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{backend} option 'path': cannot create directory {path!r}: {exc}"
        ) from exc
    return root


def _remove(path: Path) -> None:
    if is_plain_dir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink(missing_ok=True)
