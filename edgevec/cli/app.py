"""The typer application: global options, error reporting, and the commands' registration.

An edgevec error ends a command with one red line on stderr and a typed exit status -- 2 when
the input or setup is wrong (config, arguments, filter, missing extra), 1 when the engine or the
data failed -- and no traceback unless ``--debug`` is given. Click's own usage errors also exit 2.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from edgevec import __version__
from edgevec.cli import bench, collections, demo, index, migrate, search, serve
from edgevec.cli import config as config_cmd
from edgevec.cli.output import err
from edgevec.errors import (
    ConfigError,
    EdgevecError,
    FilterNotSupportedError,
    InvalidInputError,
    MissingDependencyError,
)

__all__ = ["EXIT_RUNTIME", "EXIT_USAGE", "app", "exit_code"]

EXIT_USAGE = 2
EXIT_RUNTIME = 1
_USAGE_ERRORS = (ConfigError, InvalidInputError, MissingDependencyError, FilterNotSupportedError)


def exit_code(exc: EdgevecError) -> int:
    """2 for a wrong input or setup, 1 for a failure of the engine or the stored data."""
    return EXIT_USAGE if isinstance(exc, _USAGE_ERRORS) else EXIT_RUNTIME


class _ReportingGroup(TyperGroup):
    """Runs every subcommand (nested groups too: they run inside this ``invoke``) and turns an
    edgevec error into its one-line report."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context
        try:
            return super().invoke(ctx)
        except EdgevecError as exc:
            if ctx.params.get("debug"):
                raise
            err().print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(exit_code(exc)) from None


app = typer.Typer(
    cls=_ReportingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgevec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """edgevec: vector similarity over FAISS, Qdrant, Milvus, Pinecone and Weaviate."""


app.command()(demo.demo)
app.command()(index.index)
app.command()(search.search)
app.add_typer(collections.app, name="collections")
app.add_typer(config_cmd.app, name="config")
app.command()(serve.serve)
app.command()(migrate.migrate)
app.command()(bench.bench)
