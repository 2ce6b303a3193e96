"""Retries of Pinecone requests that stay inside edgevec's deadline, in place of the client's.

The ``pinecone`` 10.x data-plane clients (``Index``, ``AsyncIndex``) retry connection errors and
HTTP 408/429/5xx up to 3 times, sleeping 0.25 s or more between attempts and giving each attempt
the whole timeout; they take no retry setting (``Pinecone(retry_config=...)`` reaches only the
control plane). A refused or reset endpoint then held a call for over a second whatever the
deadline, and a router could not fail over in time. So edgevec switches the client's retries off
and retries here, where the deadline is known:

* only answers that say the server is up but busy (HTTP 429, 500, 502, 503, 504) are retried,
  after a jittered exponential backoff (or the server's ``Retry-After``);
* a connection that is refused or reset, and a timeout, are raised at once: the endpoint is
  down or the time is spent, and the caller (a router's failover, or the application) decides;
* a retry whose wait would end past the deadline is not started, and each attempt gets only
  the time left.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from pinecone import AsyncIndex, Index
from pinecone._internal.config import PineconeConfig
from pinecone._internal.http_client import _AsyncRetryTransport, _RetryTransport
from pinecone.errors.exceptions import ApiError, RateLimitError

from edgevec.deadlines import current
from edgevec.errors import ConfigError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth repeating on the same endpoint: overload and passing server faults."""
BACKOFF = 0.05
"""Seconds: the n-th retry waits a random time up to ``BACKOFF * 2**n``."""


def client_retries_off(index: Index | AsyncIndex) -> None:
    """Make the client send each request once, whatever the answer.

    The policy sits on the client's HTTP config (``AsyncIndex`` builds its transport from it on
    first use) and on the sync transport, already built; both are replaced. A client without
    them (another ``pinecone`` release) is refused rather than left retrying unseen.
    """
    http: Any = getattr(index, "_http", None)
    config = getattr(http, "_config", None)
    transport = getattr(getattr(http, "_client", None), "_transport", None)
    built = isinstance(transport, _RetryTransport | _AsyncRetryTransport)
    if not isinstance(config, PineconeConfig) or (isinstance(index, Index) and not built):
        raise ConfigError(
            "this pinecone client offers no way to switch its own retries off; "
            'edgevec supports pinecone 10.x: pip install "edgevec[pinecone]"'
        )
    off = replace(config.retry_config, max_retries=0)
    http._config = replace(config, retry_config=off)
    if isinstance(transport, _RetryTransport | _AsyncRetryTransport):
        transport._config = off


def pause(exc: Exception, attempt: int, retries: int) -> float | None:
    """Seconds to wait before repeating a request that raised ``exc`` (``attempt`` counts
    retries made so far), or ``None`` to raise it now."""
    if attempt >= retries or not isinstance(exc, ApiError) or exc.status_code not in RETRY_STATUS:
        return None
    asked = exc.retry_after if isinstance(exc, RateLimitError) else None
    delay = asked if asked is not None else random.uniform(0.0, BACKOFF * 2**attempt)  # noqa: S311
    deadline = current()
    if deadline is None or delay >= deadline.left():
        return None
    return delay


def _time_left(kwargs: dict[str, Any]) -> dict[str, Any]:
    deadline = current()
    assert deadline is not None  # pause() returned a delay only inside a deadline
    return {**kwargs, "timeout": deadline.left()}


def retrying(fn: Callable[..., object], retries: int) -> Callable[..., object]:
    """``fn`` (a sync vendor method taking ``timeout=``) repeated as :func:`pause` allows."""

    def call(*args: Any, **kwargs: Any) -> object:
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                delay = pause(exc, attempt, retries)
                if delay is None:
                    raise
            time.sleep(delay)
            attempt += 1
            kwargs = _time_left(kwargs)

    return call


def aretrying(
    fn: Callable[..., Awaitable[object]], retries: int
) -> Callable[..., Awaitable[object]]:
    """The async twin of :func:`retrying`."""

    async def call(*args: Any, **kwargs: Any) -> object:
        attempt = 0
        while True:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                delay = pause(exc, attempt, retries)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            attempt += 1
            kwargs = _time_left(kwargs)

    return call
