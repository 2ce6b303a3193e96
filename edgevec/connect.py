"""``connect`` and ``connect_async``: one constructor for every backend."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from edgevec.abase import AsyncBaseStore
from edgevec.base import BaseStore
from edgevec.config import resolve, validate_options
from edgevec.registry import load_backend

__all__ = ["connect", "connect_async"]


def _build(
    target: str | Mapping[str, Any] | None,
    config: str | os.PathLike[str] | None,
    options: Mapping[str, Any],
) -> tuple[type[BaseStore], Any]:
    backend, opts = resolve(target, config, options)
    cls = load_backend(backend)
    return cls, validate_options(cls, opts)


def connect(
    backend: str | Mapping[str, Any] | None = None,
    /,
    *,
    config: str | os.PathLike[str] | None = None,
    **options: Any,
) -> BaseStore:
    """Open a store by backend name, config dict or TOML file.

    ``connect("faiss", path="./vectors")``, ``connect({"backend": "qdrant", "url": ...})``,
    ``connect(config="edgevec.toml")``; with no arguments, ``$EDGEVEC_CONFIG`` or in-memory FAISS.
    Unknown backends and options raise :class:`~edgevec.errors.ConfigError` naming the choices.
    """
    cls, opts = _build(backend, config, options)
    return cls(opts)


def connect_async(
    backend: str | Mapping[str, Any] | None = None,
    /,
    *,
    config: str | os.PathLike[str] | None = None,
    **options: Any,
) -> AsyncBaseStore:
    """Async twin of :func:`connect`: ``async with edgevec.connect_async(...) as store``."""
    cls, opts = _build(backend, config, options)
    return cls.open_async(opts)
