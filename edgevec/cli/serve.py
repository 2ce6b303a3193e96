"""``edgevec serve``: the HTTP similarity service of a config file (``edgevec.server``)."""

from __future__ import annotations

from typing import Annotated

import typer

from edgevec.cli.options import ConfigOpt

__all__ = ["serve"]


def serve(
    config: ConfigOpt,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65_535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the config's [service] table over HTTP until interrupted (SIGINT or SIGTERM).

    The store is the one the same file configures; docs/service.md lists the endpoints.
    """
    from edgevec.server import serve as run

    run(config, host=host, port=port)
