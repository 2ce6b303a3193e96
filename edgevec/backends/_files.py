"""Durable file steps for stores under ``path=``: fsync, atomic replace, no symlinks followed.

Every step that decides what survives a crash goes through :func:`crash_point`, so the crash
tests can kill the process exactly before or after it (``EDGEVEC_TEST_KILL_AT=<tag>:<n>`` kills
at the ``n``-th time ``<tag>`` is reached). Unset, the hook is one comparison with ``None``.
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

from edgevec.errors import CorruptDataError

__all__ = [
    "crash_point",
    "fsync_dir",
    "is_plain_dir",
    "is_plain_file",
    "read_plain",
    "rename_durably",
    "write_atomic",
]

_KILL_AT = os.environ.get("EDGEVEC_TEST_KILL_AT")
_hits: dict[str, int] = {}


def crash_point(tag: str) -> None:
    """Test hook: SIGKILL this process at the configured visit of ``tag`` (no-op when unset)."""
    if _KILL_AT is None:
        return
    want, _, nth = _KILL_AT.rpartition(":")
    if want != tag:
        return
    _hits[tag] = _hits.get(tag, 0) + 1
    if _hits[tag] == int(nth):
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside ``path`` durable (POSIX: fsync the directory itself)."""
    if os.name != "posix":  # pragma: no cover - Windows has no directory fsync
        return
    crash_point("fsync-dir")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_plain_file(path: Path) -> bool:
    """A regular file, not a symlink to one."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def is_plain_dir(path: Path) -> bool:
    """A directory, not a symlink to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _nofollow() -> int:
    return getattr(os, "O_NOFOLLOW", 0)


def read_plain(path: Path) -> bytes | None:
    """The bytes of ``path``, ``None`` if absent; a symlink is :class:`CorruptDataError`."""
    try:
        fd = os.open(path, os.O_RDONLY | _nofollow())
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink where a store file belongs
        raise CorruptDataError(f"{path} is not a regular file: {exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _nofollow(), 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    rename_durably(tmp, path)


def rename_durably(src: Path, dst: Path) -> None:
    """``os.replace`` whose result survives a crash (the parent directory is fsynced)."""
    crash_point("rename")
    os.replace(src, dst)
    crash_point("renamed")
    fsync_dir(dst.parent)
