"""The Qdrant Edge store: one shard directory per collection under a root directory."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import orjson
import qdrant_edge as qe
from pydantic import BaseModel

from edgevec.abase import AsyncBaseCollection
from edgevec.backends._collection_dirs import CollectionDirs, data_dir
from edgevec.backends._files import read_plain, write_atomic
from edgevec.backends._local import DirLock
from edgevec.backends._qdrant_filters import payload_key
from edgevec.backends.qdrant_edge.collection import CAPABILITIES, QdrantEdgeCollection
from edgevec.backends.qdrant_edge.errors import engine_error
from edgevec.backends.qdrant_edge.options import QdrantEdgeIndexOptions, QdrantEdgeOptions
from edgevec.base import BaseStore
from edgevec.capabilities import Capabilities
from edgevec.config import parse_options
from edgevec.errors import (
    BackendUnavailableError,
    CollectionExistsError,
    CollectionNotFoundError,
    CorruptDataError,
    FilterNotSupportedError,
    InvalidInputError,
    StoreClosedError,
)
from edgevec.fields import check_fields
from edgevec.threaded import ThreadedAsyncCollection, ThreadedAsyncStore
from edgevec.types import CollectionSpec

__all__ = ["AsyncQdrantEdgeCollection", "AsyncQdrantEdgeStore", "QdrantEdgeStore"]

META_NAME = "edgevec.json"
"""Beside the shard: dim, metric, options, embedder fingerprint and declared fields."""
SHARD_NAME = "shard"

_SHM = "/dev/shm"  # noqa: S108  # only a parent: mkdtemp makes a private, unguessable dir in it
_RAM_DIR = _SHM if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK) else None
"""In-memory stores keep their shards in RAM where Linux offers it: the engine fsyncs its files,
which costs ~0.1 s a collection on a disk and nothing on tmpfs."""

_DISTANCE = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot, "l2": qe.Distance.Euclid}
_FIELD_INDEX = {
    "int": qe.PayloadSchemaType.Float, "float": qe.PayloadSchemaType.Float,
    "bool": qe.PayloadSchemaType.Bool, "keyword": qe.PayloadSchemaType.Keyword,
}  # fmt: skip
"""Payload index per declared type (a list field indexes its elements). Ints get a float index:
numeric ``==`` compiles to a range, which an integer index answers only for integer bounds."""


def _edge_config(
    spec: CollectionSpec, opts: QdrantEdgeIndexOptions, threads: int | None
) -> qe.EdgeConfig:
    quantization = None
    if opts.quantization == "int8":
        quantization = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, always_ram=True)
    return qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=spec.dim, distance=_DISTANCE[spec.metric]),
        hnsw_config=qe.HnswIndexConfig(
            m=opts.hnsw_m,
            ef_construct=opts.ef_construct,
            full_scan_threshold=opts.full_scan_threshold_kb,
        ),
        quantization_config=quantization,
        # KB of vectors a segment needs before optimize indexes it: 1 builds the graph whenever
        # asked; 0 never does (flat).
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=0 if opts.index == "flat" else 1),
        max_search_threads=threads,
    )


class QdrantEdgeStore(BaseStore):
    """Collections held by Qdrant Edge in this process, one shard directory each.

    ``path`` holds ``<name>/shard`` (the engine's files, with its write-ahead log) and
    ``<name>/edgevec.json``; without ``path`` a temporary directory is used and removed on
    close. A lock file makes the directory one store's at a time.
    """

    backend: ClassVar[str] = "qdrant_edge"
    capabilities: ClassVar[Capabilities] = CAPABILITIES
    Options = QdrantEdgeOptions

    def __init__(self, options: BaseModel) -> None:
        assert isinstance(options, QdrantEdgeOptions)
        super().__init__(options)
        self.opts = options
        self._lock = threading.RLock()
        self._closed = False
        self._collections: dict[str, QdrantEdgeCollection] = {}
        self._temp: Path | None = None
        if options.path is None:
            self._temp = root = Path(tempfile.mkdtemp(prefix="edgevec-qdrant-edge-", dir=_RAM_DIR))
        else:
            root = data_dir(options.path, "Qdrant Edge")
        try:
            self._dir_lock = DirLock(root, ".lock", f"{root} is in use by another edgevec store")
        except BaseException:
            self._remove_temp()
            raise
        self._dirs = CollectionDirs(root, marker=META_NAME, own=(SHARD_NAME,))

    @classmethod
    def open_async(cls, options: BaseModel) -> AsyncQdrantEdgeStore:
        """This store served from worker threads (the engine has no async API)."""
        return AsyncQdrantEdgeStore(cls(options))

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("this Qdrant Edge store is closed")

    def _list_collections(self) -> list[str]:
        with self._lock:
            self._check_open()
            return sorted(self._dirs.names())

    def _has_collection(self, name: str) -> bool:
        with self._lock:
            self._check_open()
            return self._dirs.status(name) != "absent"

    def _create(self, spec: CollectionSpec) -> QdrantEdgeCollection:
        merged = {
            **self.opts.model_dump(include=set(QdrantEdgeIndexOptions.model_fields)),
            **spec.options,
        }
        opts = parse_options(
            QdrantEdgeIndexOptions, merged, f"Qdrant Edge options for collection {spec.name!r}"
        )
        spec = replace(spec, options=opts.model_dump())
        keys = {}
        for field in spec.fields:
            try:
                keys[field] = payload_key(field)
            except FilterNotSupportedError as exc:
                raise InvalidInputError(f"fields: {exc}") from None
        meta = {
            "format": 1, "dim": spec.dim, "metric": spec.metric, "options": opts.model_dump(),
            "fingerprint": spec.fingerprint, "fields": dict(spec.fields),
        }  # fmt: skip

        def fill(where: Path) -> None:
            shard = self._shard("create", where / SHARD_NAME, spec, opts, create=True)
            try:
                for field, kind in spec.fields.items():
                    index = _FIELD_INDEX[kind.removesuffix("[]")]
                    shard.update(qe.UpdateOperation.create_field_index(keys[field], index))
            except Exception as exc:
                raise engine_error(exc, f"index the fields of {spec.name!r}") from exc
            finally:
                shard.close()
            write_atomic(where / META_NAME, orjson.dumps(meta))

        with self._lock:
            self._check_open()
            if spec.name in self._collections:
                raise CollectionExistsError(f"collection {spec.name!r} already exists")
            where = self._dirs.create(spec.name, fill)
            return self._attach(spec, opts, where)

    def _shard(self, action: str, shard_dir: Path, spec: CollectionSpec,
               opts: QdrantEdgeIndexOptions, *, create: bool = False) -> qe.EdgeShard:  # fmt: skip
        """Create or load the shard in ``shard_dir``, failures typed: a locked shard is
        :class:`BackendUnavailableError`, one that fails to load is corrupt."""
        threads = self.opts.search_threads
        try:
            if create:
                return qe.EdgeShard.create(str(shard_dir), _edge_config(spec, opts, threads))
            # A config given to ``load`` must be whole (the engine checks it against the shard's
            # and saves it), so only a store setting its thread count passes one.
            config = None if threads is None else _edge_config(spec, opts, threads)
            return qe.EdgeShard.load(str(shard_dir), config)
        except Exception as exc:
            err = engine_error(exc, f"{action} the Qdrant Edge shard in {shard_dir}")
            if not create and not isinstance(err, BackendUnavailableError):
                raise CorruptDataError(str(err)) from exc
            raise err from exc

    def _attach(
        self, spec: CollectionSpec, opts: QdrantEdgeIndexOptions, where: Path
    ) -> QdrantEdgeCollection:
        shard = self._shard("load", where / SHARD_NAME, spec, opts)
        try:
            coll = QdrantEdgeCollection(spec, opts, shard)
        except BaseException:
            shard.close()
            raise
        self._collections[spec.name] = coll
        return coll

    def _open(self, name: str) -> QdrantEdgeCollection:
        with self._lock:
            self._check_open()
            coll = self._collections.get(name)
            if coll is not None:
                return coll
            if self._dirs.status(name) == "absent":
                raise CollectionNotFoundError(f"no collection named {name!r}")
            self._dirs.check_readable(name)
            where = self._dirs.path(name)
            try:
                meta = orjson.loads(read_plain(where / META_NAME) or b"")
                opts = QdrantEdgeIndexOptions.model_validate(meta["options"])
                spec = CollectionSpec(
                    name, int(meta["dim"]), meta["metric"], opts.model_dump(), meta["fingerprint"],
                    check_fields(meta["fields"]),
                )  # fmt: skip
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise CorruptDataError(f"{where}: collection metadata is invalid: {exc}") from exc
            return self._attach(spec, opts, where)

    def _drop(self, name: str) -> None:
        with self._lock:
            self._check_open()
            coll = self._collections.pop(name, None)
            if coll is not None:
                coll._shut(CollectionNotFoundError(f"collection {name!r} was dropped"))
            if self._dirs.status(name) == "absent":
                raise CollectionNotFoundError(f"no collection named {name!r}")
            self._dirs.drop(name)

    def _close(self) -> None:
        """Close every shard (their handles refuse later calls), unlock, remove a temp dir."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                for coll in self._collections.values():
                    coll._shut(StoreClosedError("the Qdrant Edge store was closed"))
            finally:
                self._collections.clear()
                self._dir_lock.release()
                self._remove_temp()

    def _remove_temp(self) -> None:
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)


class AsyncQdrantEdgeCollection(ThreadedAsyncCollection):
    """The async collection: every engine call in a worker thread, plus :meth:`optimize`."""

    sync: QdrantEdgeCollection

    async def optimize(self) -> bool:
        """:meth:`QdrantEdgeCollection.optimize` in a worker thread. The engine holds the GIL
        while it builds, so the event loop still pauses for that time: optimize before serving.
        """
        self._handle_state.check()
        return await asyncio.to_thread(self.sync.optimize)


class AsyncQdrantEdgeStore(ThreadedAsyncStore):
    """The async store over :class:`QdrantEdgeStore`, from worker threads."""

    sync: QdrantEdgeStore

    async def _create(self, spec: CollectionSpec) -> AsyncBaseCollection:
        return AsyncQdrantEdgeCollection(await asyncio.to_thread(self.sync._create, spec))

    async def _open(self, name: str) -> AsyncBaseCollection:
        return AsyncQdrantEdgeCollection(await asyncio.to_thread(self.sync._open, name))
