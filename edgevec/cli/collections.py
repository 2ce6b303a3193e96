"""``edgevec collections list | info | drop``."""

from __future__ import annotations

from typing import Annotated

import typer

from edgevec.cli.options import ConfigOpt, JsonOpt
from edgevec.cli.output import err, print_json, show_table
from edgevec.connect import connect

__all__ = ["app"]

app = typer.Typer(help="List, describe and drop the collections of a store.", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="Collection name.")]


@app.command("list")
def list_(config: ConfigOpt, as_json: JsonOpt = False) -> None:
    """The collections the store holds, with their record counts."""
    with connect(config=config) as store:
        rows = [(name, store.collection(name).count()) for name in store.list_collections()]
    if as_json:
        print_json([{"name": name, "count": count} for name, count in rows])
    else:
        show_table(f"{len(rows)} collections ({store.backend})", ("name", "records"), rows)


@app.command()
def info(name: NameArg, config: ConfigOpt, as_json: JsonOpt = False) -> None:
    """Dimension, metric, record count, embedder and declared fields of one collection."""
    with connect(config=config) as store:
        coll = store.collection(name)
        spec, count = coll.spec, coll.count()
    facts = {
        "name": spec.name,
        "backend": store.backend,
        "dim": spec.dim,
        "metric": spec.metric,
        "count": count,
        "embedder": spec.fingerprint,
        "fields": dict(spec.fields),
        "options": dict(spec.options),
    }
    if as_json:
        print_json(facts)
    else:
        show_table(f"Collection {name!r}", ("", "value"), facts.items())


@app.command()
def drop(
    name: NameArg,
    config: ConfigOpt,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a collection and all its records (asks first unless --yes)."""
    with connect(config=config) as store:
        count = store.collection(name).count()
        if not yes:
            typer.confirm(f"Drop {name!r} and its {count} records?", abort=True, err=True)
        store.drop_collection(name)
    err().print(f"dropped {name!r} ({count} records)")
