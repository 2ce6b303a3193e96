"""The service's state and endpoints: settings, the collection, the embedder and its thread.

One :class:`Service` per app. Its lifespan loads the model, opens the collection (checking the
embedder's fingerprint) and warms both up before the server accepts a connection; its endpoints
parse and check everything about a request before any work, so a rejected request changes
nothing; decoding and inference run in the embedding thread (:mod:`edgevec.server.batching`) and
store calls use the async API, so the event loop stays free to answer ``/healthz`` under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from edgevec.abase import AsyncBaseStore
from edgevec.aembedded import AsyncEmbeddedCollection
from edgevec.base import BaseStore
from edgevec.deadlines import deadline
from edgevec.embedders.protocol import Embedder, Vector
from edgevec.errors import InvalidInputError
from edgevec.filters import Filter, as_filter
from edgevec.server.batching import Batcher
from edgevec.server.body import read_body, require_content_type
from edgevec.server.codec import JSON, dumps, float_array, json_object, json_response, loads
from edgevec.server.errors import ServiceError
from edgevec.server.settings import ServiceSettings
from edgevec.server.timing import Stages
from edgevec.threaded import ThreadedAsyncStore

__all__ = ["DEFAULT_K", "IMAGE_TYPES", "JSON_TYPES", "Service", "StoreFactory"]

DEFAULT_K = 5
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "application/octet-stream"})
JSON_TYPES = frozenset({"application/json"})
READY_TIMEOUT_S = 2.0
"""How long ``/readyz`` waits for the store before calling it unreachable."""

StoreFactory = Callable[[], AsyncBaseStore | BaseStore]


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
            parsed: Any = raw if text is None else loads(text, "filter", "invalid_filter")
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

    async def _nearest(
        self, vector: Vector, k: int, flt: Filter | None, stages: Stages
    ) -> Response:
        """The ``k`` records nearest to ``vector`` as the response, searching and serialising
        timed as stages after those the endpoint marked."""
        hits = await self.collection.query(vector, k, flt)
        stages.mark("search")
        elapsed = stages.elapsed_ms()
        body = dumps(
            {
                "result": [{"id": h.id, "score": h.score, "payload": h.payload} for h in hits],
                "time": elapsed,
            }
        )
        stages.mark("serialise")
        return Response(body, media_type=JSON, headers={"Server-Timing": stages.header()})

    # -- endpoints --------------------------------------------------------------------------------

    async def similarity(self, request: Request) -> Response:
        """Top-k records most similar to the image in the body."""
        stages = Stages.begin()
        k = self._k(request.query_params.get("k"))
        flt = self._filter(request.query_params.get("filter"))
        require_content_type(request, IMAGE_TYPES)
        body = await read_body(request, self.settings.max_body_bytes)
        stages.mark("read")
        vector = await self._embed(body)
        stages.mark("embed")
        return await self._nearest(vector, k, flt, stages)

    async def search(self, request: Request) -> Response:
        """Top-k records nearest to a JSON vector (or text, with a text embedder)."""
        stages = Stages.begin()
        require_content_type(request, JSON_TYPES)
        data = json_object(await read_body(request, self.settings.max_body_bytes))
        k, flt = self._k(data.get("k")), self._filter(data.get("filter"))
        stages.mark("read")
        if "vector" in data:
            vector = float_array(data["vector"], "'vector'")
        else:
            vector = await self._embed(self._item(data, "/similarity"))
            stages.mark("embed")
        return await self._nearest(vector, k, flt, stages)

    async def embed(self, request: Request) -> Response:
        """The vector of an image body (or of ``{"text": ...}``, with a text embedder)."""
        stages = Stages.begin()
        require_content_type(request, IMAGE_TYPES if self.kind == "image" else JSON_TYPES)
        body = await read_body(request, self.settings.max_body_bytes)
        item = body if self.kind == "image" else self._item(json_object(body), "/embed")
        vector = await self._embed(item)
        return json_response(
            {"vector": vector, "dim": int(vector.shape[0]), "time": stages.elapsed_ms()}
        )

    async def upsert(self, request: Request) -> Response:
        """Insert or replace records: JSON ``records`` with vectors, or one image (``?id=``)."""
        stages = Stages.begin()
        media = require_content_type(request, IMAGE_TYPES | JSON_TYPES)
        if media in IMAGE_TYPES:
            id_ = request.query_params.get("id")
            if not id_:
                raise ServiceError(400, "invalid_request", "an image upsert needs ?id=")
            payload = request.query_params.get("payload")
            payloads = [loads(payload.encode(), "payload")] if payload is not None else None
            body = await read_body(request, self.settings.max_body_bytes)
            vectors = (await self._embed(body))[None, :]
            ids = [id_]
        else:
            body = await read_body(request, self.settings.max_body_bytes)
            records = json_object(body).get("records")
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise ServiceError(400, "invalid_request", "'records' must be a list of objects")
            ids = [r.get("id") for r in records]
            vectors = float_array([r.get("vector") for r in records], "each record's 'vector'")
            payloads = [r.get("payload") for r in records]
        await self.collection.upsert_arrays(ids, vectors, payloads)
        return json_response({"upserted": len(ids), "time": stages.elapsed_ms()})

    async def delete_items(self, request: Request) -> Response:
        """Delete records by ``ids`` or by ``filter`` (a JSON body with one of them)."""
        stages = Stages.begin()
        require_content_type(request, JSON_TYPES)
        data = json_object(await read_body(request, self.settings.max_body_bytes))
        if ("ids" in data) == ("filter" in data):
            raise ServiceError(400, "invalid_request", "send exactly one of 'ids' and 'filter'")
        if "ids" in data:
            ids = data["ids"]
            if not isinstance(ids, list):
                raise ServiceError(400, "invalid_request", "'ids' must be a list")
            await self.collection.delete(ids=ids)
        else:
            await self.collection.delete(filter=self._filter(data["filter"]))
        return json_response({"time": stages.elapsed_ms()})

    async def healthz(self, request: Request) -> Response:
        """Liveness: the process answers (nothing else is checked)."""
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """Readiness: model loaded, warm-up done, store reachable now."""
        checks = {
            "model": self._embedder is not None,
            "warmup": self.warmed_up,
            "store": await self._store_reachable(),
        }
        if all(checks.values()):
            return json_response({"status": "ready", "checks": checks})
        failed = ", ".join(name for name, ok in checks.items() if not ok)
        body = {"error": {"code": "not_ready", "message": f"not ready: {failed}"}, "checks": checks}
        return json_response(body, status=503)

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
