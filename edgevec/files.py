"""Reading a user-named file without ever blocking on something that is not a file.

A path from a caller or a config can name a FIFO, a device or a directory. ``open()`` on a FIFO
waits for a writer forever and a device can stream without end, so every path edgevec reads
(config files, images, model files) goes through :func:`read_regular`, which checks the file type
before opening and again on the opened descriptor (the path may be swapped in between).
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["NotRegularFileError", "read_regular"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFileError(OSError):
    """The path exists but is not a regular file; it was not read (and a FIFO not opened)."""


def _check_regular(mode: int, path: str | os.PathLike[str]) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise NotRegularFileError(errno.EINVAL, f"{kind}, not a regular file", os.fspath(path))


def read_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes + 1`` when a limit is given,
    so the caller can tell "over the limit" from "exactly at it").

    Raises :class:`OSError` for anything else: :class:`NotRegularFileError` for a directory,
    FIFO, device or socket, the usual subclasses for a missing or unreadable file, and
    ``EINVAL`` for a path with a NUL character. Callers wrap it in their own typed error.
    """
    try:
        _check_regular(os.stat(path).st_mode, path)
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it returns at
        # once instead of waiting for a writer; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except ValueError as exc:  # "embedded null byte": not an OSError, but the same kind of fault
        raise OSError(errno.EINVAL, str(exc), repr(os.fspath(path))) from exc
    with open(fd, "rb") as fh:
        _check_regular(os.fstat(fd).st_mode, path)
        return fh.read() if max_bytes is None else fh.read(max_bytes + 1)
