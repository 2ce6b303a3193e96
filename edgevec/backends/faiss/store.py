"""The FAISS store: collections held in process, optionally persisted under a directory."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from edgevec.backends._collection_dirs import CollectionDirs, data_dir
from edgevec.backends._index_cache import CACHE_NAME
from edgevec.backends._local import DirLock
from edgevec.backends._rowstore import DB_NAME, RowStore
from edgevec.backends.faiss.collection import CAPABILITIES, FaissCollection
from edgevec.backends.faiss.options import FaissIndexOptions, FaissOptions, faiss
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.config import parse_options
from edgevec.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    CorruptDataError,
    StoreClosedError,
)
from edgevec.fields import check_fields
from edgevec.types import CollectionSpec

__all__ = ["FaissStore"]


class FaissStore(BaseStore):
    """Collections held in process by FAISS, optionally persisted under ``path``.

    One lock guards the set of collections, so concurrent ``collection()`` and
    ``create_collection()`` calls share one object per name and never create a collection twice.
    """

    backend: ClassVar[str] = "faiss"
    capabilities: ClassVar[Capabilities] = CAPABILITIES
    Options = FaissOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, FaissOptions)
        super().__init__(options)
        self.opts = options
        self._lock = threading.RLock()
        self._closed = False
        self._collections: dict[str, FaissCollection] = {}
        self._dirs: CollectionDirs | None = None
        self._dir_lock: DirLock | None = None
        if options.threads:
            faiss.omp_set_num_threads(options.threads)
        if options.path is not None:
            root = data_dir(options.path, "FAISS")
            self._dir_lock = DirLock(root, ".lock", f"{root} is in use by another edgevec store")
            try:
                self._dirs = CollectionDirs(root)
            except BaseException:
                self._dir_lock.release()  # a store that never opened holds no lock
                raise

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("this FAISS store is closed")

    def _list_collections(self) -> list[str]:
        with self._lock:
            self._check_open()
            names = set(self._collections)
            if self._dirs is not None:
                names.update(self._dirs.names())
            return sorted(names)

    def _create(self, spec: CollectionSpec) -> FaissCollection:
        merged = {
            **self.opts.model_dump(include=set(FaissIndexOptions.model_fields)),
            **spec.options,
        }
        opts = parse_options(FaissIndexOptions, merged, f"FAISS index options for {spec.name!r}")
        spec = replace(spec, options=opts.model_dump())
        with self._lock:
            self._check_open()
            if spec.name in self._collections:
                raise CollectionExistsError(f"collection {spec.name!r} already exists")
            if self._dirs is None:
                coll = FaissCollection(spec, opts)
            else:
                meta = {
                    "dim": spec.dim, "metric": spec.metric, "options": opts.model_dump(),
                    "fingerprint": spec.fingerprint, "fields": dict(spec.fields),
                }  # fmt: skip
                where = self._dirs.create(spec.name, lambda d: RowStore.create(d / DB_NAME, meta))
                coll = self._attach(spec, opts, where, self._open_rows(where))
            self._collections[spec.name] = coll
            return coll

    def _open_rows(self, where: Path) -> RowStore:
        return RowStore(where / DB_NAME, durable=self.opts.durable)

    def _attach(
        self, spec: CollectionSpec, opts: FaissIndexOptions, where: Path, rows: RowStore
    ) -> FaissCollection:
        """A collection over its open record file, loaded; the file is closed on failure."""
        cache = where / CACHE_NAME if opts.index == "hnsw" else None
        coll = FaissCollection(spec, opts, rows, cache, self.opts.checkpoint_rows)
        try:
            coll._load()
        except BaseException:
            rows.close()
            raise
        return coll

    def _open(self, name: str) -> FaissCollection:
        with self._lock:
            self._check_open()
            coll = self._collections.get(name)
            if coll is not None:
                return coll
            if self._dirs is None or self._dirs.status(name) == "absent":
                raise CollectionNotFoundError(f"no collection named {name!r}")
            self._dirs.check_readable(name)
            where = self._dirs.path(name)
            rows = self._open_rows(where)
            try:
                meta = rows.meta
                opts = FaissIndexOptions.model_validate(meta["options"])
                spec = CollectionSpec(
                    name, int(meta["dim"]), meta["metric"], opts.model_dump(), meta["fingerprint"],
                    check_fields(meta.get("fields")),  # absent in stores made before fields
                )  # fmt: skip
            except (KeyError, TypeError, ValueError) as exc:  # pydantic's error is a ValueError
                rows.close()
                raise CorruptDataError(f"{where}: collection metadata is invalid: {exc}") from exc
            coll = self._attach(spec, opts, where, rows)
            self._collections[name] = coll
            return coll

    def _drop(self, name: str) -> None:
        with self._lock:
            self._check_open()
            coll = self._collections.pop(name, None)
            if coll is not None:
                coll._shut(CollectionNotFoundError(f"collection {name!r} was dropped"), save=False)
            if self._dirs is not None and self._dirs.status(name) != "absent":
                self._dirs.drop(name)
            elif coll is None:
                raise CollectionNotFoundError(f"no collection named {name!r}")

    def _close(self) -> None:
        """Save HNSW graphs, close every collection (its handles refuse later calls), unlock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                for coll in self._collections.values():
                    coll._shut(StoreClosedError("the FAISS store was closed"), save=True)
            finally:
                self._collections.clear()
                if self._dir_lock is not None:
                    self._dir_lock.release()
                    self._dir_lock = None
