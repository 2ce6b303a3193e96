"""What every loopback test server shares: ``with Server(...) as server`` starts it and stops it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

from typing_extensions import Self

__all__ = ["Startable"]


class Startable(ABC):
    """A server run from background threads: :meth:`start` returns once it accepts connections,
    :meth:`stop` returns once its threads are done; as a context manager, both around the block."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
