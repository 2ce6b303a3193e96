"""Per-process engine state: Lite server references, per-``.db`` locks, and serialised DDL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pymilvus.client import ts_utils  # type: ignore[import-untyped]

from edgevec.backends.milvus.errors import CLIENT_ERRORS, translate_error
from edgevec.backends.milvus.options import MilvusIndexOptions, MilvusOptions, index_options
from edgevec.backends.milvus.schema import (
    META_PROPERTY,
    VECTOR,
    build_schema,
    collection_meta,
    field_column,
    index_spec,
    spec_from_description,
)
from edgevec.driver import Call as DriverCall
from edgevec.driver import Engine, run, single
from edgevec.errors import EdgevecError
from edgevec.fields import element_type
from edgevec.prepare import check_existing
from edgevec.types import CollectionSpec

C = TypeVar("C")

_registry_lock = threading.Lock()
_lite_refs: dict[str, int] = {}
_engine_locks: dict[tuple[str, str], threading.RLock] = {}

LITE_UNSAFE = frozenset({"upsert", "delete", "flush"})
"""Client methods Milvus Lite's engine cannot run concurrently on one ``.db`` (module docstring)."""


def engine_lock(opts: MilvusOptions) -> threading.RLock:
    """The process-wide lock of one engine: a ``.db`` directory, or a server's uri and database.

    Re-entrant, so DDL that holds it can make writes that take it again.
    """
    key = (os.path.abspath(opts.uri), "") if opts.lite else (opts.uri, opts.db_name)
    with _registry_lock:
        return _engine_locks.setdefault(key, threading.RLock())


def serialised(
    opts: MilvusOptions, lock: threading.RLock, method: str, fn: Callable[..., Any]
) -> Callable[..., Any]:
    """``fn`` (sync client method ``method``), holding ``lock`` where Milvus Lite needs it
    (``LITE_UNSAFE``): the one rule for every writer of a ``.db``, sync and async stores alike."""
    if not (opts.lite and method in LITE_UNSAFE):
        return fn

    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return fn(*args, **kwargs)

    return locked


def error_map(opts: MilvusOptions) -> Callable[[Exception, str], EdgevecError | None]:
    """The driver's error map for pymilvus and gRPC failures (the token redacted)."""

    def errors(exc: Exception, what: str) -> EdgevecError | None:
        return translate_error(exc, what, opts.token) if isinstance(exc, CLIENT_ERRORS) else None

    return errors


def driver_engine(
    opts: MilvusOptions, resolve: Callable[[DriverCall[Any]], Callable[..., C]]
) -> Engine[C]:
    """The driver's view of a Milvus client: every method takes ``timeout=``."""
    return Engine(
        backend="milvus",
        resolve=resolve,
        errors=error_map(opts),
        timeout=opts.timeout,
        timeout_kwarg="timeout",
    )


def blocking_call(
    opts: MilvusOptions, lock: threading.RLock, what: str, fn: Any, *args: Any, **kwargs: Any
) -> Any:
    """``fn(*args, **kwargs)`` on a sync client as one driver call (the deadline clips its
    timeout, errors are translated, listeners see it), serialised by ``lock`` where Milvus Lite
    needs it (``LITE_UNSAFE``). For DDL, which runs under the engine lock rather than as a plan."""
    name = getattr(fn, "__name__", "call")
    bound = serialised(opts, lock, name, fn)
    return run(
        single(DriverCall(name, kwargs, what, args=args)), driver_engine(opts, lambda _: bound)
    )


Call = Callable[..., Any]
"""A :func:`blocking_call` bound to a store: ``call(what, fn, *args, **kwargs)``."""


def create_collection(
    call: Call, client: Any, defaults: MilvusOptions, spec: CollectionSpec
) -> tuple[CollectionSpec, MilvusIndexOptions]:
    """Create, index and load ``spec``'s collection; the caller holds the engine lock.

    The base class checked that the name was free, but a concurrent create may have taken it
    since: then the collection it made is opened (if its dim and metric are the ones asked for),
    as ``exist_ok=True`` wants, rather than failing halfway through Milvus' own create.
    """
    if call("has collection", client.has_collection, spec.name):
        found, opts = open_collection(call, client, spec.name)
        check_existing(found, spec.dim, spec.metric, spec.fields)
        return found, opts
    opts = index_options(defaults, spec.options, spec.name)
    spec = CollectionSpec(
        spec.name, spec.dim, spec.metric, opts.model_dump(), spec.fingerprint, spec.fields
    )
    index = client.prepare_index_params()
    index.add_index(**index_spec(opts, spec.metric))
    for name, kind in spec.fields.items():  # Milvus Lite cannot index ARRAY columns
        if not element_type(kind)[1]:
            index.add_index(field_name=field_column(name), index_type="INVERTED")
    call(
        "create collection",
        client.create_collection,
        spec.name,
        schema=build_schema(spec.dim, spec.fields),
        consistency_level=defaults.consistency_level,
        properties={META_PROPERTY: collection_meta(spec, opts)},
    )
    # sync=False: pymilvus' wait for the index polls every 0.5 s through AllocTimestamp,
    # which Milvus Lite lacks; the index of an empty collection is ready once acknowledged.
    call("create index", client.create_index, spec.name, index, sync=False)
    call("load collection", client.load_collection, spec.name)
    return spec, opts


def cover_delete(call: Call, client: Any, opts: MilvusOptions, name: str) -> None:
    """Make this process's ``Session`` reads wait for a delete it just made.

    Session reads wait for the last write timestamp pymilvus recorded for the collection, but a
    Milvus 2.3 server answers a delete with timestamp 0 (measured on 2.3.5), so the next read could
    still return the deleted records. A timestamp allocated now is later than the delete; recorded
    as the collection's last write (pymilvus keeps the largest), it covers it. Milvus Lite applies
    every request in order and has no timestamp oracle, so it needs none.
    """
    if opts.lite or opts.consistency_level != "Session":
        return
    handler = client._get_connection()  # pymilvus has no public call for AllocTimestamp
    ts = call("delete", handler.alloc_timestamp)
    ts_utils.update_collection_ts(name, ts, handler.server_address, opts.db_name)


def open_collection(
    call: Call, client: Any, name: str
) -> tuple[CollectionSpec, MilvusIndexOptions]:
    """Describe and load an existing collection; the caller holds the engine lock."""
    desc = call("describe collection", client.describe_collection, name)
    index = call("describe index", client.describe_index, name, VECTOR)
    spec, opts = spec_from_description(name, desc, index or {})
    call("load collection", client.load_collection, name)
    return spec, opts


def lite_acquire(uri: str) -> str:
    path = os.path.abspath(uri)  # the key milvus_lite's server manager uses
    with _registry_lock:
        _lite_refs[path] = _lite_refs.get(path, 0) + 1
    return path


def lite_release(path: str) -> None:
    """Stop the in-process Milvus Lite server once its last store closed, freeing the ``.db`` lock
    so another process can open it."""
    with _registry_lock:
        left = _lite_refs.get(path, 0) - 1
        if left > 0:
            _lite_refs[path] = left
            return
        _lite_refs.pop(path, None)
    try:
        from milvus_lite.server_manager import (  # type: ignore[import-untyped]
            server_manager_instance,
        )
    except ImportError:  # pragma: no cover - pymilvus found a server without milvus-lite?
        return
    server_manager_instance.release_server(path)
