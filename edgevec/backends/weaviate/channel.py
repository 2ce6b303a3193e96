"""edgevec's deadline and fail-fast on weaviate-client's gRPC channels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
from weaviate.connect.base import ConnectionParams, ProtocolParams

from edgevec.deadlines import current

if TYPE_CHECKING:
    from weaviate.config import GrpcConfig


class DeadlineError(Exception):
    """The operation's deadline passed before an RPC could be sent."""


class FailFastError(Exception):
    """An RPC failed with ``UNAVAILABLE``. Raised in place of the gRPC error, which
    weaviate-client would retry with back-off for about a minute; it holds that error."""

    def __init__(self, error: Any) -> None:
        details = error.details() if callable(getattr(error, "details", None)) else error
        super().__init__(f"gRPC UNAVAILABLE: {details}")
        self.error = error


def _clip(timeout: float | None) -> float | None:
    """An RPC timeout no later than the deadline the driver runs the operation under."""
    deadline = current()
    if deadline is None:
        return timeout
    left = deadline.left()
    if left <= 0:
        raise DeadlineError
    return left if timeout is None else min(timeout, left)


class _CallDetails(grpc.ClientCallDetails):  # type: ignore[misc]  # grpc is untyped
    def __init__(self, base: Any, timeout: float | None) -> None:
        self.method = base.method
        self.timeout = timeout
        self.metadata = base.metadata
        self.credentials = base.credentials
        self.wait_for_ready = base.wait_for_ready
        self.compression = base.compression


class _FailFastInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Sync channels: clip timeouts to the deadline, fail at once on ``UNAVAILABLE``."""

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        outcome = continuation(_CallDetails(details, _clip(details.timeout)), request)
        if outcome.code() == grpc.StatusCode.UNAVAILABLE:
            raise FailFastError(outcome)
        return outcome


class _FailFastAioCallable:
    """One async unary method: same clipping and fail-fast, as a coroutine."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __call__(self, request: Any, *, timeout: float | None = None, **kwargs: Any) -> Any:
        return self._call(request, timeout, kwargs)

    async def _call(self, request: Any, timeout: float | None, kwargs: dict[str, Any]) -> Any:
        try:
            return await self._inner(request, timeout=_clip(timeout), **kwargs)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise FailFastError(exc) from exc
            raise


class _FailFastAioChannel(grpc.aio.Channel):  # type: ignore[misc]
    """An async channel whose unary methods fail fast (aio channels take interceptors only when
    they are built, and weaviate-client builds its own)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aenter__(self) -> _FailFastAioChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        await self._inner.close(grace)

    def get_state(self, try_to_connect: bool = False) -> Any:
        return self._inner.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: Any) -> None:
        await self._inner.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._inner.channel_ready()

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _FailFastAioCallable(self._inner.unary_unary(*args, **kwargs))

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.unary_stream(*args, **kwargs)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream_unary(*args, **kwargs)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream_stream(*args, **kwargs)


class _FailFastParams(ConnectionParams):
    """Connection parameters whose gRPC channels fail fast and respect edgevec's deadline."""

    def _grpc_channel(
        self,
        proxies: dict[str, str],
        grpc_msg_size: int | None,
        is_async: bool,
        grpc_config: GrpcConfig | None = None,
    ) -> Any:
        channel = super()._grpc_channel(proxies, grpc_msg_size, is_async, grpc_config)
        if is_async:
            return _FailFastAioChannel(channel)
        return grpc.intercept_channel(channel, _FailFastInterceptor())


if not callable(getattr(ConnectionParams, "_grpc_channel", None)):  # pragma: no cover
    raise ImportError(
        "this weaviate-client has no ConnectionParams._grpc_channel, which edgevec wraps to bound "
        'retries; install a supported version: pip install "edgevec[weaviate]"'
    )


def fail_fast_params(http: ProtocolParams, rpc: ProtocolParams) -> ConnectionParams:
    """Connection parameters whose gRPC channels fail fast and respect edgevec's deadline.

    The one place edgevec relies on a weaviate-client internal: the client builds every gRPC
    channel in ``ConnectionParams._grpc_channel``, which the returned parameters override. A
    client release that renames it fails at import; one that changes its signature fails
    ``tests/test_weaviate.py``'s channel-hook test.
    """
    return _FailFastParams(http=http, grpc=rpc)
