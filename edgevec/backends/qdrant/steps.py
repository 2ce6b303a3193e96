"""What a plan is made of: one client call, built without I/O, with its parser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One client call, built without I/O: run by the sync shell, awaited by the async one."""

    method: str
    kwargs: dict[str, Any]
    parse: Callable[[Any], T]
    action: str
    """What was being done, for error messages."""


def ignore(_: Any) -> None:
    return None
