"""Options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["CollectionOpt", "ConfigOpt", "JsonOpt"]

ConfigOpt = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        envvar="EDGEVEC_CONFIG",
        help="The store's TOML config file (as for edgevec.connect(config=...)).",
        dir_okay=False,
    ),
]
CollectionOpt = Annotated[str, typer.Option("--collection", help="Collection name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, for scripts.")]
