"""Regional routing, the result cache and federated merge: stores that wrap stores.

The pure parts (:mod:`edgevec.router.policy`, :mod:`edgevec.router.merge`,
:mod:`edgevec.router.cache_key`) do no I/O, so each is tested without an engine; the router
(:mod:`edgevec.router.store`, :mod:`edgevec.router.arouter`) and the cache wrapper build on them.
The router's names load on first use: importing this package (the cache does) needs neither
pydantic nor the router extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgevec.router.arouter import AsyncRouter, AsyncRouterCollection
    from edgevec.router.calls import RegionWriteError
    from edgevec.router.options import RouterOptions
    from edgevec.router.store import Router, RouterCollection

__all__ = [
    "AsyncRouter",
    "AsyncRouterCollection",
    "RegionWriteError",
    "Router",
    "RouterCollection",
    "RouterOptions",
]

_HOMES = {
    "AsyncRouter": "arouter",
    "AsyncRouterCollection": "arouter",
    "RegionWriteError": "calls",
    "Router": "store",
    "RouterCollection": "store",
    "RouterOptions": "options",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'edgevec.router' has no attribute {name!r}")
    return getattr(importlib.import_module(f"edgevec.router.{home}"), name)
