"""How the router makes one call: endpoint order, failover with backoff, hedging, fan-out.

All of it is async and runs inside the deadline in force (see :mod:`edgevec.deadlines`); the sync
router drives these same coroutines on its own event loop. Every finished call is booked on its
endpoint (latency and breaker, :mod:`edgevec.router.policy`), so the next call's order reflects
what the router measured.

* :func:`failover` -- one call on the best endpoint of a group; a retryable error (unavailable,
  timeout, 429, 5xx) moves it to the next, with jittered exponential backoff (tenacity) between
  tries, until the tries or the deadline run out. Every call edgevec makes is idempotent (upserts
  overwrite, deletes of absent ids are no-ops), so writes may be retried too.
* hedging (reads only) -- when the first endpoint has not answered by its observed p95, the same
  call goes to the next-best endpoint as well; the first answer wins and the loser is cancelled.
* :func:`fan_out` -- the same call on several groups at once, waiting until the deadline:
  what answered, and why each other group did not.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from edgevec.deadlines import Deadline, deadline
from edgevec.errors import (
    BackendTimeoutError,
    BackendUnavailableError,
    EdgevecError,
    PartialWriteError,
    RoutingError,
)
from edgevec.router.members import Member
from edgevec.router.options import RouterOptions
from edgevec.router.policy import is_retryable, rank

__all__ = ["Op", "RegionWriteError", "failover", "fan_out", "timed"]

T = TypeVar("T")
Op = Callable[[Member], Awaitable[T]]
"""One call on one endpoint (opens the collection there and calls a hook)."""


class RegionWriteError(PartialWriteError):
    """A ``write="all"`` write that some regions did not acknowledge.

    ``succeeded`` names the regions that acknowledged it, ``regions_failed`` maps each other
    region to the reason. The write is idempotent: repeating the call is safe. ``written`` is
    empty and ``failed`` maps every id to the regions that lack it, since no id is known to be
    in every region.
    """

    def __init__(
        self, ids: Sequence[str], succeeded: Sequence[str], regions_failed: Mapping[str, str]
    ) -> None:
        where = ", ".join(f"{r} ({why})" for r, why in regions_failed.items())
        done = ", ".join(succeeded) or "none"
        super().__init__(
            f"write not acknowledged by region(s) {where}; acknowledged by: {done}",
            written=(),
            failed=dict.fromkeys(ids, f"not acknowledged by {', '.join(regions_failed)}"),
        )
        self.succeeded = tuple(succeeded)
        self.regions_failed = dict(regions_failed)


async def timed(work: Awaitable[T], seconds: float) -> T:
    """``await work``, cancelled after ``seconds`` (then :class:`asyncio.TimeoutError`); from
    Python 3.11 on without a task of its own, which a routed call would otherwise pay for."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await work
    return await asyncio.wait_for(work, seconds)  # pragma: no cover - Python 3.10


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a finished task's error, so an abandoned loser logs nothing."""
    if not task.cancelled():
        task.exception()


async def _attempt(
    member: Member, op: Op[T], dl: Deadline, share: float = 1.0, *, book: bool = True
) -> T:
    """``op`` on ``member`` within ``share`` of the time left, booked on its endpoint unless
    ``book`` is false (a breaker that is open refuses it). Past its share the try is a
    timeout, which fails over."""
    endpoint = member.endpoint
    if not book:
        return await op(member)
    if not endpoint.breaker.allow():
        raise BackendUnavailableError(f"endpoint {endpoint.name!r} rests: its breaker is open")
    budget = dl.left() * share
    if budget <= 0:
        raise dl.expired(f"call endpoint {endpoint.name!r}")
    start = time.perf_counter()
    try:
        with deadline(budget):  # the endpoint's client clips its own timeout to the share
            # A whole share needs no timer of its own: the caller's deadline stops the call.
            result = await (op(member) if share >= 1.0 else timed(op(member), budget))
    except asyncio.CancelledError:
        if dl.left() <= 0:  # stopped by the deadline (not a hedge won elsewhere): too slow
            endpoint.record(time.perf_counter() - start, dl.expired(f"call {endpoint.name}"))
        raise
    except BackendTimeoutError as exc:
        endpoint.record(time.perf_counter() - start, exc)
        raise
    except asyncio.TimeoutError as exc:
        late = BackendTimeoutError(f"endpoint {endpoint.name!r} did not answer in {budget:.3f} s")
        endpoint.record(time.perf_counter() - start, late)
        raise late from exc
    except Exception as exc:
        endpoint.record(time.perf_counter() - start, exc)
        raise
    endpoint.record(time.perf_counter() - start)
    return result


async def _hedged(primary: Member, backup: Member, op: Op[T], dl: Deadline) -> tuple[T, Member]:
    """``op`` on ``primary``, and on ``backup`` too once ``primary`` outlasts its p95."""
    racers: dict[asyncio.Future[T], Member] = {
        asyncio.ensure_future(_attempt(primary, op, dl)): primary
    }
    try:
        delay = primary.endpoint.latency.p95
        if delay is not None:
            done, _ = await asyncio.wait(racers, timeout=delay)
            if not done:
                racers[asyncio.ensure_future(_attempt(backup, op, dl))] = backup
        pending: set[asyncio.Future[T]] = set(racers)
        error: BaseException | None = None
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is None:
                    return task.result(), racers[task]
        assert error is not None
        raise error
    finally:
        for task in racers:
            task.add_done_callback(_consume)
            task.cancel()  # the loser, or both when the caller gave up


async def failover(
    members: Sequence[Member],
    op: Op[T],
    *,
    home: str | None,
    options: RouterOptions,
    dl: Deadline,
    hedge: bool = False,
    book: bool = True,
) -> tuple[T, Member]:
    """``op`` on the best of ``members`` (measured latency, ``home`` on ties, open breakers
    skipped), failing over on retryable errors; the result and the member that answered.
    ``book=False`` leaves the endpoints' latency and breakers alone (collection management,
    whose calls are neither as fast nor as frequent as the reads the ranking is for).

    :class:`RoutingError` when every breaker is open or every try failed retryably (chained to
    the last error); any other error is raised as it is, since it would repeat everywhere.
    """
    by_name = {m.name: m for m in members}
    order = [by_name[name] for name in rank((m.endpoint for m in members), home=home)]
    if not order:
        names = ", ".join(by_name)
        raise RoutingError(f"no endpoint can take the call: every breaker is open ({names})")
    turn = itertools.cycle(range(len(order)))
    tries = max(options.attempts, len(order))

    async def one(number: int) -> tuple[T, Member]:
        i = next(turn)
        if hedge and len(order) > 1:
            return await _hedged(order[i], order[(i + 1) % len(order)], op, dl)
        # A try that is not the last, with another endpoint to go to, may take half the time
        # left: a slow endpoint then leaves time to fail over.
        share = 0.5 if len(order) > 1 and number < tries else 1.0
        return await _attempt(order[i], op, dl, share, book=book), order[i]

    try:
        try:
            return await one(1)  # the usual case, without building the retry machinery
        except EdgevecError as exc:
            if not is_retryable(exc) or tries == 1:
                raise
        retrying = AsyncRetrying(
            stop=stop_after_attempt(tries - 1) | stop_before_delay(max(dl.left(), 0.0)),
            wait=wait_random_exponential(multiplier=options.backoff, max=dl.seconds / 4),
            retry=retry_if_exception(is_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await one(attempt.retry_state.attempt_number + 1)
    except EdgevecError as exc:
        if not is_retryable(exc):
            raise
        if dl.left() <= 0:
            raise dl.expired("get an answer from any endpoint") from exc
        tried = ", ".join(m.name for m in order)
        raise RoutingError(f"no endpoint answered ({tried}): {exc}") from exc
    raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover


async def fan_out(
    groups: Mapping[str, Sequence[Member]],
    op: Op[T],
    *,
    options: RouterOptions,
    dl: Deadline,
    hedge: bool = False,
    book: bool = True,
) -> tuple[dict[str, T], dict[str, EdgevecError]]:
    """``op`` in every group (region) at once, each with failover among its endpoints; waits
    until all answered or the deadline passed, then cancels the stragglers. Returns the answers
    and, for every other group, why it has none (a straggler: a timeout error).

    Groups that may wait (network, worker threads) start first, as tasks; groups whose every
    endpoint is inline (:attr:`Member.inline`) never wait, so they then run one after the
    other on this thread, with no task to build, while the others' calls are in flight."""

    def call(members: Sequence[Member]) -> Awaitable[tuple[T, Member]]:
        return failover(members, op, home=None, options=options, dl=dl, hedge=hedge, book=book)

    tasks = {
        asyncio.ensure_future(call(members)): group
        for group, members in groups.items()
        if not all(m.inline for m in members)
    }
    outcome: dict[str, T | BaseException] = {}
    try:
        for group, members in groups.items():
            if all(m.inline for m in members):
                try:
                    outcome[group] = (await call(members))[0]
                except EdgevecError as exc:
                    outcome[group] = exc
        if tasks:
            await asyncio.wait(tasks, timeout=max(dl.left(), 0.0))
    finally:  # also when the caller was cancelled: no straggler outlives the call
        for task, group in tasks.items():
            task.add_done_callback(_consume)
            if not task.done() or task.cancelled():
                task.cancel()
                outcome[group] = dl.expired(f"reach region {group!r}")
            elif (error := task.exception()) is None:
                outcome[group] = task.result()[0]
            else:
                outcome[group] = error
    answers: dict[str, T] = {}
    failures: dict[str, EdgevecError] = {}
    for group in groups:  # in the order of `groups`, whichever answered first
        result = outcome[group]
        if isinstance(result, EdgevecError):
            failures[group] = result
        elif isinstance(result, BaseException):
            raise result  # not the engine's failure: a bug to surface
        else:
            answers[group] = result
    return answers, failures
