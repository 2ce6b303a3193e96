"""``connect`` and ``connect_async``: one constructor for every backend."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edgevec.abase import AsyncBaseStore
from edgevec.base import BaseStore
from edgevec.config import resolve, validate_options
from edgevec.registry import load_backend

if TYPE_CHECKING:
    from edgevec.layers import Layers

__all__ = ["connect", "connect_async"]


def _build(
    target: str | Mapping[str, Any] | None,
    config: str | os.PathLike[str] | None,
    options: Mapping[str, Any],
) -> tuple[type[BaseStore], Any, Layers]:
    from edgevec.layers import split_layers

    backend, opts = resolve(target, config, options)
    backend_opts, layers = split_layers(opts)
    cls = load_backend(backend)
    if backend == "router" and layers.cache is not None:
        # The router caches inside its routed reads: a wrapper's key would not hold the route,
        # and its collections would not take region=/regions=/timeout=.
        backend_opts["cache"] = layers.cache
        layers = layers.model_copy(update={"cache": None})
    return cls, validate_options(cls, backend_opts), layers


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
    ``cache={...}`` and ``telemetry=True`` (in any of these) wrap the store in those layers
    (:mod:`edgevec.layers`). Unknown backends and options raise
    :class:`~edgevec.errors.ConfigError` naming the choices.
    """
    from edgevec.layers import with_layers

    cls, opts, layers = _build(backend, config, options)
    return with_layers(cls(opts), layers)


def connect_async(
    backend: str | Mapping[str, Any] | None = None,
    /,
    *,
    config: str | os.PathLike[str] | None = None,
    **options: Any,
) -> AsyncBaseStore:
    """Async twin of :func:`connect`: ``async with edgevec.connect_async(...) as store``."""
    from edgevec.layers import with_layers_async

    cls, opts, layers = _build(backend, config, options)
    return with_layers_async(cls.open_async(opts), layers)
