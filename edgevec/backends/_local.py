"""Small helpers about the local machine that backends (and the service) share: loopback hosts,
directory locks."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import IO

from edgevec.errors import BackendUnavailableError

__all__ = ["DirLock", "is_loopback"]


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address: the only hosts plain HTTP may carry credentials to (and
    the only ones a service without API keys may listen on)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DirLock:
    """An exclusive advisory lock on a data directory, held until :meth:`release`.

    Embedded engines (FAISS files, Qdrant's local mode) allow one writer per directory; taking
    the lock up front turns a second store into a clean :class:`BackendUnavailableError` instead
    of corrupted files or a vendor error that leaks its own lock handle.
    """

    def __init__(self, path: str | os.PathLike[str], name: str, in_use: str) -> None:
        self._fh: IO[bytes] | None = None
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
            # No symlink followed: the lock file must be the one inside ``path``.
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
            self._fh = os.fdopen(os.open(Path(path) / name, flags, 0o644), "ab")
        except OSError as exc:
            raise BackendUnavailableError(f"cannot open {path}: {exc}") from exc
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no advisory locks on this platform
            return
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self.release()
            raise BackendUnavailableError(in_use) from exc

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
