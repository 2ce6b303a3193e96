"""The plan driver's runners on a stand-in vendor client: ordering, gather concurrency, the
deadline during a call and during a backoff sleep, error mapping and the telemetry hook."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import numpy as np
import pytest

import edgevec
from edgevec.deadlines import current
from edgevec.driver import (
    Call,
    CallEvent,
    Engine,
    Gather,
    Plan,
    Sleep,
    add_listener,
    arun,
    run,
    single,
)
from edgevec.errors import (
    BackendError,
    BackendTimeoutError,
    CollectionNotFoundError,
    EdgevecError,
    InvalidInputError,
)


class VendorError(Exception):
    pass


class Client:
    """A vendor client stand-in: records calls and the most requests in flight at once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.log: list[str] = []
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def _enter(self, name: str) -> None:
        with self.lock:
            self.log.append(name)
            self.active += 1
            self.peak = max(self.peak, self.active)

    def _leave(self) -> None:
        with self.lock:
            self.active -= 1

    def echo(self, value: Any, delay: float | None = None) -> Any:
        self._enter(f"echo {value}")
        time.sleep(self.delay if delay is None else delay)
        self._leave()
        return value

    def fail(self, message: str) -> Any:
        raise VendorError(message)

    async def aecho(self, value: Any, delay: float | None = None) -> Any:
        self._enter(f"echo {value}")
        try:
            await asyncio.sleep(self.delay if delay is None else delay)
        finally:
            self._leave()
        return value

    async def afail(self, message: str) -> Any:
        raise VendorError(message)


def errors(exc: Exception, action: str) -> EdgevecError | None:
    if isinstance(exc, VendorError):
        if "404" in str(exc):
            return CollectionNotFoundError(f"could not {action}: not found")
        return BackendError(f"could not {action}: {exc}")
    return None


def sync_engine(client: Client, timeout: float = 5.0, threads: int = 1) -> Engine[object]:
    def resolve(call: Call[Any]) -> Callable[..., object]:
        fn: Callable[..., object] = getattr(client, call.method)
        return fn

    return Engine(backend="test", resolve=resolve, errors=errors, timeout=timeout, threads=threads)


def async_engine(client: Client, timeout: float = 5.0) -> Engine[Awaitable[object]]:
    def resolve(call: Call[Any]) -> Callable[..., Awaitable[object]]:
        fn: Callable[..., Awaitable[object]] = getattr(client, "a" + call.method)
        return fn

    return Engine(backend="test", resolve=resolve, errors=errors, timeout=timeout)


def echo(value: Any, delay: float | None = None) -> Call[Any]:
    kwargs: dict[str, Any] = {"value": value}
    if delay is not None:
        kwargs["delay"] = delay
    return Call("echo", kwargs, f"echo {value}")


def sequence() -> Plan[list[Any]]:
    a = yield echo(1)
    b = yield Call("echo", {"value": 2}, "echo", parse=lambda v: v * 10)
    try:
        yield Call("fail", {"message": "boom"}, "fail on purpose")
    except BackendError as err:
        c = str(err)
    return [a, b, c]


def fanout(n: int, delay: float) -> Plan[list[Any]]:
    results: list[Any] = yield Gather([single(echo(i, delay)) for i in range(n)])
    return results


@pytest.fixture
def events() -> Iterator[list[CallEvent]]:
    seen: list[CallEvent] = []
    remove = add_listener(seen.append)
    yield seen
    remove()


def test_sync_runner_sends_results_and_throws_mapped_errors_in_order() -> None:
    client = Client()
    assert run(sequence(), sync_engine(client)) == [1, 20, "could not fail on purpose: boom"]
    assert client.log == ["echo 1", "echo 2"]


def test_async_runner_sends_results_and_throws_mapped_errors_in_order() -> None:
    client = Client()
    result = asyncio.run(arun(sequence(), async_engine(client)))
    assert result == [1, 20, "could not fail on purpose: boom"]


def test_mapped_error_is_chained_and_unmapped_error_passes_through() -> None:
    client = Client()
    with pytest.raises(BackendError) as info:
        run(single(Call("fail", {"message": "x"}, "do x")), sync_engine(client))
    assert isinstance(info.value.__cause__, VendorError)
    with pytest.raises(AttributeError):  # not the vendor's: not mapped
        run(single(Call("nope", {}, "do nothing")), sync_engine(client))


def test_missing_ok_turns_not_found_into_none() -> None:
    call: Call[Any] = Call("fail", {"message": "404"}, "look", missing_ok=True)
    assert run(single(call), sync_engine(Client())) is None
    assert asyncio.run(arun(single(call), async_engine(Client()))) is None


def test_async_gather_runs_requests_concurrently() -> None:
    client = Client()
    start = time.monotonic()
    result = asyncio.run(arun(fanout(20, 0.2), async_engine(client)))
    assert result == list(range(20))
    assert client.peak == 20
    assert time.monotonic() - start < 2.0  # 20 x 0.2 s in sequence would be 4 s


def test_sync_gather_uses_threads_when_the_engine_allows() -> None:
    client = Client()
    assert run(fanout(4, 0.1), sync_engine(client, threads=4)) == [0, 1, 2, 3]
    assert client.peak == 4
    sequential = Client()
    assert run(fanout(3, 0.0), sync_engine(sequential)) == [0, 1, 2]
    assert sequential.peak == 1


def test_async_deadline_cancels_a_slow_call_and_the_rest_of_a_gather() -> None:
    client = Client()

    def plan() -> Plan[list[Any]]:
        plans = [single(echo(0, 5.0))] + [single(echo(i, 0.01)) for i in range(1, 5)]
        out: list[Any] = yield Gather(plans)
        return out

    start = time.monotonic()
    with pytest.raises(BackendTimeoutError, match=r"0\.3 s deadline"):
        asyncio.run(arun(plan(), async_engine(client, timeout=0.3)))
    assert 0.25 < time.monotonic() - start < 1.5
    assert client.active == 0  # the straggler was cancelled


def test_sync_deadline_stops_the_next_call() -> None:
    def plan() -> Plan[None]:
        yield echo(1, 0.3)
        yield echo(2, 0.0)

    client = Client()
    with pytest.raises(BackendTimeoutError):
        run(plan(), sync_engine(client, timeout=0.2))
    assert client.log == ["echo 1"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_backoff_sleep_past_the_deadline_raises_at_once(mode: str) -> None:
    def plan() -> Plan[None]:
        yield echo(1)
        yield Sleep(10.0, "back off")

    def go() -> None:
        if mode == "sync":
            run(plan(), sync_engine(Client(), timeout=1.0))
        else:
            asyncio.run(arun(plan(), async_engine(Client(), timeout=1.0)))

    start = time.monotonic()
    with pytest.raises(BackendTimeoutError, match="back off"):
        go()
    assert time.monotonic() - start < 0.5


def test_user_deadline_overrides_the_store_timeout_and_nests_shorter() -> None:
    with edgevec.deadline(0.2):
        outer = current()
        with edgevec.deadline(60):
            assert current() is outer  # a nested deadline never extends the outer one
        with pytest.raises(BackendTimeoutError, match=r"0\.2 s deadline"):
            asyncio.run(arun(single(echo(1, 2.0)), async_engine(Client(), timeout=60)))
    assert current() is None
    with pytest.raises(InvalidInputError), edgevec.deadline(0):
        pass


def test_listener_sees_every_call_with_its_outcome(events: list[CallEvent]) -> None:
    run(sequence(), sync_engine(Client()))
    assert [(e.backend, e.operation, e.error) for e in events] == [
        ("test", "echo", None),
        ("test", "echo", None),
        ("test", "fail", BackendError),
    ]
    assert all(e.seconds >= 0 for e in events)


def test_a_failing_listener_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def bad(event: CallEvent) -> None:
        raise RuntimeError("listener bug")

    remove = add_listener(bad)
    try:
        assert run(single(echo(7)), sync_engine(Client())) == 7
    finally:
        remove()
    assert "listener" in caplog.text


@pytest.mark.skipif(
    importlib.util.find_spec("faiss") is None,
    reason='needs the faiss extra: pip install "edgevec[faiss]"',
)
async def test_faiss_async_reads_stop_waiting_at_the_deadline() -> None:
    """FAISS serves async calls from worker threads; a read stuck behind a writer (here: the
    collection's write lock held) gives up at the user's deadline."""
    store = edgevec.connect_async("faiss")
    coll = await store.create_collection("slow", dim=2, metric="l2")
    await coll.upsert([edgevec.Record("a", np.ones(2, np.float32))])
    lock = coll.sync._lock  # type: ignore[attr-defined]  # the FAISS collection's own lock
    with lock.write():
        start = time.monotonic()
        with edgevec.deadline(0.2), pytest.raises(BackendTimeoutError, match="query"):
            await coll.query(np.ones(2, np.float32), k=1)
        assert time.monotonic() - start < 1.0
    assert (await coll.query(np.ones(2, np.float32), k=1)).ids == ["a"]
    await store.close()
