"""``edgevec index``: embed a folder of images or a text/JSONL file into a collection."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from edgevec.cli.embedders import EmbedderKind, bundled_embedder, kind_of
from edgevec.cli.ingest import Item, Rejected, image_items, ingest, text_items
from edgevec.cli.options import CollectionOpt, ConfigOpt, JsonOpt
from edgevec.cli.output import print_json, progress, report_rejected, seconds, show_table
from edgevec.connect import connect
from edgevec.errors import InvalidInputError

__all__ = ["index"]


def index(
    path: Annotated[
        Path,
        typer.Argument(
            help="A folder of images (JPEG, PNG, WebP; ids are the relative paths), "
            "a .jsonl file or a text file (one text per line).",
            exists=True,
        ),
    ],
    config: ConfigOpt,
    collection: CollectionOpt,
    embedder: Annotated[
        EmbedderKind | None,
        typer.Option(
            help="Bundled model; it must suit PATH: image for a folder, text for a file "
            "(the default)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Items per embed-and-write batch.")] = 64,
    id_field: Annotated[str, typer.Option(help="JSONL: the field holding the id.")] = "id",
    text_field: Annotated[str, typer.Option(help="JSONL: the field holding the text.")] = "text",
    as_json: JsonOpt = False,
) -> None:
    """Embed a folder of images or a text/JSONL file into a collection.

    The collection is created if missing. Ids it already holds are skipped, so an interrupted
    run can simply be repeated; a file or line that cannot be embedded is reported and skipped,
    and the rest of its batch is written.
    """
    items: list[Item] | list[Item | Rejected]
    kind: EmbedderKind = "image" if path.is_dir() else "text"
    if embedder not in (None, kind):
        raise InvalidInputError(f"{path} holds {kind}s: --embedder {embedder} cannot embed them")
    if kind == "image":
        items = image_items(path)
    else:
        items = text_items(path, id_field=id_field, text_field=text_field)
    t0 = time.perf_counter()
    with connect(config=config) as store:
        if store.has_collection(collection):
            stored = kind_of(store.collection(collection).spec)
            if stored != kind:
                held = stored or "plain"
                raise InvalidInputError(
                    f"collection {collection!r} holds {held} vectors, not {kind} vectors"
                )
        coll = store.create_collection(collection, embedder=bundled_embedder(kind), exist_ok=True)
        with progress() as bars:
            task = bars.add_task(f"indexing {path.name}", total=len(items))
            report = ingest(coll, items, batch_size=batch_size,
                            advance=lambda n: bars.advance(task, n))  # fmt: skip
        count = coll.count()
    report_rejected(report.rejected)
    if as_json:
        print_json(
            {
                "added": report.added,
                "present": report.present,
                "rejected": [{"where": r.where, "reason": r.reason} for r in report.rejected],
                "count": count,
            }
        )
        return
    rows = [
        ("source", str(path)),
        ("added", report.added),
        ("already present", report.present),
        ("skipped (bad input)", len(report.rejected)),
        ("records in collection", count),
        ("embedding", seconds(report.embed_s)),
        ("reading and writing the store", seconds(report.write_s)),
        ("total", seconds(time.perf_counter() - t0)),
    ]
    show_table(f"Indexed into {collection!r} ({kind})", ("", "value"), rows)
