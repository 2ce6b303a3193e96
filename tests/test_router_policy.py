"""The router's endpoint policy: latency tracking, circuit breaking, ranking, retryability.

Time is an injected clock advanced by hand, so every rule is checked without sleeping.
"""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgevec.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    CollectionNotFoundError,
    ConfigError,
    CorruptDataError,
    DimensionMismatchError,
    EdgevecError,
    FilterNotSupportedError,
    InvalidInputError,
    PartialWriteError,
    RecordNotFoundError,
    RoutingError,
)
from edgevec.router.policy import (
    BreakerState,
    CircuitBreaker,
    Endpoint,
    LatencyTracker,
    is_retryable,
    rank,
)


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def state(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call, so the type checker does not pin a state across steps that move it."""
    return breaker.state


# -- latency --------------------------------------------------------------------------------


def test_estimate_follows_a_spike_at_once_and_forgets_it_gradually(clock: Clock) -> None:
    lat = LatencyTracker(decay=10.0, clock=clock)
    assert lat.estimate is None
    lat.observe(0.010)
    assert lat.estimate == pytest.approx(0.010)
    lat.observe(0.500)  # a spike replaces the estimate at once
    assert lat.estimate == pytest.approx(0.500)
    lat.observe(0.010)  # at the same instant a fast answer changes nothing
    assert lat.estimate == pytest.approx(0.500)
    clock.advance(10.0)  # one time constant later a fast answer pulls it 1 - 1/e of the way down
    lat.observe(0.010)
    expected = 0.500 / math.e + 0.010 * (1 - 1 / math.e)
    assert lat.estimate == pytest.approx(expected)
    for _ in range(10):
        clock.advance(10.0)
        lat.observe(0.010)
    assert lat.estimate == pytest.approx(0.010, rel=1e-3)


def test_an_idle_estimate_decays_so_the_endpoint_is_tried_again(clock: Clock) -> None:
    lat = LatencyTracker(decay=5.0, clock=clock)
    lat.observe(2.0)
    clock.advance(5.0)
    assert lat.estimate == pytest.approx(2.0 / math.e)
    clock.advance(-10.0)  # a clock that steps back (another thread's stamp) is not growth
    assert lat.estimate == pytest.approx(2.0)


def test_p95_needs_enough_samples_and_reads_the_recent_window(clock: Clock) -> None:
    lat = LatencyTracker(window=100, min_samples=20, clock=clock)
    for ms in range(1, 20):
        lat.observe(ms / 1000)
    assert lat.p95 is None
    lat.observe(0.020)
    assert lat.p95 == pytest.approx(0.019)  # nearest rank: the 19th of 20 values 1..20 ms
    for ms in range(21, 101):
        lat.observe(ms / 1000)
    assert lat.p95 == pytest.approx(0.095)
    for _ in range(100):  # the window forgets the old samples entirely
        lat.observe(0.001)
    assert lat.p95 == pytest.approx(0.001)


def test_latency_tracker_refuses_bad_settings_and_samples() -> None:
    with pytest.raises(ConfigError):
        LatencyTracker(decay=0)
    with pytest.raises(ConfigError):
        LatencyTracker(window=10, min_samples=11)
    lat = LatencyTracker()
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(InvalidInputError):
            lat.observe(bad)
    assert lat.estimate is None


def test_latency_tracker_keeps_its_books_under_concurrent_observers() -> None:
    lat = LatencyTracker(window=64, min_samples=64)
    start = threading.Barrier(8)

    def observe(value: float) -> None:
        start.wait()
        for _ in range(2000):
            lat.observe(value)

    threads = [threading.Thread(target=observe, args=(i / 1000,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lat.p95 in {i / 1000 for i in range(8)}
    assert lat.estimate is not None
    assert 0 <= lat.estimate <= 0.007


# -- circuit breaker ------------------------------------------------------------------------


def test_breaker_opens_after_n_consecutive_failures(clock: Clock) -> None:
    br = CircuitBreaker(failures=3, cooldown=5.0, clock=clock)
    br.record_failure()
    br.record_failure()
    br.record_success()  # the count is of consecutive failures
    br.record_failure()
    br.record_failure()
    assert state(br) is BreakerState.CLOSED
    assert br.allow()
    br.record_failure()
    assert state(br) is BreakerState.OPEN
    assert not br.available
    assert not br.allow()


def test_half_open_breaker_lets_exactly_one_probe_through(clock: Clock) -> None:
    br = CircuitBreaker(failures=1, cooldown=5.0, clock=clock)
    br.record_failure()
    clock.advance(4.999)
    assert not br.allow()
    clock.advance(0.001)
    assert state(br) is BreakerState.HALF_OPEN
    assert br.available  # asking takes no probe
    assert br.allow()
    assert not br.available
    assert not br.allow()
    assert not br.allow()
    br.record_success()
    assert state(br) is BreakerState.CLOSED
    assert all(br.allow() for _ in range(3))


def test_a_failed_probe_reopens_for_a_fresh_cooldown(clock: Clock) -> None:
    br = CircuitBreaker(failures=2, cooldown=5.0, clock=clock)
    br.record_failure()
    br.record_failure()
    clock.advance(5.0)
    assert br.allow()
    clock.advance(1.0)
    br.record_failure()  # one failure is enough when half-open
    assert state(br) is BreakerState.OPEN
    clock.advance(4.9)
    assert not br.allow()
    clock.advance(0.1)
    assert br.allow()
    br.record_success()
    assert state(br) is BreakerState.CLOSED
    br.record_failure()  # closed again: the count starts over
    assert state(br) is BreakerState.CLOSED


def test_late_reports_while_open_do_not_decide(clock: Clock) -> None:
    br = CircuitBreaker(failures=1, cooldown=5.0, clock=clock)
    br.record_failure()
    br.record_success()  # a straggler started before the breaker opened
    assert state(br) is BreakerState.OPEN
    clock.advance(3.0)
    br.record_failure()  # does not extend the cool-down either
    clock.advance(2.0)
    assert state(br) is BreakerState.HALF_OPEN


def test_a_lost_probe_is_replaced_after_another_cooldown(clock: Clock) -> None:
    br = CircuitBreaker(failures=1, cooldown=5.0, clock=clock)
    br.record_failure()
    clock.advance(5.0)
    assert br.allow()  # this probe's caller is cancelled and never reports
    clock.advance(4.0)
    assert not br.allow()
    clock.advance(1.0)
    assert br.allow()
    assert not br.allow()


def test_only_one_of_many_threads_gets_the_probe(clock: Clock) -> None:
    br = CircuitBreaker(failures=1, cooldown=1.0, clock=clock)
    br.record_failure()
    clock.advance(1.0)
    start = threading.Barrier(16)
    results: list[bool] = []
    lock = threading.Lock()

    def ask() -> None:
        start.wait()
        got = [br.allow() for _ in range(100)]
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


# Events: calls asked for and reported, and time passing (cool-down 2 s); failures are
# frequent so that sequences reach the open and half-open states often.
breaker_ops = st.lists(
    st.sampled_from(["allow", "allow", "success", "failure", "failure", 0.5, 1.0, 2.5]),
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(ops=breaker_ops)
def test_breaker_rules_hold_for_any_sequence_of_events(ops: list[str | float]) -> None:
    clock = Clock()
    br = CircuitBreaker(failures=2, cooldown=2.0, clock=clock)
    streak = 0  # consecutive failures reported while closed
    probe_at: float | None = None  # when the current half-open probe was let through
    for op in ops:
        before = state(br)
        if isinstance(op, float):
            clock.advance(op)
        elif op == "allow":
            allowed = br.allow()
            if before is BreakerState.HALF_OPEN and allowed:
                # One probe per cool-down until someone reports.
                assert probe_at is None or clock.now >= probe_at + 2.0
                probe_at = clock.now
            elif before is BreakerState.HALF_OPEN:  # refused only while a probe is out
                assert probe_at is not None
                assert clock.now < probe_at + 2.0
            else:
                assert allowed == (before is BreakerState.CLOSED)
        elif op == "success":
            br.record_success()
            if before is not BreakerState.OPEN:
                assert state(br) is BreakerState.CLOSED
                streak, probe_at = 0, None
        else:
            br.record_failure()
            if before is BreakerState.CLOSED:
                streak += 1
                assert state(br) is (BreakerState.OPEN if streak == 2 else BreakerState.CLOSED)
            elif before is BreakerState.HALF_OPEN:
                assert state(br) is BreakerState.OPEN
            if state(br) is BreakerState.OPEN:
                streak, probe_at = 0, None


def test_breaker_refuses_bad_settings() -> None:
    with pytest.raises(ConfigError):
        CircuitBreaker(failures=0)
    with pytest.raises(ConfigError):
        CircuitBreaker(cooldown=-1.0)
    assert "closed" in repr(CircuitBreaker())


# -- retryability ---------------------------------------------------------------------------

RETRYABLE: list[EdgevecError] = [
    BackendUnavailableError("down"),
    BackendTimeoutError("slow"),
    BackendError("rate limited", status=429),
    BackendError("internal", status=500),
    BackendError("bad gateway", status=599),
]
NOT_RETRYABLE: list[EdgevecError] = [
    BackendError("no status"),
    BackendError("bad request", status=400),
    BackendError("conflict", status=409),
    AuthenticationError("refused", status=503),  # a person must act, whatever the status
    InvalidInputError("bad"),
    DimensionMismatchError("dim"),
    CollectionNotFoundError("gone"),
    RecordNotFoundError("gone"),
    FilterNotSupportedError("op"),
    ConfigError("key"),
    CorruptDataError("checksum"),
    PartialWriteError("half", ["a"], {"b": "x"}),
    RoutingError("nowhere"),
]


@pytest.mark.parametrize("exc", RETRYABLE, ids=repr)
def test_transient_errors_are_retryable(exc: EdgevecError) -> None:
    assert is_retryable(exc)


@pytest.mark.parametrize("exc", NOT_RETRYABLE, ids=repr)
def test_errors_that_would_repeat_are_not(exc: EdgevecError) -> None:
    assert not is_retryable(exc)


def test_unmapped_exceptions_are_not_retried() -> None:
    assert not is_retryable(ConnectionError("a plugin that did not map its error"))
    assert not is_retryable(TimeoutError())


def test_backend_error_status_defaults_to_none_and_keeps_the_message() -> None:
    err = BackendError("boom")
    assert (err.status, str(err)) == (None, "boom")
    assert BackendTimeoutError("late").status is None


# -- endpoints and ranking ------------------------------------------------------------------


def endpoint(name: str, clock: Clock, *failures: int) -> Endpoint:
    return Endpoint(
        name,
        LatencyTracker(clock=clock),
        CircuitBreaker(failures=failures[0] if failures else 2, cooldown=5.0, clock=clock),
    )


def test_record_books_answers_failures_and_timeouts(clock: Clock) -> None:
    ep = endpoint("eu", clock)
    ep.record(0.020, InvalidInputError("the caller's fault"))  # an answer: healthy
    assert ep.latency.estimate == pytest.approx(0.020)
    ep.record(0.001, BackendUnavailableError("refused"))  # a fast refusal is no latency
    assert ep.latency.estimate == pytest.approx(0.020)
    assert state(ep.breaker) is BreakerState.CLOSED
    ep.record(0.500, BackendTimeoutError("late"))  # a timeout: at least that slow
    assert ep.latency.estimate == pytest.approx(0.500)
    assert state(ep.breaker) is BreakerState.OPEN
    clock.advance(5.0)
    assert ep.breaker.allow()
    ep.record(0.030)
    assert state(ep.breaker) is BreakerState.CLOSED


def test_home_first_when_nothing_is_measured(clock: Clock) -> None:
    eps = [endpoint(n, clock) for n in ("us", "ap", "eu")]
    assert rank(eps, home="eu") == ["eu", "us", "ap"]
    assert rank(eps, home=None) == ["us", "ap", "eu"]


def test_measured_endpoints_rank_by_latency_before_unmeasured(clock: Clock) -> None:
    us, ap, eu, sa = (endpoint(n, clock) for n in ("us", "ap", "eu", "sa"))
    us.record(0.080)
    ap.record(0.020)
    assert rank([us, ap, eu, sa], home="eu") == ["ap", "us", "eu", "sa"]
    eu.record(0.020)  # an exact tie: home wins it
    assert rank([us, ap, eu, sa], home="eu") == ["eu", "ap", "us", "sa"]
    eu.record(0.300)
    assert rank([us, ap, eu, sa], home="eu") == ["ap", "us", "eu", "sa"]


def test_open_endpoints_are_left_out_unless_a_last_resort_is_wanted(clock: Clock) -> None:
    eu, us = endpoint("eu", clock, 1), endpoint("us", clock, 1)
    eu.record(0.010)
    us.record(0.050)
    eu.record(0.010, BackendUnavailableError("down"))
    assert rank([eu, us], home="eu") == ["us"]
    assert rank([eu, us], home="eu", last_resort=True) == ["us", "eu"]
    us.record(0.010, BackendUnavailableError("down"))
    assert rank([eu, us], home="eu") == []
    assert rank([eu, us], home="eu", last_resort=True) == ["eu", "us"]
    clock.advance(5.0)
    assert rank([eu, us], home="eu") == ["eu", "us"]  # both half-open; ranking took no probe
    assert eu.breaker.allow()
    assert rank([eu, us], home="eu") == ["us"]
