"""The demo: a local FAISS store filled from the bundled sample by the bundled models.

``edgevec demo`` calls :func:`run_demo` and prints what it returns. Everything it needs ships in
the package (``data/``: public-domain drawings, CC0 photos, edgevec's own sentences; provenance in
``data/README.md``), so it runs on a fresh machine with no network. Images and texts go into two
collections, as their models give vectors of different dimensions. The directory it fills holds
an ``edgevec.toml`` whose ``[service]`` table serves the image collection over HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from edgevec.cli.embedders import EmbedderKind, bundled_embedder
from edgevec.cli.ingest import IngestReport, Item, Rejected, image_items, ingest, text_items
from edgevec.connect import connect
from edgevec.errors import InvalidInputError
from edgevec.types import Hits

if TYPE_CHECKING:
    from edgevec.base import BaseStore

__all__ = [
    "CONFIG_NAME",
    "DATA",
    "IMAGE_COLLECTION",
    "TEXT_COLLECTION",
    "TEXT_QUERIES",
    "DemoPart",
    "DemoQuery",
    "DemoResult",
    "Tracker",
    "run_demo",
    "write_config",
]

DATA = Path(__file__).resolve().parent / "data"
IMAGE_COLLECTION = "demo_images"
TEXT_COLLECTION = "demo_texts"
CONFIG_NAME = "edgevec.toml"
TEXT_QUERIES = (
    "My laptop will not start after the update",
    "Will it rain this weekend?",
    "How long should pasta boil?",
)
"""Written for the demo; none of them is one of the indexed sentences."""
K = 3

Tracker = Callable[[str, int], Callable[[int], object]]
"""``track(description, total)`` -> ``advance(n)``: how the caller shows progress."""


@dataclass(frozen=True, slots=True)
class DemoQuery:
    """One sample query and what it found."""

    query: str
    hits: Hits
    seconds: float


@dataclass(frozen=True, slots=True)
class DemoPart:
    """One collection of the demo: its per-stage timings and sample queries."""

    collection: str
    kind: EmbedderKind
    load_model_s: float
    report: IngestReport
    count: int
    queries: list[DemoQuery]


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo built, where, and what it found."""

    directory: Path
    config: Path
    parts: list[DemoPart]


def write_config(directory: Path) -> Path:
    """Create ``directory`` if needed and write its ``edgevec.toml``: FAISS persisted in
    ``directory/vectors`` and a ``[service]`` table for the image collection, without API keys
    -- so ``edgevec serve`` may listen on loopback only, which suits a demo on one's own machine.
    A folder that cannot be written is an :class:`~edgevec.errors.InvalidInputError`."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return _write_config(directory)
    except OSError as exc:
        raise InvalidInputError(f"cannot write the demo store in {directory}: {exc}") from exc


def _write_config(directory: Path) -> Path:
    path = directory / CONFIG_NAME
    store = orjson.dumps(str((directory / "vectors").resolve())).decode()
    path.write_text(
        "# Written by `edgevec demo`.\n"
        'backend = "faiss"\n\n'
        "[faiss]\n"
        f"path = {store}\n\n"
        "[service]\n"
        f'collection = "{IMAGE_COLLECTION}"\n'
        'embedder = "image"\n'
        '# No keys: loopback only. To listen wider, add keys: [{ env = "EDGEVEC_API_KEY" }]\n'
        "api_keys = []\n"
        "max_k = 50\n",
        encoding="utf-8",
    )
    return path


def run_demo(config: Path, track: Tracker) -> DemoResult:
    """Build (or refresh: ids already stored are skipped) the demo store that ``config`` (from
    :func:`write_config`) names, then run the sample queries: each image in ``data/queries``
    and each of :data:`TEXT_QUERIES`."""
    image_queries = sorted((DATA / "queries").iterdir())
    with connect(config=config) as store:
        parts = [
            _part(store, IMAGE_COLLECTION, "image", image_items(DATA / "images"),
                  [(p.name, p) for p in image_queries], track),
            _part(store, TEXT_COLLECTION, "text", text_items(DATA / "sentences.jsonl"),
                  [(q, q) for q in TEXT_QUERIES], track),
        ]  # fmt: skip
    return DemoResult(config.parent, config, parts)


def _part(
    store: BaseStore,
    name: str,
    kind: EmbedderKind,
    items: Sequence[Item | Rejected],
    queries: list[tuple[str, Any]],
    track: Tracker,
) -> DemoPart:
    t0 = time.perf_counter()
    embedder = bundled_embedder(kind)
    load_s = time.perf_counter() - t0
    coll = store.create_collection(name, embedder=embedder, exist_ok=True)
    report = ingest(coll, items, batch_size=32, advance=track(f"{kind}s → {name}", len(items)))
    found = []
    for label, query in queries:
        t0 = time.perf_counter()
        hits = coll.search(query, k=K)
        found.append(DemoQuery(label, hits, time.perf_counter() - t0))
    return DemoPart(name, kind, load_s, report, coll.count(), found)
