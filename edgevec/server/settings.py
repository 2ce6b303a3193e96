"""The ``[service]`` table: what ``edgevec serve`` exposes, and to whom.

It sits in the same TOML file as the store's config, so one file describes a whole deployment::

    backend = "faiss"

    [faiss]
    path = "./vectors"

    [service]
    collection = "photos"
    embedder = "image"
    api_keys = [{ env = "EDGEVEC_API_KEY" }]   # or literal strings; [] turns auth off

Keys are :class:`pydantic.SecretStr`, so neither the settings' repr nor a validation error ever
shows one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from edgevec.config import parse_options, read_section

__all__ = ["ServiceSettings", "load_service_settings"]

MiB = 2**20


class ServiceSettings(BaseModel):
    """Options of the HTTP service (the ``[service]`` table of a config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collection: str
    """The collection every endpoint reads and writes."""
    embedder: Literal["image", "text"] = "image"
    """The bundled model whose vectors the collection holds (its fingerprint is checked)."""
    api_keys: tuple[SecretStr, ...]
    """Bearer keys accepted on every endpoint but the health checks. Required, so that an open
    service is a decision (``api_keys = []``), never an omission."""
    max_body_bytes: int = Field(10 * MiB, ge=1)
    """Larger request bodies get 413, refused on Content-Length before any byte is read."""
    max_k: int = Field(100, ge=1, le=10_000)
    """The largest top-k a request may ask for (more is a 400)."""
    writes: bool = False
    """Whether ``POST /upsert`` and ``DELETE /items`` exist at all."""
    max_batch: int = Field(16, ge=1, le=256)
    """The most concurrent requests' items embedded in one model call (see
    :mod:`edgevec.server.batching`)."""
    shutdown_timeout: int = Field(30, ge=1)
    """Seconds a stopping server gives in-flight requests to finish."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_from_environment(cls, value: Any) -> Any:
        """``{ env = "NAME" }`` entries read the key from the environment (at load time)."""
        if not isinstance(value, list | tuple):
            return value
        keys = []
        for entry in value:
            if isinstance(entry, dict) and set(entry) == {"env"}:
                name = entry["env"]
                if not isinstance(name, str) or not os.environ.get(name):
                    raise ValueError(f"environment variable {name!r} is not set (or empty)")
                entry = os.environ[name]
            keys.append(entry)
        return keys

    @field_validator("api_keys")
    @classmethod
    def _keys_not_blank(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(not key.get_secret_value().strip() for key in value):
            raise ValueError("an API key is empty")
        return value

    def keys(self) -> list[bytes]:
        """The accepted keys as bytes, for a constant-time comparison."""
        return [key.get_secret_value().encode() for key in self.api_keys]


def load_service_settings(path: str | os.PathLike[str] | Path) -> ServiceSettings:
    """Read and validate the ``[service]`` table of a config file.

    A bad key or value is a :class:`~edgevec.errors.ConfigError` naming it (never echoing a key).
    """
    table = read_section(path, "service")
    return parse_options(ServiceSettings, table, f"[service] table in {os.fspath(path)!r}")
