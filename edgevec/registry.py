"""Backend name -> store class, imported lazily so ``import edgevec`` loads no vendor client.

Built-in backends live in :data:`BUILTIN_BACKENDS`; third-party packages add theirs through the
``edgevec.backends`` entry-point group, e.g. in their ``pyproject.toml``::

    [project.entry-points."edgevec.backends"]
    mystore = "mypackage.store:MyStore"
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgevec.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from edgevec.base import BaseStore

__all__ = ["BUILTIN_BACKENDS", "ENTRY_POINT_GROUP", "BackendEntry", "available", "load_backend"]

ENTRY_POINT_GROUP = "edgevec.backends"


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """Where a built-in backend lives and which extra installs its client."""

    target: str
    extra: str


BUILTIN_BACKENDS: dict[str, BackendEntry] = {
    "faiss": BackendEntry("edgevec.backends.faiss:FaissStore", "faiss"),
    "qdrant": BackendEntry("edgevec.backends.qdrant:QdrantStore", "qdrant"),
    "milvus": BackendEntry("edgevec.backends.milvus:MilvusStore", "milvus"),
    "pinecone": BackendEntry("edgevec.backends.pinecone:PineconeStore", "pinecone"),
    "weaviate": BackendEntry("edgevec.backends.weaviate:WeaviateStore", "weaviate"),
    "router": BackendEntry("edgevec.router.store:Router", "router"),
    "qdrant_edge": BackendEntry("edgevec.backends.qdrant_edge:QdrantEdgeStore", "qdrant-edge"),
}


def _plugins() -> dict[str, str]:
    # Imported here: importlib.metadata pulls in email and zipfile (~13 ms) at import time.
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Every backend name ``connect`` accepts (built-in and registered), installed or not."""
    return sorted({*BUILTIN_BACKENDS, *_plugins()})


def _import(target: str) -> object:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def load_backend(name: str) -> type[BaseStore]:
    """The store class for ``name``; :class:`ConfigError` for an unknown name, and
    :class:`MissingDependencyError` (with the ``pip install`` line) when its extra is missing."""
    from edgevec.base import BaseStore

    if not isinstance(name, str):
        raise ConfigError(f"backend must be a name, got {type(name).__name__}")
    entry = BUILTIN_BACKENDS.get(name)
    if entry is not None:
        try:
            cls = _import(entry.target)
        except ModuleNotFoundError as exc:
            # Any third-party module counts, not only the vendor client: a backend module may
            # import the client's own dependencies (httpx, grpc) first, and every one of them
            # is installed by the same extra. A missing edgevec module is a bug, not an extra.
            if (exc.name or "edgevec").partition(".")[0] == "edgevec":
                raise
            raise MissingDependencyError(
                f"backend {name!r} needs {exc.name}, which its extra installs: "
                f'pip install "edgevec[{entry.extra}]"'
            ) from exc
    else:
        target = _plugins().get(name)
        if target is None:
            raise ConfigError(f"unknown backend {name!r}; valid choices: {', '.join(available())}")
        cls = _import(target)
    if not (isinstance(cls, type) and issubclass(cls, BaseStore)):
        raise ConfigError(f"backend {name!r} resolves to {cls!r}, not an edgevec BaseStore")
    return cls
