"""Which bundled embedder a command uses: named on the command line, or read from a collection.

A collection created with an embedder records its fingerprint (``image:...`` or ``text:...``), so
``search`` and a resumed ``index`` pick the same model without being told; opening the
collection with it still checks the whole fingerprint.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from edgevec.errors import InvalidInputError

if TYPE_CHECKING:
    from edgevec.embedders.protocol import Embedder
    from edgevec.types import CollectionSpec

__all__ = ["EMBEDDER_KINDS", "EmbedderKind", "bundled_embedder", "kind_of"]

EmbedderKind = Literal["image", "text"]
EMBEDDER_KINDS: tuple[EmbedderKind, ...] = ("image", "text")


@functools.cache
def bundled_embedder(kind: EmbedderKind) -> Embedder:
    """The bundled model for ``kind``, loaded once per process (a few hundred milliseconds;
    the embedders are thread-safe, so one serves every command run in the process)."""
    from edgevec.embedders import image_embedder, text_embedder

    make: dict[str, Callable[[], Embedder]] = {"image": image_embedder, "text": text_embedder}
    return make[kind]()


def kind_of(spec: CollectionSpec) -> EmbedderKind | None:
    """The kind of bundled embedder that filled the collection, or ``None`` for plain vectors."""
    if spec.fingerprint is None:
        return None
    kind = spec.fingerprint.partition(":")[0]
    if kind not in EMBEDDER_KINDS:
        raise InvalidInputError(
            f"collection {spec.name!r} was filled by embedder {spec.fingerprint!r}, "
            "which is not one of the bundled ones the command line can load"
        )
    return "image" if kind == "image" else "text"
