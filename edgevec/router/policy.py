"""Endpoint health and choice for the router, without I/O.

The router books every finished call on an :class:`Endpoint` (its :class:`LatencyTracker` and
:class:`CircuitBreaker`) and asks :func:`rank` where to send the next one; :func:`is_retryable`
says whether an error warrants trying the next endpoint. Time comes from an injectable clock
(``time.monotonic`` by default), so every rule here is tested without sleeping.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    ConfigError,
    InvalidInputError,
)

__all__ = [
    "RETRYABLE_STATUS",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "Endpoint",
    "LatencyTracker",
    "is_retryable",
    "rank",
]

Clock = Callable[[], float]
"""Seconds on a monotonic scale; ``time.monotonic`` unless a test injects its own."""


class LatencyTracker:
    """Latency of one endpoint as the router has observed it: a peak-sensitive EWMA and a p95.

    The estimate follows the worst recent sample: one slower than the estimate replaces it at
    once, so a slowing endpoint loses traffic on its first slow answer; faster samples pull it
    down only as time passes (weight ``exp(-elapsed / decay)``), so one lucky answer does not
    win the traffic back. With no new samples the estimate read decays towards zero on the same
    time constant: an endpoint that stopped being chosen because of a spike eventually ranks
    first again, gets one call and is measured afresh, so a recovered region is found without
    probes. That idle decay is in the reading only; a new sample is compared with, and averaged
    into, the last measured value.

    :attr:`p95` is the 95th percentile of the last ``window`` samples, the router's hedging
    delay. Memory is bounded by ``window``; all methods are thread-safe.
    """

    def __init__(
        self,
        *,
        decay: float = 10.0,
        window: int = 256,
        min_samples: int = 20,
        clock: Clock = time.monotonic,
    ) -> None:
        if not decay > 0:
            raise ConfigError(f"latency decay must be a positive number of seconds, got {decay}")
        if not 1 <= min_samples <= window:
            raise ConfigError(
                f"latency min_samples must be within 1..window ({window}), got {min_samples}"
            )
        self._decay = decay
        self._min_samples = min_samples
        self._clock = clock
        self._lock = threading.Lock()
        self._cost: float | None = None
        self._stamp = 0.0
        self._recent: deque[float] = deque(maxlen=window)
        self._sorted: list[float] = []

    def observe(self, seconds: float) -> None:
        """Book one call that took ``seconds``."""
        if not 0 <= seconds < math.inf:  # also refuses NaN
            raise InvalidInputError(f"a latency is a finite number of seconds >= 0, got {seconds}")
        now = self._clock()
        with self._lock:
            if self._cost is None or seconds > self._cost:
                self._cost = seconds
            else:
                w = self._weight(now)
                self._cost = self._cost * w + seconds * (1.0 - w)
            self._stamp = now
            if len(self._recent) == self._recent.maxlen:
                del self._sorted[bisect_left(self._sorted, self._recent[0])]
            self._recent.append(seconds)
            insort(self._sorted, seconds)

    @property
    def estimate(self) -> float | None:
        """Expected seconds of the next call, or ``None`` before the first sample."""
        now = self._clock()
        with self._lock:
            return None if self._cost is None else self._cost * self._weight(now)

    @property
    def p95(self) -> float | None:
        """95th percentile (nearest rank) of the recent samples; ``None`` until ``min_samples``."""
        with self._lock:
            n = len(self._sorted)
            return None if n < self._min_samples else self._sorted[math.ceil(0.95 * n) - 1]

    def _weight(self, now: float) -> float:
        """How much of the current estimate survives until ``now``."""
        return math.exp(-max(now - self._stamp, 0.0) / self._decay)


class BreakerState(enum.Enum):
    """Where a :class:`CircuitBreaker` stands."""

    CLOSED = "closed"
    """Calls flow."""
    OPEN = "open"
    """Cooling down after consecutive failures: calls are refused."""
    HALF_OPEN = "half_open"
    """Cool-down over: one probe call may go (or is in flight); its outcome decides."""


class CircuitBreaker:
    """Stops sending calls to an endpoint that keeps failing, and lets one probe test it later.

    ``failures`` consecutive failures open the breaker; after ``cooldown`` seconds it is
    half-open and :meth:`allow` returns ``True`` to exactly one caller, the probe. The probe's
    success closes the breaker; its failure opens it for a fresh cool-down. While open, late
    reports from calls that started before it opened are ignored: only the probe decides. A
    probe that never reports (its caller was cancelled) is presumed lost after another
    ``cooldown``, and the next caller becomes the probe, so an endpoint cannot stay shut for good.

    Thread-safe: the sync router reports from worker threads. One lock, no waiting on it beyond
    a few assignments.
    """

    def __init__(
        self, failures: int = 5, cooldown: float = 5.0, *, clock: Clock = time.monotonic
    ) -> None:
        if failures < 1:
            raise ConfigError(f"breaker failures must be at least 1, got {failures}")
        if not cooldown >= 0:
            raise ConfigError(f"breaker cooldown must be >= 0 seconds, got {cooldown}")
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_at: float | None = None

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker turns half-open by itself when its cool-down ends)."""
        with self._lock:
            return self._state(self._clock())

    @property
    def available(self) -> bool:
        """Would :meth:`allow` return ``True`` now? Asking takes no probe (for ranking)."""
        with self._lock:
            return self._available(self._clock())

    def allow(self) -> bool:
        """May a call go now? In the half-open state the one ``True`` makes the caller the probe,
        which must report with :meth:`record_success` or :meth:`record_failure`."""
        with self._lock:
            now = self._clock()
            if not self._available(now):
                return False
            if self._opened_at is not None:
                self._probe_at = now
            return True

    def record_success(self) -> None:
        """A call answered: reset the failure count; a half-open breaker closes."""
        with self._lock:
            state = self._state(self._clock())
            if state is BreakerState.OPEN:
                return
            self._failures = 0
            self._opened_at = self._probe_at = None

    def record_failure(self) -> None:
        """A call failed in a way that counts against the endpoint (see :func:`is_retryable`)."""
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state is BreakerState.OPEN:
                return
            if state is BreakerState.CLOSED:
                self._failures += 1
                if self._failures < self._threshold:
                    return
            self._opened_at, self._probe_at = now, None

    def _state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now < self._opened_at + self._cooldown:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def _available(self, now: float) -> bool:
        state = self._state(now)
        if state is not BreakerState.HALF_OPEN:
            return state is BreakerState.CLOSED
        return self._probe_at is None or now >= self._probe_at + self._cooldown

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value}, failures={self._failures})"


RETRYABLE_STATUS = frozenset({429, *range(500, 600)})
"""HTTP statuses that say "not now" rather than "not this": rate limited, server-side failure."""


def is_retryable(exc: BaseException) -> bool:
    """Might the same call succeed on another endpoint, or on this one a little later?

    ``True`` for :class:`~edgevec.errors.BackendUnavailableError`,
    :class:`~edgevec.errors.BackendTimeoutError` and a :class:`~edgevec.errors.BackendError`
    whose ``status`` is HTTP 429 or 5xx. ``False`` for everything else: invalid input, a missing
    collection or record, an unsupported filter and bad config fail the same way everywhere, an
    authentication failure needs a person, and an error edgevec did not map is a bug to surface
    rather than to repeat.
    """
    if isinstance(exc, AuthenticationError):
        return False
    if isinstance(exc, BackendUnavailableError | BackendTimeoutError):
        return True
    return isinstance(exc, BackendError) and exc.status in RETRYABLE_STATUS


@dataclass(eq=False, slots=True)
class Endpoint:
    """One store the router may call, with what it has learnt about it."""

    name: str
    latency: LatencyTracker = field(default_factory=LatencyTracker)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)

    def record(self, seconds: float, error: BaseException | None = None) -> None:
        """Book one finished call: its duration and its error, if it raised.

        An answer, even an error that is the caller's fault (invalid input, not found), shows
        the endpoint healthy: its latency is observed and its breaker told of a success. A
        retryable error counts as a failure; a timeout's duration is observed too (the true
        latency is at least that), while a fast refusal is not, lest a down endpoint look fast.
        A call that was cancelled (a hedged loser) should not be recorded.
        """
        if error is not None and is_retryable(error):
            if isinstance(error, BackendTimeoutError):
                self.latency.observe(seconds)
            self.breaker.record_failure()
            return
        self.latency.observe(seconds)
        self.breaker.record_success()


def rank(
    endpoints: Iterable[Endpoint], *, home: str | None, last_resort: bool = False
) -> list[str]:
    """The endpoint names in the order to try them.

    Endpoints whose breaker allows a call come first, fastest estimate first. An endpoint never
    measured ranks after every measured one: a number beats a guess, and ``home`` is the guess
    (so with nothing measured the order is ``home``, then the given order). ``home`` also wins
    an exact tie; other ties keep the given order.

    Endpoints whose breaker is open are left out, so a call fails fast rather than wait on a
    region known to be down; with ``last_resort=True`` they follow the others in the same order,
    for a caller that prefers a slim chance to a certain :class:`~edgevec.errors.RoutingError`.
    Ranking takes no half-open probe: call ``breaker.allow()`` before each attempt.
    """
    ready: list[tuple[tuple[bool, float, bool, int], str]] = []
    blocked: list[tuple[tuple[bool, float, bool, int], str]] = []
    for pos, ep in enumerate(endpoints):
        est = ep.latency.estimate
        key = (est is None, 0.0 if est is None else est, ep.name != home, pos)
        (ready if ep.breaker.available else blocked).append((key, ep.name))
    ranked = sorted(ready) + (sorted(blocked) if last_resort else [])
    return [name for _, name in ranked]
