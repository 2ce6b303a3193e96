"""``edgevec search``: an image, a text or a ``.npy`` vector -> the nearest records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import orjson
import typer

from edgevec.cli.embedders import bundled_embedder, kind_of
from edgevec.cli.options import CollectionOpt, ConfigOpt, JsonOpt
from edgevec.cli.output import hits_json, print_json, show_hits
from edgevec.connect import connect
from edgevec.errors import InvalidInputError
from edgevec.filters import Filter, as_filter
from edgevec.types import Hits

__all__ = ["parse_filter", "search"]


def parse_filter(text: str | None) -> Filter | None:
    """The ``--filter`` option: edgevec's filter in its JSON form."""
    if text is None:
        return None
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"--filter is not JSON: {exc}") from exc
    return as_filter(document, where="--filter")


def _load_vector(path: Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the vector in {path}: {exc}") from exc


def search(
    query: Annotated[
        str,
        typer.Argument(
            help="A .npy file holding one vector, or for a collection filled by `edgevec index`: "
            "an image path (image collections) or a text (text collections)."
        ),
    ],
    config: ConfigOpt,
    collection: CollectionOpt,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="How many hits.")] = 5,
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help='A filter in JSON, e.g. \'{"field": "topic", "op": "eq", "value": "music"}\'.',
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the K records nearest to QUERY, best first: id, score, payload."""
    where = parse_filter(filter)
    with connect(config=config) as store:
        coll = store.collection(collection)
        if query.endswith(".npy"):
            vector = _load_vector(Path(query))
            if vector.ndim == 2 and len(vector) == 1:  # one row saved as a (1, dim) matrix
                vector = vector[0]
            hits: Hits = coll.query(vector, k, where)
        else:
            kind = kind_of(coll.spec)
            if kind is None:
                raise InvalidInputError(
                    f"collection {collection!r} holds plain vectors: query it with a .npy file"
                )
            bound = store.collection(collection, embedder=bundled_embedder(kind))
            item: Any = query if kind == "text" else Path(query)
            hits = bound.search(item, k, where)
    if as_json:
        print_json(hits_json(hits))
    else:
        show_hits(f"{len(hits)} hits in {collection!r}", hits)
