"""What a plan is made of: one client call, built without I/O, with its parser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from edgevec.driver import Call, Plan, single

T = TypeVar("T")


def call(method: str, kwargs: dict[str, Any], parse: Callable[[Any], T], action: str) -> Plan[T]:
    """The plan of one client call (Qdrant answers a whole query batch in one request)."""
    return single(Call(method, kwargs, action, parse))


def ignore(_: Any) -> None:
    return None
