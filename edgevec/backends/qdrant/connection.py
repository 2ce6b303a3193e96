"""Building a Qdrant client: checked hosts, the local-mode directory lock, client arguments."""

from __future__ import annotations

import math
from typing import Any

import httpx
from qdrant_client import AsyncQdrantClient, QdrantClient

from edgevec.backends._endpoints import agree
from edgevec.backends._local import DirLock
from edgevec.backends.qdrant.options import QdrantOptions, server_endpoint, server_url
from edgevec.errors import ConfigError


def check_client(client: QdrantClient | AsyncQdrantClient, opts: QdrantOptions) -> None:
    """Re-check, on the constructed client, the hosts its REST and gRPC channels will use.

    qdrant-client joins the url's path onto the base URL (``//host`` there would change the
    host) and keeps its own copy of host and port for gRPC.
    """
    if opts.url is None:
        return
    ep = server_endpoint(opts)
    remote = client._client
    try:
        rest = httpx.URL(getattr(remote, "rest_uri", ""))
        agree((ep.host, ep.port), (rest.host, rest.port), "url", "qdrant-client's REST base URL")
        grpc_host = getattr(remote, "_host", None)
        agree((ep.host, None), (grpc_host, None), "url", "qdrant-client's gRPC target")
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"invalid config for backend 'qdrant': {exc}") from None


def path_lock(path: str) -> DirLock:
    # qdrant-client locks the folder itself, but on finding it taken it raises without closing
    # its lock file (a ResourceWarning later); our lock first gives a clean error instead.
    return DirLock(
        path,
        ".edgevec.lock",
        f"Qdrant storage {path} is in use by another store; local mode allows one client per "
        "folder (use a Qdrant server for shared access)",
    )


def client_kwargs(opts: QdrantOptions) -> dict[str, Any]:
    """Keyword arguments for ``QdrantClient`` and ``AsyncQdrantClient`` alike."""
    if opts.path is not None:
        # Calls are serialised by the store's lock, so SQLite's same-thread guard only gets in
        # the way of stores used from worker threads.
        return {"path": opts.path, "force_disable_check_same_thread": True}
    if opts.url is None:
        return {"location": ":memory:"}
    return {
        "url": server_url(opts),
        "api_key": None if opts.api_key is None else opts.api_key.get_secret_value(),
        "prefer_grpc": opts.prefer_grpc,
        "grpc_port": opts.grpc_port,
        "timeout": math.ceil(opts.timeout),
        "check_compatibility": opts.check_compatibility,
    }
