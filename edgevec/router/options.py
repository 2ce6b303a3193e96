"""The options of a router, from code (``edgevec.Router(...)``) or from config.

A config file routes by naming ``backend = "router"``; the ``[router]`` table holds these options
and each ``[router.regions.<name>]`` table is an ordinary backend config (an array of tables,
``[[router.regions.<name>]]``, gives a region several endpoints)::

    backend = "router"

    [router]
    home = "eu"
    timeout = 0.5
    write = "all"

    [router.regions.eu]
    backend = "faiss"

    [router.regions.us]
    backend = "qdrant"
    location = ":memory:"
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgevec.layers import CacheOptions

__all__ = ["RouterOptions", "WritePolicy"]

WritePolicy = Literal["home", "all"]


class RouterOptions(BaseModel):
    """Options of :class:`edgevec.Router` (and of ``connect`` with ``backend = "router"``)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    regions: dict[str, Any] = Field(repr=False, min_length=1)
    """Region name -> a store, a backend config mapping, or a list of them (the region's
    endpoints). Kept out of ``repr``: a config mapping may hold an API key."""
    home: str | None = None
    """The region writes go to under ``write="home"``, and the one reads prefer while measured
    latencies tie; the first region when unset."""
    timeout: float = Field(default=0.5, gt=0)
    """Seconds every routed call may take in total (failover, retries and hedges included),
    unless a ``timeout=`` argument or an :func:`edgevec.deadline` block sets a shorter one."""
    admin_timeout: float = Field(default=30.0, gt=0)
    """Seconds for collection management (create, open, drop, list), which engines take
    longer for than for reads and writes."""
    write: WritePolicy = "home"
    """``"home"``: writes go to the home region; ``"all"``: to every region at once."""
    hedge: bool = False
    """Send a read also to the next-best endpoint once the first is slower than its observed
    p95, and take whichever answers first. Never for writes."""
    attempts: int = Field(default=3, ge=1, le=20)
    """Tries of one call at most (each retryable failure moves to the next endpoint); never
    fewer than the candidate endpoints, so every healthy one is tried once."""
    backoff: float = Field(default=0.002, ge=0)
    """Base of the jittered exponential wait between tries, in seconds."""
    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive retryable failures that open an endpoint's circuit breaker."""
    breaker_cooldown: float = Field(default=5.0, gt=0)
    """Seconds an open breaker waits before it lets one probe call through."""
    clock: Callable[[], float] = Field(default=time.monotonic, repr=False)
    """The breakers' clock (tests inject one instead of sleeping)."""
    cache: CacheOptions | None = None
    """Result cache (``{"ttl": 30, "max_entries": 100_000}``): a repeated query on the same
    route is answered from memory until a write through the router or the TTL; ``None``: no
    cache. Partial answers are never cached."""

    @model_validator(mode="after")
    def _home_is_a_region(self) -> RouterOptions:
        if self.home is not None and self.home not in self.regions:
            raise ValueError(f"home {self.home!r} is not one of the regions")
        return self

    @property
    def home_region(self) -> str:
        """The home region's name (the first region unless ``home`` names one)."""
        return self.home if self.home is not None else next(iter(self.regions))
