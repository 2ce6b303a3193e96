"""The image-similarity HTTP service: one collection, one bundled embedder, JSON over HTTP.

:func:`create_app` builds the Starlette app over any store -- one backend, a router, a cached
store -- so the service never knows which engine answers. Decoding and inference run in the
embedding thread (:mod:`edgevec.server.batching`, which batches concurrent requests), store calls
use the async API (native where the backend has one, worker threads otherwise), and the event
loop stays free to answer ``/healthz`` under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edgevec.abase import AsyncBaseStore
from edgevec.aembedded import AsyncEmbeddedCollection
from edgevec.base import BaseStore
from edgevec.deadlines import deadline
from edgevec.embedders.protocol import Embedder, Matrix, Vector
from edgevec.errors import InvalidInputError
from edgevec.filters import Filter, as_filter
from edgevec.server.auth import BearerAuth
from edgevec.server.batching import Batcher
from edgevec.server.body import read_body, require_content_type
from edgevec.server.errors import ServiceError, error_response, response_for
from edgevec.server.metrics import RequestMetrics, default_registry
from edgevec.server.openapi import Operation, openapi_document
from edgevec.server.settings import ServiceSettings
from edgevec.threaded import ThreadedAsyncStore
from edgevec.types import Hits

__all__ = ["DEFAULT_K", "create_app"]

DEFAULT_K = 5
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "application/octet-stream"})
JSON_TYPES = frozenset({"application/json"})
READY_TIMEOUT_S = 2.0
"""How long ``/readyz`` waits for the store before calling it unreachable."""

StoreFactory = Callable[[], AsyncBaseStore | BaseStore]

logger = logging.getLogger("edgevec.server")


@dataclass
class _Stages:
    """Per-stage wall times of one request, sent back in the ``Server-Timing`` header."""

    start: float
    marks: list[tuple[str, float]]

    def mark(self, stage: str) -> None:
        self.marks.append((stage, time.perf_counter()))

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1e3

    def header(self) -> str:
        parts, last = [], self.start
        for stage, at in self.marks:
            parts.append(f"{stage};dur={(at - last) * 1e3:.3f}")
            last = at
        return ", ".join(parts)


def _stages() -> _Stages:
    return _Stages(time.perf_counter(), [])


def _json(data: object) -> bytes:
    return orjson.dumps(data, default=_jsonable, option=orjson.OPT_SERIALIZE_NUMPY)


def _jsonable(value: object) -> object:
    if isinstance(value, Mapping):  # payloads are Mappings; orjson takes dicts
        return dict(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _loads(body: bytes, what: str, code: str = "invalid_request") -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ServiceError(400, code, f"{what} is not valid JSON: {exc}") from exc


def _object(body: bytes) -> dict[str, Any]:
    data = _loads(body, "the request body")
    if not isinstance(data, dict):
        raise ServiceError(400, "invalid_request", "the request body must be a JSON object")
    return data


def _as_matrix(rows: object, what: str) -> Matrix:
    """JSON numbers to a float32 array (the store checks dimension, NaN and Inf)."""
    try:
        return np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ServiceError(422, "invalid_input", f"{what} must hold only numbers") from exc


class Service:
    """The app's state and endpoints: settings, the collection, the embedder and its threads."""

    def __init__(
        self,
        open_store: StoreFactory,
        settings: ServiceSettings,
        *,
        embedder: Embedder | None,
        registry: CollectorRegistry,
        close_store: bool,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._open_store = open_store
        self._close_store = close_store
        self._embedder = embedder
        self._store: AsyncBaseStore | None = None
        self._coll: AsyncEmbeddedCollection | None = None
        self._batcher: Batcher | None = None
        self.warmed_up = False
        self.default_k = min(DEFAULT_K, settings.max_k)
        self.kind = settings.embedder

    # -- lifecycle ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Load the model, open the collection and warm both up before the first request."""
        try:
            await self._start()
            yield
        finally:
            self.warmed_up = False
            if self._close_store and self._store is not None:
                await self._store.close()
            if self._batcher is not None:
                await asyncio.to_thread(self._batcher.close)

    async def _start(self) -> None:
        if self._embedder is None:
            self._embedder = await asyncio.to_thread(_bundled, self.kind)
        self._batcher = Batcher(self._embedder, self.settings.max_batch)
        store = self._open_store()
        self._store = ThreadedAsyncStore(store) if isinstance(store, BaseStore) else store
        self._coll = await self._store.collection(self.settings.collection, embedder=self.embedder)
        vector = await self._embed(_warmup_item(self.kind))
        await self.collection.query(vector, 1)  # loads the index: the first request is not cold
        self.warmed_up = True

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            raise ServiceError(503, "not_ready", "the model is still loading")
        return self._embedder

    @property
    def collection(self) -> AsyncEmbeddedCollection:
        if self._coll is None:
            raise ServiceError(503, "not_ready", "the collection is not open yet")
        return self._coll

    # -- shared steps -----------------------------------------------------------------------------

    async def _embed(self, item: object) -> Vector:
        """One item's vector from the embedding thread (which counts a rejected item)."""
        if self._batcher is None:
            raise ServiceError(503, "not_ready", "the model is still loading")
        return await self._batcher.embed(item)

    def _k(self, raw: object) -> int:
        if raw is None:
            return self.default_k
        if isinstance(raw, str) and raw.isdigit():
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= self.settings.max_k:
            raise ServiceError(
                400, "invalid_k", f"k must be an integer from 1 to {self.settings.max_k}"
            )
        return raw

    @staticmethod
    def _filter(raw: object) -> Filter | None:
        if raw is None:
            return None
        try:
            text = raw.encode() if isinstance(raw, str) else None
            parsed: Any = raw if text is None else _loads(text, "filter", "invalid_filter")
            return as_filter(parsed)
        except InvalidInputError as exc:
            raise ServiceError(400, "invalid_filter", str(exc)) from exc

    def _item(self, data: Mapping[str, Any], route: str) -> object:
        """The ``text`` of a JSON body, for a text embedder."""
        text = data.get("text")
        if self.kind != "text":
            raise ServiceError(
                422, "invalid_input",
                f"this service embeds images: send the image itself to {route}, or a vector",
            )  # fmt: skip
        if not isinstance(text, str):
            raise ServiceError(422, "invalid_input", "'text' must be a string")
        return text

    def _hits(self, hits: Hits, stages: _Stages) -> Response:
        elapsed = stages.elapsed_ms()
        body = _json(
            {
                "result": [{"id": h.id, "score": h.score, "payload": h.payload} for h in hits],
                "time": elapsed,
            }
        )
        stages.mark("serialise")
        return Response(
            body, media_type="application/json", headers={"Server-Timing": stages.header()}
        )

    # -- endpoints --------------------------------------------------------------------------------

    async def similarity(self, request: Request) -> Response:
        """Top-k records most similar to the image in the body."""
        stages = _stages()
        k = self._k(request.query_params.get("k"))
        flt = self._filter(request.query_params.get("filter"))
        require_content_type(request, IMAGE_TYPES)
        body = await read_body(request, self.settings.max_body_bytes)
        stages.mark("read")
        vector = await self._embed(body)
        stages.mark("embed")
        hits = await self.collection.query(vector, k, flt)
        stages.mark("search")
        return self._hits(hits, stages)

    async def search(self, request: Request) -> Response:
        """Top-k records nearest to a JSON vector (or text, with a text embedder)."""
        stages = _stages()
        require_content_type(request, JSON_TYPES)
        data = _object(await read_body(request, self.settings.max_body_bytes))
        k, flt = self._k(data.get("k")), self._filter(data.get("filter"))
        stages.mark("read")
        if "vector" in data:
            vector = _as_matrix(data["vector"], "'vector'")
        else:
            vector = await self._embed(self._item(data, "/similarity"))
            stages.mark("embed")
        hits = await self.collection.query(vector, k, flt)
        stages.mark("search")
        return self._hits(hits, stages)

    async def embed(self, request: Request) -> Response:
        """The vector of an image body (or of ``{"text": ...}``, with a text embedder)."""
        stages = _stages()
        require_content_type(request, IMAGE_TYPES if self.kind == "image" else JSON_TYPES)
        body = await read_body(request, self.settings.max_body_bytes)
        item = body if self.kind == "image" else self._item(_object(body), "/embed")
        vector = await self._embed(item)
        return Response(
            _json({"vector": vector, "dim": int(vector.shape[0]), "time": stages.elapsed_ms()}),
            media_type="application/json",
        )

    async def upsert(self, request: Request) -> Response:
        """Insert or replace records: JSON ``records`` with vectors, or one image (``?id=``)."""
        stages = _stages()
        media = require_content_type(request, IMAGE_TYPES | JSON_TYPES)
        if media in IMAGE_TYPES:
            id_ = request.query_params.get("id")
            if not id_:
                raise ServiceError(400, "invalid_request", "an image upsert needs ?id=")
            payload = request.query_params.get("payload")
            payloads = [_loads(payload.encode(), "payload")] if payload is not None else None
            body = await read_body(request, self.settings.max_body_bytes)
            vectors = (await self._embed(body))[None, :]
            ids = [id_]
        else:
            records = _object(await read_body(request, self.settings.max_body_bytes)).get("records")
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise ServiceError(400, "invalid_request", "'records' must be a list of objects")
            ids = [r.get("id") for r in records]
            vectors = _as_matrix([r.get("vector") for r in records], "each record's 'vector'")
            payloads = [r.get("payload") for r in records]
        await self.collection.upsert_arrays(ids, vectors, payloads)
        return Response(
            _json({"upserted": len(ids), "time": stages.elapsed_ms()}),
            media_type="application/json",
        )

    async def delete_items(self, request: Request) -> Response:
        """Delete records by ``ids`` or by ``filter`` (a JSON body with one of them)."""
        stages = _stages()
        require_content_type(request, JSON_TYPES)
        data = _object(await read_body(request, self.settings.max_body_bytes))
        if ("ids" in data) == ("filter" in data):
            raise ServiceError(400, "invalid_request", "send exactly one of 'ids' and 'filter'")
        if "ids" in data:
            ids = data["ids"]
            if not isinstance(ids, list):
                raise ServiceError(400, "invalid_request", "'ids' must be a list")
            await self.collection.delete(ids=ids)
        else:
            await self.collection.delete(filter=self._filter(data["filter"]))
        return Response(_json({"time": stages.elapsed_ms()}), media_type="application/json")

    async def healthz(self, request: Request) -> Response:
        """Liveness: the process answers (nothing else is checked)."""
        return Response(_json({"status": "ok"}), media_type="application/json")

    async def readyz(self, request: Request) -> Response:
        """Readiness: model loaded, warm-up done, store reachable now."""
        checks = {
            "model": self._embedder is not None,
            "warmup": self.warmed_up,
            "store": await self._store_reachable(),
        }
        if all(checks.values()):
            return Response(
                _json({"status": "ready", "checks": checks}), media_type="application/json"
            )
        failed = ", ".join(name for name, ok in checks.items() if not ok)
        body = {"error": {"code": "not_ready", "message": f"not ready: {failed}"}, "checks": checks}
        return Response(_json(body), status_code=503, media_type="application/json")

    async def _store_reachable(self) -> bool:
        if self._coll is None:
            return False
        try:
            with deadline(READY_TIMEOUT_S):
                await self._coll.count()
        except Exception:  # any failure means "not ready"; the reason is the store's to log
            return False
        return True

    async def metrics(self, request: Request) -> Response:
        """Prometheus text exposition of edgevec's instruments."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _bundled(kind: str) -> Embedder:
    from edgevec.embedders import image_embedder, text_embedder

    return image_embedder() if kind == "image" else text_embedder()


def _warmup_item(kind: str) -> object:
    """A small synthetic input that takes the whole path: decode, preprocess, inference."""
    if kind == "text":
        return "warm-up"
    from PIL import Image

    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").resize((64, 64)).save(out, format="PNG")
    return out.getvalue()


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    """Every failure of ``handler`` as the service's JSON error (a 5xx without internals)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:  # the response says what the client may know; the log the rest
            return response_for(exc)

    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 and 405 from the router, in the same JSON shape as every other error."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


def operations(service: Service) -> list[Operation]:
    """The routes this service has, with what each accepts and answers (also its OpenAPI)."""
    image_or_json = "image" if service.kind == "image" else "json"
    bad_json = (400, 413, 415, 422)
    ops = [
        Operation("/healthz", "GET", service.healthz, public=True, responses=(200,)),
        Operation("/readyz", "GET", service.readyz, public=True, responses=(200, 503)),
        Operation("/metrics", "GET", service.metrics, responses=(200,)),
        Operation(
            "/search", "POST", service.search, body="search", responses=(200, 400, 413, 415, 422),
            store=True,
        ),
        Operation(
            "/embed", "POST", service.embed, body=image_or_json,
            responses=(200, 413, 415, 422) if service.kind == "image" else (200, *bad_json),
        ),
    ]  # fmt: skip
    if service.kind == "image":
        ops.append(
            Operation(
                "/similarity", "POST", service.similarity, body="image", query=("k", "filter"),
                responses=(200, 400, 413, 415, 422), store=True,
            )
        )  # fmt: skip
    if service.settings.writes:
        ops += [
            Operation(
                "/upsert", "POST", service.upsert, body="upsert", query=("id", "payload"),
                responses=(200, 400, 413, 415, 422), store=True,
            ),
            Operation(
                "/items", "DELETE", service.delete_items, body="delete",
                responses=(200, 400, 413, 415, 422), store=True,
            ),
        ]  # fmt: skip
    return ops


def create_app(
    store: AsyncBaseStore | BaseStore,
    settings: ServiceSettings,
    *,
    embedder: Embedder | None = None,
    registry: CollectorRegistry | None = None,
) -> Starlette:
    """The service's ASGI app over ``store`` (which the caller keeps and closes).

    ``embedder``: the model whose vectors ``settings.collection`` holds; ``None`` loads the
    bundled one ``settings.embedder`` names. Either way the collection's recorded fingerprint
    must match. ``registry``: what ``/metrics`` serves; ``None`` installs edgevec's Prometheus
    exporter once per process (see :mod:`edgevec.server.metrics`).
    """
    return build_app(lambda: store, settings, embedder=embedder, registry=registry)


def build_app(
    open_store: StoreFactory,
    settings: ServiceSettings,
    *,
    embedder: Embedder | None = None,
    registry: CollectorRegistry | None = None,
    close_store: bool = False,
) -> Starlette:
    """:func:`create_app` with the store opened at start-up (inside the server's event loop,
    where native async clients must be made) and, with ``close_store``, closed at shutdown."""
    if registry is None:
        registry = default_registry()
    if not settings.api_keys:
        logger.warning("[service] api_keys is empty: every endpoint answers without a key")
    service = Service(
        open_store, settings, embedder=embedder, registry=registry, close_store=close_store
    )
    ops = operations(service)
    document: list[bytes] = []  # filled below: the document lists its own route too

    async def openapi(request: Request) -> Response:
        """This OpenAPI document."""
        return Response(document[0], media_type="application/json")

    ops.append(Operation("/openapi.json", "GET", openapi, responses=(200,)))
    document.append(_json(openapi_document(ops, settings)))
    paths = frozenset(op.path for op in ops)
    return Starlette(
        routes=[Route(op.path, _guarded(op.handler), methods=[op.method]) for op in ops],
        middleware=[
            Middleware(RequestMetrics, routes=paths),
            Middleware(BearerAuth, keys=settings.keys()),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=service.lifespan,
    )
