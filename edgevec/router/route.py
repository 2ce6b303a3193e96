"""Where one routed call goes: the ``region=`` / ``regions=`` / ``timeout=`` of a router read.

The router collection's public methods take these extra arguments, check them, and then run the
base class's method unchanged (validation once, at the top); the hooks underneath read the
choice from a context variable. So a wrapper over a router collection (an embedder binding, a
cache) reaches the same hooks and gets the default route: the nearest healthy endpoint.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from edgevec.deadlines import deadline
from edgevec.errors import InvalidInputError

__all__ = ["Regions", "Route", "current_route", "routed"]

Regions = Literal["all"] | Sequence[str]
"""A federated read's regions: ``"all"`` or a list of region names."""


@dataclass(frozen=True, slots=True)
class Route:
    """One call's choice: a named region, several regions (federated), or neither (nearest)."""

    region: str | None = None
    regions: tuple[str, ...] | None = None

    def key(self) -> bytes:
        """This route as part of a result-cache key (the nearest route is the empty one)."""
        if self.region is None and self.regions is None:
            return b""
        return f"|region={self.region}|regions={','.join(self.regions or ())}".encode()


_NEAREST = Route()
_ROUTE: contextvars.ContextVar[Route] = contextvars.ContextVar("edgevec_route", default=_NEAREST)


def current_route() -> Route:
    """The route of the routed call in progress here (nearest outside any)."""
    return _ROUTE.get()


def check_route(names: Sequence[str], region: str | None, regions: Regions | None) -> Route:
    """The :class:`Route` for these arguments, or :class:`InvalidInputError` before any I/O."""
    if region is not None and regions is not None:
        raise InvalidInputError("pass region= (one region) or regions= (federated), not both")
    if region is not None:
        if region not in names:
            raise InvalidInputError(f"unknown region {region!r}; regions: {', '.join(names)}")
        return Route(region=region)
    if regions is None:
        return _NEAREST
    chosen = tuple(names) if regions == "all" else tuple(dict.fromkeys(_region_list(regions)))
    unknown = [r for r in chosen if r not in names]
    if unknown or not chosen:
        raise InvalidInputError(
            f"regions= must be 'all' or a non-empty list of {', '.join(names)}; got {regions!r}"
        )
    return Route(regions=chosen)


def _region_list(regions: Regions) -> list[str]:
    if isinstance(regions, str) or not all(isinstance(r, str) for r in regions):
        raise InvalidInputError(f"regions= must be 'all' or a list of names, got {regions!r}")
    return list(regions)


@contextlib.contextmanager
def routed(
    names: Sequence[str], region: str | None, regions: Regions | None, timeout: float | None
) -> Iterator[None]:
    """Run the block with this route and, given ``timeout``, that deadline (never longer than
    one already in force)."""
    token = _ROUTE.set(check_route(names, region, regions))
    try:
        with deadline(timeout) if timeout is not None else contextlib.nullcontext():
            yield
    finally:
        _ROUTE.reset(token)
