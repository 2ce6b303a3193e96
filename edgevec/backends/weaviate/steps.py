"""What a plan yields: one client call, built without I/O."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """One client call, built without I/O: ``method`` is a dotted attribute path on the client
    (``collection`` is ``None``) or on the handle of Weaviate class ``collection``."""

    method: str
    kwargs: dict[str, Any]
    action: str
    collection: str | None = None


Plan = Generator[Call, Any, T]


def resolve(target: Any, method: str) -> Any:
    for part in method.split("."):
        target = getattr(target, part)
    return target
