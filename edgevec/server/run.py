"""``serve``: the service from a config file, under uvicorn, with a graceful stop."""

from __future__ import annotations

import os
from pathlib import Path

from edgevec.backends._local import is_loopback
from edgevec.connect import connect_async
from edgevec.errors import ConfigError
from edgevec.server.app import build_app
from edgevec.server.settings import load_service_settings

__all__ = ["serve"]


def serve(
    config: str | os.PathLike[str] | Path, *, host: str = "127.0.0.1", port: int = 8000
) -> None:
    """Serve the config file's ``[service]`` table over HTTP until SIGINT or SIGTERM.

    The store is whatever the file's backend section builds (``connect_async(config=...)``),
    opened inside the server's event loop, warmed up before the port accepts connections, and
    closed after the last request. On a stop signal the server stops accepting, lets in-flight
    requests finish for up to ``shutdown_timeout`` seconds, then exits. A service without API keys
    may only listen on a loopback address.
    """
    import uvicorn

    settings = load_service_settings(config)
    if not settings.api_keys and not is_loopback(host):
        raise ConfigError(
            f"[service] has no api_keys: it may listen on a loopback address only, not {host!r}"
        )
    app = build_app(lambda: connect_async(config=config), settings, close_store=True)
    uvicorn.run(
        app, host=host, port=port, timeout_graceful_shutdown=settings.shutdown_timeout,
        log_level="info", server_header=False,
    )  # fmt: skip
