"""Whether a store and the collection handles it gave out may still reach the engine.

The base classes (sync and async alike) check these flags at the top of every public method, so
"closed means closed" and "dropped means gone" hold for every backend and every wrapper without
a line of backend code: a wrapper shares the state of the handle it wraps.
"""

from __future__ import annotations

from edgevec.errors import CollectionNotFoundError, StoreClosedError

__all__ = ["HandleState", "StoreState"]


class StoreState:
    """One per store: set closed once, by ``close()``, and never reopened."""

    __slots__ = ("backend", "closed")

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.closed = False

    def check(self) -> None:
        """Raise :class:`StoreClosedError` if the store was closed."""
        if self.closed:
            raise StoreClosedError(f"this {self.backend} store is closed")


class HandleState:
    """One per collection handle: its store's state plus whether the store dropped it.

    A handle nobody registered (built directly, outside a store) gets a state of its own that
    never closes, so backends and tests may still construct collections by hand.
    """

    __slots__ = ("dropped", "name", "store")

    def __init__(self, store: StoreState, name: str) -> None:
        self.store = store
        self.name = name
        self.dropped = False

    def check(self) -> None:
        """Raise :class:`StoreClosedError` or :class:`CollectionNotFoundError` before any I/O."""
        if self.store.closed:
            raise StoreClosedError(
                f"collection {self.name!r} belongs to a {self.store.backend} store that is closed"
            )
        if self.dropped:
            raise CollectionNotFoundError(
                f"collection {self.name!r} was dropped; create it again for a new handle"
            )
