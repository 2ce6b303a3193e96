"""The one engine driver: plans of typed operations, a sync and an async runner.

A backend writes what an operation does once, as a *plan*: a generator yielding
:class:`Call` (one vendor call), :class:`Sleep` (a backoff or poll wait) and :class:`Gather`
(sub-plans to run concurrently), and receiving each one's result. :func:`run` drives a plan on
a sync client, :func:`arun` on a native async client, both through an :class:`Engine` that says
how to reach the client and how its exceptions map to edgevec's errors. The runners enforce the
deadline (:mod:`edgevec.deadlines`) and are the single place every engine call is observed:
:func:`add_listener` sees each one's backend, name, duration and outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from edgevec.deadlines import Deadline, within
from edgevec.errors import CollectionNotFoundError, EdgevecError

__all__ = [
    "AsyncEngine",
    "Call",
    "CallEvent",
    "Engine",
    "Gather",
    "Plan",
    "Sleep",
    "SyncEngine",
    "add_listener",
    "arun",
    "method_of",
    "run",
    "single",
]

T = TypeVar("T")
R = TypeVar("R")
C = TypeVar("C")

_log = logging.getLogger(__name__)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Call(Generic[R]):
    """One vendor call, built without I/O; the plan receives ``parse(result)``."""

    method: str
    """Dotted attribute path on the client (or on handle ``on``); also the telemetry name."""
    kwargs: Mapping[str, Any]
    action: str
    """What was being done, in words, for error messages: ``"query collection 'docs'"``."""
    parse: Callable[[Any], R] = field(default=_same)
    on: str | None = None
    """A named handle the engine resolves the method on (a Weaviate class), else the client."""
    missing_ok: bool = False
    """A not-found answer yields ``None`` instead of raising :class:`CollectionNotFoundError`."""
    args: tuple[Any, ...] = ()
    """Positional arguments, for vendor methods that take some."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before the next step (backoff, polling); refused if it would outlast the deadline."""

    seconds: float
    action: str = "wait for the engine"


@dataclass(frozen=True, slots=True)
class Gather(Generic[R]):
    """Run sub-plans concurrently; the plan receives their results in order, or the first
    error (the others are cancelled on an async client)."""

    plans: Sequence[Generator[Any, Any, R]]


Plan = Generator["Call[Any] | Sleep | Gather[Any]", Any, T]
"""A plan returning ``T``: what it yields is run, and the result sent back in."""


def method_of(target: object, path: str) -> Callable[..., Any]:
    """The bound method a dotted :attr:`Call.method` path names on ``target``."""
    found: Any = target
    for part in path.split("."):
        found = getattr(found, part)
    return found  # type: ignore[no-any-return]


def single(call: Call[R]) -> Plan[R]:
    """The plan of one call."""
    result: R = yield call
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class Engine(Generic[C]):
    """How the runners reach one client: ``C`` is what a vendor method returns (the result
    on a sync client, an awaitable of it on an async one)."""

    backend: str
    resolve: Callable[[Call[Any]], Callable[..., C]]
    """The bound vendor method a call names."""
    errors: Callable[[Exception, str], EdgevecError | None]
    """The backend's error map: the edgevec error for a vendor exception (given the call's
    action), never holding secrets; ``None`` lets the exception through unchanged."""
    timeout: float
    """The deadline of a run when none is in force (the store's ``timeout`` option)."""
    timeout_kwarg: str | None = None
    """The vendor keyword taking a per-request timeout, set to the time left on each call."""
    threads: int = 1
    """Sync runs of :class:`Gather` use this many threads (only for thread-safe clients)."""
    in_flight: int = 32
    """At most this many requests of one :class:`Gather` are in flight on an async client."""


SyncEngine = Engine[object]
"""An engine on a sync client, for :func:`run`."""
AsyncEngine = Engine[Awaitable[object]]
"""An engine on a native async client, for :func:`arun`."""


# -- telemetry -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One engine call as a listener sees it."""

    backend: str
    operation: str
    seconds: float
    error: type[BaseException] | None
    """``None`` on success, else the class of the error raised (edgevec's, after mapping)."""


_listeners: list[Callable[[CallEvent], None]] = []


def add_listener(listener: Callable[[CallEvent], None]) -> Callable[[], None]:
    """Have ``listener`` called after every engine call of every store; returns its remover.

    Listeners run on the calling thread or event loop and should be quick; one that raises is
    logged and does not affect the call.
    """
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def _notify(
    engine: Engine[Any], call: Call[Any], start: float, error: BaseException | None
) -> None:
    if not _listeners:
        return
    event = CallEvent(
        engine.backend,
        call.method,
        time.perf_counter() - start,
        None if error is None else type(error),
    )
    for listener in tuple(_listeners):  # a copy: a listener may remove itself
        try:
            listener(event)
        except Exception:
            _log.exception("edgevec driver listener %r failed", listener)


# -- shared step logic -----------------------------------------------------------------------


def _prepare(engine: Engine[C], call: Call[Any], dl: Deadline) -> tuple[Callable[..., C], float]:
    left = dl.left()
    if left <= 0:
        raise dl.expired(call.action)
    return engine.resolve(call), left


def _kwargs(engine: Engine[Any], call: Call[Any], left: float) -> Mapping[str, Any]:
    if engine.timeout_kwarg is None:
        return call.kwargs
    return {**call.kwargs, engine.timeout_kwarg: left}


def _mapped(engine: Engine[Any], call: Call[Any], exc: Exception) -> EdgevecError | None:
    """``None`` for a tolerated not-found; raises anything else as an edgevec error."""
    if isinstance(exc, EdgevecError):
        err: EdgevecError | None = exc
    else:
        err = engine.errors(exc, call.action)
        if err is None:
            raise exc
    if call.missing_ok and isinstance(err, CollectionNotFoundError):
        return None
    if err is exc:
        raise exc
    assert err is not None
    raise err from exc


def _outcome(
    engine: Engine[Any], call: Call[Any], start: float, raw: Any, exc: Exception | None
) -> Any:
    """What the plan receives for a finished call, or the mapped error raised; listeners told."""
    if exc is not None:
        try:
            _mapped(engine, call, exc)
        except BaseException as err:
            _notify(engine, call, start, err)
            raise
        raw = None  # a tolerated not-found
    _notify(engine, call, start, None)
    return None if exc is not None else call.parse(raw)


def _sleep_left(step: Sleep, dl: Deadline) -> float:
    if step.seconds >= dl.left():
        raise dl.expired(step.action)
    return step.seconds


# -- sync runner -----------------------------------------------------------------------------


def run(plan: Plan[T], engine: SyncEngine) -> T:
    """Run ``plan`` on a sync client within the deadline in force (or ``engine.timeout``)."""
    with within(engine.timeout) as dl:
        return _drive(plan, engine, dl)


def _drive(plan: Plan[T], engine: SyncEngine, dl: Deadline) -> T:
    result: Any = None
    error: EdgevecError | None = None
    while True:
        try:
            step = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, error = None, None
        try:
            result = _step(step, engine, dl)
        except EdgevecError as err:
            error = err


def _step(step: Call[Any] | Sleep | Gather[Any], engine: SyncEngine, dl: Deadline) -> Any:
    if isinstance(step, Sleep):
        time.sleep(_sleep_left(step, dl))
        return None
    if isinstance(step, Gather):
        return _gather(step, engine, dl)
    fn, left = _prepare(engine, step, dl)
    start = time.perf_counter()
    try:
        raw = fn(*step.args, **_kwargs(engine, step, left))
    except Exception as exc:
        return _outcome(engine, step, start, None, exc)
    return _outcome(engine, step, start, raw, None)


def _gather(step: Gather[Any], engine: SyncEngine, dl: Deadline) -> list[Any]:
    if engine.threads <= 1 or len(step.plans) <= 1:
        return [_drive(p, engine, dl) for p in step.plans]
    with ThreadPoolExecutor(min(engine.threads, len(step.plans))) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, _drive, p, engine, dl) for p in step.plans
        ]
        return [f.result() for f in futures]


# -- async runner ----------------------------------------------------------------------------


async def arun(plan: Plan[T], engine: AsyncEngine) -> T:
    """Run ``plan`` on a native async client; every call is cancelled at the deadline."""
    with within(engine.timeout) as dl:
        return await _adrive(plan, engine, dl)


async def _adrive(plan: Plan[T], engine: AsyncEngine, dl: Deadline) -> T:
    result: Any = None
    error: EdgevecError | None = None
    while True:
        try:
            step = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, error = None, None
        try:
            result = await _astep(step, engine, dl)
        except EdgevecError as err:
            error = err


async def _astep(step: Call[Any] | Sleep | Gather[Any], engine: AsyncEngine, dl: Deadline) -> Any:
    if isinstance(step, Sleep):
        await asyncio.sleep(_sleep_left(step, dl))
        return None
    if isinstance(step, Gather):
        return await _agather(step, engine, dl)
    fn, left = _prepare(engine, step, dl)
    start = time.perf_counter()

    async def attempt() -> tuple[Any, Exception | None]:
        # The vendor's own exceptions come back as values, so a TimeoutError out of
        # ``wait_for`` below can only mean the deadline.
        try:
            return await fn(*step.args, **_kwargs(engine, step, left)), None
        except Exception as exc:
            return None, exc

    try:
        raw, failure = await asyncio.wait_for(attempt(), left)
    except asyncio.TimeoutError as exc:
        expired = dl.expired(step.action)
        expired.__cause__ = exc
        return _outcome(engine, step, start, None, expired)
    return _outcome(engine, step, start, raw, failure)


async def _agather(step: Gather[Any], engine: AsyncEngine, dl: Deadline) -> list[Any]:
    gate = asyncio.Semaphore(engine.in_flight)

    async def one(plan: Plan[Any]) -> Any:
        async with gate:
            return await _adrive(plan, engine, dl)

    tasks = [asyncio.ensure_future(one(p)) for p in step.plans]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
