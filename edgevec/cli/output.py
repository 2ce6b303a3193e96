"""How the commands print: results and summaries on stdout (rich tables, or JSON for scripts);
progress bars, notes about skipped inputs and errors on stderr, so ``--json`` output pipes
cleanly. User text (ids, paths, payloads) is never read as rich markup."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from edgevec.types import Hits

if TYPE_CHECKING:
    from edgevec.cli.ingest import Rejected

__all__ = [
    "err",
    "hits_json",
    "out",
    "print_json",
    "progress",
    "report_rejected",
    "seconds",
    "show_hits",
    "show_table",
]


def out() -> Console:
    """The results console (stdout). Made per call: tests and pipes swap ``sys.stdout``."""
    return Console(file=sys.stdout)


def err() -> Console:
    """The console for progress, notes and errors (stderr)."""
    return Console(file=sys.stderr)


def progress() -> Progress:
    """A progress bar on stderr: description, bar, done/total, elapsed, remaining."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err(),
    )


def seconds(s: float) -> str:
    """``12.3 ms`` below a second, ``1.23 s`` above."""
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def _payload_text(payload: Any) -> str:
    return "" if payload is None else orjson.dumps(payload).decode()


def _titled(title: str, body: Table) -> None:
    """Print ``title`` on its own unwrapped line (it may hold a long path), then ``body``."""
    console = out()
    console.print(title, style="bold", soft_wrap=True, markup=False, highlight=False)
    console.print(body)


def show_hits(title: str, hits: Hits) -> None:
    """One row per hit: rank, id, score, payload (as JSON)."""
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("id", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("payload", overflow="fold")
    for rank, hit in enumerate(hits, 1):
        table.add_row(str(rank), Text(hit.id), f"{hit.score:.4f}", Text(_payload_text(hit.payload)))
    _titled(title, table)


def hits_json(hits: Hits) -> list[dict[str, Any]]:
    """The hits as the service returns them: ``[{"id", "score", "payload"}]``."""
    return [{"id": h.id, "score": h.score, "payload": h.payload} for h in hits]


def print_json(value: Any) -> None:
    """``value`` as one line of JSON on stdout (numpy scalars included)."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")


def show_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain table of strings, under its title."""
    table = Table()
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text(str(c)) for c in row))  # plain text: "[service]" is not markup
    _titled(title, table)


def report_rejected(rejected: Iterable[Rejected]) -> None:
    """One yellow line on stderr per input an ingest left out."""
    console = err()
    for bad in rejected:
        console.print(
            f"[yellow]skipped[/yellow] {escape(f'{bad.where}: {bad.reason}')}", soft_wrap=True
        )
