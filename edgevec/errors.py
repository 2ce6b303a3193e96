"""The one exception tree edgevec raises.

Every error is an :class:`EdgevecError`; errors caused by a lower layer (a vendor client, the
file system) are chained with ``raise ... from exc`` so the original stays inspectable. Where a
standard exception type fits too (``ValueError``, ``ImportError``, ``LookupError``,
``TimeoutError``) the edgevec error also derives from it, so generic handlers keep working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgevec.migrate import VerifyReport

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "ConfigError",
    "CorruptDataError",
    "DimensionMismatchError",
    "EdgevecError",
    "EmbedderMismatchError",
    "FilterNotSupportedError",
    "InvalidImageError",
    "InvalidInputError",
    "InvalidVectorError",
    "MissingDependencyError",
    "ModelIntegrityError",
    "PartialWriteError",
    "RecordNotFoundError",
    "RoutingError",
    "StoreClosedError",
    "VerificationError",
]


class EdgevecError(Exception):
    """Base of every error edgevec raises."""


class ConfigError(EdgevecError, ValueError):
    """A backend name, option or config file is invalid; the message names the bad key."""


class EmbedderMismatchError(ConfigError):
    """A collection was opened with an embedder other than the one that made its vectors.

    The message names both fingerprints; mixing vectors of two models would return silent garbage.
    """


class MissingDependencyError(EdgevecError, ImportError):
    """An optional extra is not installed; the message says which ``pip install`` fixes it."""


class ModelIntegrityError(EdgevecError):
    """A model file's SHA-256 is not the pinned one (tampered or damaged): it was not loaded."""


class InvalidInputError(EdgevecError, ValueError):
    """An argument (id, payload, filter, ``k``, ...) is invalid. Nothing was written."""


class DimensionMismatchError(InvalidInputError):
    """A vector's length differs from the collection's dimension."""


class InvalidVectorError(InvalidInputError):
    """A vector holds NaN/Inf, is not numeric, or is zero under the cosine metric."""


class InvalidImageError(InvalidInputError):
    """An image is malformed, truncated, too large or of a format that is not allowed."""


class FilterNotSupportedError(EdgevecError):
    """The backend cannot run this filter; raised before any request is sent."""


class CollectionNotFoundError(EdgevecError, LookupError):
    """The named collection does not exist."""


class RecordNotFoundError(EdgevecError, LookupError):
    """A call that needs one existing record (``query_by_id``) named an id that is not stored."""


class CollectionExistsError(EdgevecError):
    """A collection of that name exists (or exists with a different dimension or metric)."""


class StoreClosedError(EdgevecError):
    """The store was closed: it and every collection handle from it refuse further calls.

    Closed means closed: a late write through an old handle would land outside the store's locks.
    """


class BackendError(EdgevecError):
    """The engine or its client failed.

    ``status`` is the HTTP status the engine answered with, when there was one: it tells a
    passing overload (429, 5xx), worth retrying elsewhere, from a refusal that would repeat.
    """

    def __init__(self, *args: object, status: int | None = None) -> None:
        super().__init__(*args)
        self.status = status


class BackendUnavailableError(BackendError):
    """The engine could not be reached."""


class BackendTimeoutError(BackendError, TimeoutError):
    """The engine did not answer within the deadline."""


class AuthenticationError(BackendError):
    """The engine refused the credentials."""


class PartialWriteError(BackendError):
    """A write that took several requests was applied in part.

    ``written`` holds the ids the engine acknowledged; ``failed`` maps every other id of the call
    to the reason (an id whose request failed may or may not have been applied). Upserts are
    idempotent, so retrying the whole call is safe.
    """

    def __init__(self, message: str, written: Iterable[str], failed: Mapping[str, str]) -> None:
        super().__init__(message)
        self.written = tuple(written)
        self.failed = dict(failed)


class CorruptDataError(BackendError):
    """Stored data failed validation (checksum, size, dimension or count) when loaded."""


class RoutingError(EdgevecError):
    """No region or endpoint could serve the call."""


class VerificationError(EdgevecError):
    """A migrated collection differs from its source; ``report`` says how (counts, and the
    sampled ids missing or holding another vector or payload)."""

    def __init__(self, report: VerifyReport) -> None:
        super().__init__(report.describe())
        self.report = report
