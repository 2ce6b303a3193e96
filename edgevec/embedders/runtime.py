"""What every ONNX embedder shares: a session built from verified bytes, batching, the cache.

Subclasses say how to check one item (cheap, before any model work, so a bad item fails the call
before anything runs) and how to turn a batch of checked items into vectors. This base class owns
the rest: deduplication within a call, the embedding cache, batches of ``batch_size``, L2
normalisation, the fingerprint, and ``aembed`` in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import orjson

from edgevec.embedders.cache import EmbeddingCache, content_key
from edgevec.embedders.models import ModelFile
from edgevec.embedders.protocol import Matrix
from edgevec.errors import ConfigError, InvalidInputError, MissingDependencyError
from edgevec.telemetry import instruments
from edgevec.types import Metric, check_metric

__all__ = ["INSTALL_HINT", "OnnxEmbedder", "Providers", "fingerprint_of", "make_session", "require"]

INSTALL_HINT = 'pip install "edgevec[onnx]"'

Providers = Sequence[str | tuple[str, Mapping[str, Any]]] | str | None
"""onnxruntime execution providers: ``None`` (CPU), ``"auto"`` (CUDA when available, else CPU), or
an explicit list as onnxruntime takes it."""

Checked = TypeVar("Checked")


def require(module: str) -> Any:
    """Import an optional dependency of the ``onnx`` extra, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"edgevec's embedders need {module.split('.')[0]}: {INSTALL_HINT}"
        ) from exc


def _resolve_providers(ort: Any, providers: Providers) -> list[Any]:
    available = list(ort.get_available_providers())
    if providers is None:
        return ["CPUExecutionProvider"]
    if providers == "auto":
        gpu = [p for p in ("CUDAExecutionProvider", "ROCMExecutionProvider") if p in available]
        return [*gpu[:1], "CPUExecutionProvider"]
    if isinstance(providers, str):
        raise ConfigError(f"providers must be None, 'auto' or a list, got {providers!r}")
    resolved = list(providers)
    for p in resolved:
        name = p if isinstance(p, str) else p[0]
        if name not in available:
            raise ConfigError(
                f"onnxruntime execution provider {name!r} is not available here; "
                f"available: {', '.join(available)} (CUDA needs the onnxruntime-gpu package)"
            )
    return resolved


def make_session(
    model: ModelFile,
    *,
    providers: Providers = None,
    threads: int | None = None,
    spin: bool = False,
) -> Any:
    """An ``onnxruntime.InferenceSession`` over ``model``'s verified bytes.

    ``spin``: let onnxruntime's worker threads busy-wait between runs. That shaves ~6 % off
    back-to-back calls of one model, but the spinning threads take the cores from everything
    else in the process -- a second model, FAISS, the web server: two spinning sessions on two
    cores each ran 2x slower here. Off by default.
    """
    ort = require("onnxruntime")
    if threads is not None and (isinstance(threads, bool) or threads < 1):
        raise ConfigError(f"threads must be a positive int or None, got {threads!r}")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only: the CPU provider's notes are not the user's concern
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    chosen = _resolve_providers(ort, providers)
    data = model.read()  # checked against the pinned SHA-256; these bytes are what runs
    try:
        session = ort.InferenceSession(data, sess_options=opts, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own pybind types (Fail, InvalidProtobuf)
        raise ConfigError(f"onnxruntime cannot load model {model.name!r}: {exc}") from exc
    instruments().embedder_cold_starts.add(1, {"model": model.name})
    return session


def fingerprint_of(kind: str, name: str, sha256: str, dim: int, preprocessing: object) -> str:
    """``kind:name;sha256=...;dim=...;pre=...`` -- ``pre`` hashes the canonical preprocessing."""
    canon = orjson.dumps(preprocessing, option=orjson.OPT_SORT_KEYS)
    pre = hashlib.sha256(canon).hexdigest()[:16]
    return f"{kind}:{name};sha256={sha256};dim={dim};pre={pre}"


class OnnxEmbedder(ABC, Generic[Checked]):
    """Batching, caching and normalisation around a subclass's ``_check`` and ``_run``."""

    kind: ClassVar[str]
    error: ClassVar[type[InvalidInputError]] = InvalidInputError
    """What a bad item raises."""
    item_name: ClassVar[str] = "item"

    def __init__(
        self,
        *,
        name: str,
        sha256: str,
        dim: int,
        metric: str,
        normalize: bool,
        preprocessing: Mapping[str, Any],
        batch_size: int,
        cache: EmbeddingCache | bool,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        self._name = name
        self._dim = dim
        self._metric = check_metric(metric)
        self.normalize = normalize
        self.batch_size = batch_size
        self.preprocessing = dict(preprocessing)
        self._fingerprint = fingerprint_of(self.kind, name, sha256, dim, self.preprocessing)
        if cache is True:
            self.cache: EmbeddingCache | None = EmbeddingCache()
        elif cache is False:
            self.cache = None
        else:
            self.cache = cache

    # -- the Embedder protocol --------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def metric(self) -> Metric:
        return self._metric

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed(self, items: Sequence[Any]) -> Matrix:
        """``(len(items), dim)`` float32 vectors (L2-normalised unless configured otherwise).

        Every item is checked before any model work, so one bad item fails the whole call with
        the item's index in the message. Repeated items (within the call, or cached from an
        earlier one) are embedded once.
        """
        try:
            return self._embed(items)
        except InvalidInputError as exc:  # counted: an input the embedder rejects
            attributes = {"embedder": self.kind, "error.type": type(exc).__name__}
            instruments().embedding_failures.add(1, attributes)
            raise

    def _embed(self, items: Sequence[Any]) -> Matrix:
        if isinstance(items, str | bytes | bytearray | memoryview):
            raise self.error(
                f"embed takes a list of {self.item_name}s, not a single {type(items).__name__}"
            )
        checked = [self._check(i, item) for i, item in enumerate(items)]
        out = np.empty((len(checked), self.dim), dtype=np.float32)
        todo: dict[tuple[str, bytes], list[int]] = {}
        for i, c in enumerate(checked):
            todo.setdefault(content_key(self.fingerprint, self._content(c)), []).append(i)
        pending: list[tuple[tuple[str, bytes], list[int]]] = []
        for key, rows in todo.items():
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is None:
                pending.append((key, rows))
            else:
                out[rows] = hit
        pending = self._order(pending, checked)
        for start in range(0, len(pending), self.batch_size):
            part = pending[start : start + self.batch_size]
            vecs = self._finish(
                self._run([(rows[0], checked[rows[0]]) for _, rows in part]),
                [rows[0] for _, rows in part],
            )
            for (key, rows), vec in zip(part, vecs):
                out[rows] = vec
                if self.cache is not None:
                    self.cache.put(key, vec)
        return out

    async def aembed(self, items: Sequence[Any]) -> Matrix:
        """:meth:`embed` in a worker thread; onnxruntime releases the GIL while it runs."""
        return await asyncio.to_thread(self.embed, items)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.fingerprint!r}>"

    # -- subclass hooks ---------------------------------------------------------------------

    @abstractmethod
    def _check(self, index: int, item: Any) -> Checked:
        """Validate one item cheaply (no model run); raise :attr:`error` naming ``index``."""

    @abstractmethod
    def _content(self, checked: Checked) -> bytes:
        """The bytes that decide the item's vector (what the cache key hashes)."""

    @abstractmethod
    def _run(self, batch: list[tuple[int, Checked]]) -> Matrix:
        """Raw (un-normalised) vectors for a batch of ``(index, checked item)``."""

    def _order(
        self, pending: list[tuple[tuple[str, bytes], list[int]]], checked: list[Checked]
    ) -> list[tuple[tuple[str, bytes], list[int]]]:
        """The order to batch pending items in (text sorts by length to pad less)."""
        return pending

    # -- helpers ----------------------------------------------------------------------------

    def _finish(self, raw: Matrix, indices: list[int]) -> Matrix:
        vecs = np.asarray(raw, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            raise ConfigError(
                f"model {self.name!r} returned shape {vecs.shape}, expected (n, {self.dim})"
            )
        bad = ~np.isfinite(vecs).all(axis=1)
        if self.normalize:
            norms = np.linalg.norm(vecs, axis=1)
            bad |= norms == 0
            vecs = vecs / np.where(norms == 0, np.float32(1), norms)[:, None]
        if bad.any():
            i = indices[int(np.flatnonzero(bad)[0])]
            raise self.error(f"{self.item_name} #{i} gave a zero or non-finite embedding")
        return np.ascontiguousarray(vecs, dtype=np.float32)
