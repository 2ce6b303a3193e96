"""The chunking and polling helpers plans share (plans yield :mod:`edgevec.driver` steps)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from edgevec.backends.pinecone.limits import MAX_FETCH_URL_BYTES, MAX_IDS_PER_REQUEST
from edgevec.driver import Sleep
from edgevec.errors import BackendTimeoutError

_POLL_START, _POLL_MAX = 0.05, 1.0


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    vid: str
    body: dict[str, Any]
    size: int


def chunks_by_size(rows: Sequence[Row], max_count: int, max_bytes: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    size = 0
    for row in rows:
        if chunk and (len(chunk) >= max_count or size + row.size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row.size + 1
    if chunk:
        yield chunk


def fetch_chunks(vids: Sequence[str]) -> Iterator[list[str]]:
    """Id lists for ``GET /vectors/fetch``: at most 1000 ids and a bounded query string."""
    chunk: list[str] = []
    length = 0
    for vid in vids:
        cost = len(quote(vid, safe="")) + 5  # "&ids="
        if chunk and (len(chunk) >= MAX_IDS_PER_REQUEST or length + cost > MAX_FETCH_URL_BYTES):
            yield chunk
            chunk, length = [], 0
        chunk.append(vid)
        length += cost
    if chunk:
        yield chunk


def response_lsn(response: Any, kind: Literal["committed", "reconciled"]) -> int | None:
    info = getattr(response, "response_info", None)
    value = getattr(info, f"lsn_{kind}", None) if info is not None else None
    return value if isinstance(value, int) else None


def plan_wait(what: str, timeout: float) -> Iterator[Sleep]:
    """Drive a poll loop: each value is the pause to take if the poll just made failed.

    The first poll happens at once and the last one at the deadline; a failed poll at or past
    the deadline raises :class:`BackendTimeoutError`. The driver ends the wait sooner if the
    operation's own deadline comes first.
    """
    deadline = time.monotonic() + timeout
    delay = _POLL_START
    while True:
        remaining = deadline - time.monotonic()
        yield Sleep(max(min(delay, remaining), 0.0), f"wait for {what} to become visible")
        if remaining <= 0:
            raise BackendTimeoutError(
                f"Pinecone acknowledged the write but {what} was not visible after {timeout:g} s "
                "(read_your_writes); it is likely to appear later"
            )
        delay = min(delay * 2, _POLL_MAX)
