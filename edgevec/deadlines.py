"""One deadline per call of the user, shared by sync and async code.

``with edgevec.deadline(2.0): coll.query(...)`` bounds everything inside the block: every engine
call the plan driver makes clips its vendor timeout to the time left, a backoff sleep that would
outlast it is not started, and :class:`~edgevec.errors.BackendTimeoutError` is raised once it is
spent. Without a block, each store operation gets the store's ``timeout`` option. The deadline
lives in a context variable, so it follows ``await`` and the tasks a plan gathers.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass

from edgevec.errors import BackendTimeoutError, InvalidInputError

__all__ = ["Deadline", "current", "deadline", "within"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in ``time.monotonic()`` time and the budget it was set with (for messages)."""

    at: float
    seconds: float

    def left(self) -> float:
        """Seconds left; zero or less once the deadline passed."""
        return self.at - time.monotonic()

    def expired(self, action: str) -> BackendTimeoutError:
        """The error for ``action`` not finishing in time (raised by the caller)."""
        return BackendTimeoutError(f"could not {action}: the {self.seconds:g} s deadline passed")


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "edgevec_deadline", default=None
)


def current() -> Deadline | None:
    """The deadline in force here, or ``None`` outside any."""
    return _CURRENT.get()


def _enter(seconds: float, tighten_only: bool) -> contextvars.Token[Deadline | None] | None:
    outer = _CURRENT.get()
    if tighten_only and outer is not None:
        return None
    new = Deadline(time.monotonic() + seconds, seconds)
    if outer is not None and outer.at <= new.at:
        return None  # a nested deadline can only shorten the outer one
    return _CURRENT.set(new)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every engine call made inside the block to ``seconds`` from now, in total.

    Works in sync and async code (``with``, not ``async with``); nested blocks can only shorten
    the outer deadline. It overrides the store's ``timeout`` option, which is the default
    deadline of each operation outside any block.
    """
    if not seconds > 0:
        raise InvalidInputError(f"a deadline needs a positive number of seconds, got {seconds!r}")
    token = _enter(seconds, tighten_only=False)
    try:
        yield
    finally:
        if token is not None:
            _CURRENT.reset(token)


@contextlib.contextmanager
def within(default_seconds: float) -> Iterator[Deadline]:
    """The deadline in force, or a new one of ``default_seconds`` (a store's ``timeout``)."""
    token = _enter(default_seconds, tighten_only=True)
    try:
        found = _CURRENT.get()
        assert found is not None
        yield found
    finally:
        if token is not None:
            _CURRENT.reset(token)
