"""Files to records of an embedded collection: a folder of images, a text or a JSONL file.

Shared by ``edgevec index`` and ``edgevec demo``. Every batch first asks the collection which of
its ids it already holds (one ``get``) and skips them, so an interrupted run picks up where it
stopped. A file or line that cannot be embedded (corrupt image, decompression bomb, empty text)
or stored (an id or payload the collection refuses) is reported and left out; the rest of its
batch is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from edgevec.errors import InvalidInputError
from edgevec.files import read_regular
from edgevec.types import check_id

if TYPE_CHECKING:
    from edgevec.embedded import EmbeddedCollection
    from edgevec.embedders.protocol import Embedder, Matrix

__all__ = [
    "IMAGE_SUFFIXES",
    "IngestReport",
    "Item",
    "Rejected",
    "image_items",
    "ingest",
    "text_items",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
"""Files of a folder that are indexed; their bytes must still be what the suffix says."""


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to embed: an image path or a text, with its id and payload."""

    id: str
    content: Any
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input left out, and why (``where`` is an id or a line number)."""

    where: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What an ingest did, and where its time went."""

    added: int = 0
    present: int = 0
    """Skipped because the collection already held the id (a resumed run)."""
    rejected: list[Rejected] = field(default_factory=list)
    embed_s: float = 0.0
    write_s: float = 0.0


def image_items(folder: Path) -> list[Item]:
    """Every image file under ``folder`` (hidden ones aside), sorted; the id and the payload's
    ``path`` are the path relative to ``folder``, with ``/`` separators."""
    items = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in rel.parts)
        if path.suffix.lower() in IMAGE_SUFFIXES and not hidden and path.is_file():
            items.append(Item(rel.as_posix(), path, {"path": rel.as_posix()}))
    return items


def text_items(
    path: Path, *, id_field: str = "id", text_field: str = "text"
) -> list[Item | Rejected]:
    """The texts of ``path``: a JSONL file (``.jsonl``: one object per line; the text in
    ``text_field``, the id in ``id_field`` or else the line number, the payload every field but
    the id) or plain text (one text per non-blank line, id = line number, payload ``{"text"}``)."""
    try:
        text = read_regular(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    jsonl = path.suffix.lower() == ".jsonl"
    items: list[Item | Rejected] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            items.append(_jsonl_item(number, line, id_field, text_field) if jsonl else
                         Item(str(number), line, {"text": line}))  # fmt: skip
    return items


def _jsonl_item(number: int, line: str, id_field: str, text_field: str) -> Item | Rejected:
    where = f"line {number}"
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Rejected(where, f"not JSON: {exc}")
    if not isinstance(obj, dict):
        return Rejected(where, f"a JSON {type(obj).__name__}, not an object")
    content = obj.get(text_field)
    if not isinstance(content, str):
        return Rejected(where, f"no string field {text_field!r}")
    rid = obj.pop(id_field, number)
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        return Rejected(where, f"field {id_field!r} is {type(rid).__name__}, not a string or int")
    return Item(str(rid), content, obj)


def _batches(items: Sequence[Item | Rejected], size: int) -> Iterator[list[Item | Rejected]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def ingest(
    coll: EmbeddedCollection,
    items: Sequence[Item | Rejected],
    *,
    batch_size: int = 64,
    advance: Callable[[int], object] = lambda n: None,
) -> IngestReport:
    """Embed and upsert ``items`` ``batch_size`` at a time, skipping ids already stored and
    items that fail to embed; ``advance(n)`` is called as each batch is done."""
    if batch_size < 1:
        raise InvalidInputError(f"batch size must be at least 1, got {batch_size}")
    report = IngestReport()
    seen: set[str] = set()
    for batch in _batches(items, batch_size):
        todo: list[Item] = []
        for entry in batch:
            refusal = _refusal(entry, seen)
            if refusal is not None:
                report.rejected.append(refusal)
            elif isinstance(entry, Item):
                todo.append(entry)
        if todo:
            t0 = time.perf_counter()
            stored = {r.id for r in coll.get([i.id for i in todo], include_vectors=False)}
            report.present += len(stored)
            todo = [i for i in todo if i.id not in stored]
            t1 = time.perf_counter()
            vectors, good, bad = _embed_skipping_bad(coll.embedder, todo)
            report.rejected.extend(bad)
            t2 = time.perf_counter()
            written, refused = _write_skipping_bad(coll, good, vectors)
            report.rejected.extend(refused)
            report.added += written
            report.embed_s += t2 - t1
            report.write_s += (t1 - t0) + (time.perf_counter() - t2)
        advance(len(batch))
    return report


def _refusal(entry: Item | Rejected, seen: set[str]) -> Rejected | None:
    """Why ``entry`` is left out before any I/O (an id no collection takes, a repeated id), or
    ``None`` for an item to write (its id is then ``seen``)."""
    if isinstance(entry, Rejected):
        return entry
    try:
        check_id(entry.id)
    except InvalidInputError as exc:
        return Rejected(repr(entry.id[:64]), str(exc))
    if entry.id in seen:
        return Rejected(entry.id, "duplicate id: the first one is kept")
    seen.add(entry.id)
    return None


def _embed_skipping_bad(
    embedder: Embedder, items: list[Item]
) -> tuple[Matrix, list[Item], list[Rejected]]:
    """Vectors of the items that embed, those items, and the ones that do not.

    The embedder fails a whole call for one bad item; only then is the batch embedded item by
    item to find it (the embedder's cache spares what it embedded before the failure)."""
    try:
        return embedder.embed([i.content for i in items]), items, []
    except InvalidInputError:
        pass
    good: list[Item] = []
    rows: list[Matrix] = []
    bad: list[Rejected] = []
    for item in items:
        try:
            rows.append(embedder.embed([item.content]))
        except InvalidInputError as exc:
            bad.append(Rejected(item.id, str(exc).replace("#0 ", "", 1)))
        else:
            good.append(item)
    matrix = np.concatenate(rows) if rows else np.empty((0, embedder.dim), np.float32)
    return matrix, good, bad


def _write_skipping_bad(
    coll: EmbeddedCollection, items: list[Item], vectors: Matrix
) -> tuple[int, list[Rejected]]:
    """Upsert the items; how many were written, and those the collection refused.

    A batch the collection refuses (an id or payload it does not accept) writes nothing, so
    only then is it written item by item to leave out the bad ones."""
    if not items:
        return 0, []
    try:
        coll.upsert_arrays([i.id for i in items], vectors, [i.payload for i in items])
        return len(items), []
    except InvalidInputError:
        pass
    refused: list[Rejected] = []
    for item, vector in zip(items, vectors):
        try:
            coll.upsert_arrays([item.id], vector[None, :], [item.payload])
        except InvalidInputError as exc:
            refused.append(Rejected(item.id, str(exc)))
    return len(items) - len(refused), refused
