"""Qdrant Edge failures mapped to edgevec's typed errors.

The engine raises plain ``Exception`` with a message (``Service runtime error: ...``), so the
message is what tells a locked shard from any other failure.
"""

from __future__ import annotations

from edgevec.errors import BackendError, BackendUnavailableError, EdgevecError

__all__ = ["engine_error"]


def engine_error(exc: Exception, action: str) -> EdgevecError:
    """The edgevec error for an engine exception raised while doing ``action``."""
    text = str(exc)[:300]
    if "WouldBlock" in text:
        # The shard's write-ahead log is locked: another process (or another store in this
        # one) has the shard open. The same error the FAISS directory lock gives.
        return BackendUnavailableError(
            f"could not {action}: the shard is open elsewhere (Qdrant Edge allows one process "
            f"per shard directory): {text}"
        )
    return BackendError(f"could not {action}: {type(exc).__name__}: {text}")
