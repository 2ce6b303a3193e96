"""The ``edgevec`` command (also ``python -m edgevec``): demo, index, search, collections,
config check, serve, migrate, bench.

Built on typer and rich, which the ``cli`` extra installs (``demo`` includes it); this module
imports neither, so the console script can say how to install them instead of failing with a
traceback. ``docs/cli.md`` is the reference.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["main"]


def main() -> None:
    """Run the command line; exit 2 with the ``pip install`` line when typer or rich is missing."""
    missing = [m for m in ("typer", "rich") if importlib.util.find_spec(m) is None]
    if missing:
        sys.stderr.write(
            f"the edgevec command needs {' and '.join(missing)}: "
            'pip install "edgevec[cli]" (or "edgevec[demo]" for the demo)\n'
        )
        sys.exit(2)
    from edgevec.cli.app import app

    app(prog_name="edgevec")
