"""``edgevec demo``: build the demo store from the bundled sample and show what it finds."""

from __future__ import annotations

import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from edgevec.cli.output import out, progress, report_rejected, seconds, show_hits, show_table
from edgevec.demo import DemoResult, run_demo, write_config

__all__ = ["demo"]


def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where to build the store (default: a new temporary folder, kept afterwards).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Build a local FAISS store from the bundled sample data and query it.

    The bundled models embed the sample images and sentences (two collections), sample queries
    run against each, and the command that serves the store over HTTP is printed last.
    """
    config = write_config(directory or Path(tempfile.mkdtemp(prefix="edgevec-demo-")))
    with progress() as bars:

        def track(description: str, total: int) -> Callable[[int], object]:
            task = bars.add_task(description, total=total)
            return lambda n: bars.advance(task, n)

        result = run_demo(config, track)
    _show(result)


def _show(result: DemoResult) -> None:
    console = out()
    for part in result.parts:
        for q in part.queries:
            show_hits(f"{part.kind} query {q.query!r}", q.hits)
    rows = [
        (
            part.collection,
            part.count,
            seconds(part.load_model_s),
            seconds(part.report.embed_s),
            seconds(part.report.write_s),
            seconds(sum(q.seconds for q in part.queries) / len(part.queries)),
        )
        for part in result.parts
    ]
    headers = ("collection", "records", "load model", "embed", "index", "query (mean)")
    show_table("Per-stage timings", headers, rows)
    for part in result.parts:
        report_rejected(part.report.rejected)
    console.print(f"Store and config in {result.directory}", soft_wrap=True)
    console.print("Serve the image collection over HTTP on 127.0.0.1:8000:")
    command = f"{_invocation()} serve --config {shlex.quote(str(result.config))}"
    console.print(f"  {command}", soft_wrap=True, markup=False)


def _invocation() -> str:
    """This command as the user started it (``.venv/bin/edgevec``, or this Python with
    ``-m edgevec``), so the printed line runs as it is, in or out of an activated venv."""
    if Path(sys.argv[0]).stem == "edgevec":
        return shlex.quote(sys.argv[0])
    return f"{shlex.quote(sys.executable)} -m edgevec"
