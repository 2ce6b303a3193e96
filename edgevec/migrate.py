"""Copy a collection between any two stores, then check that the copy holds what the source does.

Swapping the backend by config includes the data: :func:`migrate` reads the source with
:meth:`~edgevec.base.BaseCollection.scan` and writes pages with ``upsert``, so it works between
any two backends and never holds more than one page. It is resumable: upserts are idempotent, and
ids already in the target with the same content are skipped, so a second run after an
interruption finishes the job without writing twice. :func:`verify` (run by ``migrate`` at the
end, usable alone) compares counts and a random sample of records, vectors and payloads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edgevec.base import BaseCollection, BaseStore
from edgevec.errors import CollectionExistsError, InvalidInputError, VerificationError
from edgevec.prepare import check_page_size
from edgevec.types import CollectionSpec, Metric, Record

__all__ = ["VECTOR_ATOL", "VECTOR_RTOL", "MigrationReport", "VerifyReport", "migrate", "verify"]

VECTOR_RTOL = 1e-5
VECTOR_ATOL = 1e-6
"""Vectors compare equal within these tolerances (``numpy.allclose``), not bit for bit: backends
that keep cosine vectors unit-length (FAISS, Qdrant) give back the written vector rescaled from
float32, a few units in the last place away. A different vector is far outside them."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify` found; ``ok`` only if counts match and every sampled record does."""

    source_count: int
    target_count: int
    sampled: int
    """How many source records were compared with the target."""
    missing: tuple[str, ...]
    """Sampled ids the target lacks."""
    different: tuple[tuple[str, str], ...]
    """``(id, what)`` for sampled records whose ``"vector"``, ``"payload"`` or
    ``"vector, payload"`` differ in the target."""

    @property
    def ok(self) -> bool:
        return self.source_count == self.target_count and not self.missing and not self.different

    def describe(self) -> str:
        """One line for people: what was compared and, if anything, what differs."""
        if self.ok:
            return f"verified: {self.target_count} records, {self.sampled} sampled, all equal"
        problems = []
        if self.source_count != self.target_count:
            problems.append(f"source has {self.source_count} records, target {self.target_count}")
        if self.missing:
            problems.append(f"target lacks {_some([repr(rid) for rid in self.missing])}")
        if self.different:
            problems.append(
                "records differ: " + _some([f"{rid!r} ({what})" for rid, what in self.different])
            )
        return "verification failed: " + "; ".join(problems)


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What :func:`migrate` did, and the verification that ended it."""

    source_collection: str
    target_collection: str
    read: int
    """Records read from the source."""
    written: int
    """Records written to the target (new or different there)."""
    skipped: int
    """Records already in the target with the same content (a resumed run)."""
    seconds: float
    verification: VerifyReport

    @property
    def ok(self) -> bool:
        return self.verification.ok


def migrate(
    source: BaseStore,
    target: BaseStore,
    collection: str,
    *,
    target_collection: str | None = None,
    batch_size: int = 256,
    verify_sample: int = 100,
    progress: Callable[[int], None] | None = None,
) -> MigrationReport:
    """Copy ``collection`` from ``source`` to ``target`` (as ``target_collection``), then verify.

    The target collection is created with the source's dim, metric, declared fields and
    embedder fingerprint if it is missing; an existing one with any of these different is
    refused with :class:`~edgevec.errors.CollectionExistsError` before anything is written.
    Records are read and written ``batch_size`` at a time; ``progress`` is called after each
    page with the number of records it held (for a progress bar; ``source.collection(name)
    .count()`` gives the total). Records already in the target with equal content are not
    written again, so rerunning after an interruption is cheap and safe. Records the target
    holds beyond the source's are left alone (and fail the count check).

    Raises :class:`~edgevec.errors.VerificationError` (its ``report`` says what differs) if the
    copy does not verify; see :func:`verify`.
    """
    size = check_page_size(batch_size, "batch_size")
    sample = _check_sample(verify_sample, "verify_sample")
    dest_name = target_collection or collection
    if source is target and dest_name == collection:
        raise InvalidInputError(f"source and target are the same collection {collection!r}")
    started = time.perf_counter()
    src = source.collection(collection)
    dst = _target(target, dest_name, src.spec)
    read = written = 0
    for page in src.scan(page_size=size):
        changed = _not_in(dst, page)
        if changed:
            dst.upsert(changed)
        read += len(page)
        written += len(changed)
        if progress is not None:
            progress(len(page))
    report = _verify(src, dst, size, sample, None)
    result = MigrationReport(
        collection, dest_name, read, written, read - written,
        time.perf_counter() - started, report,
    )  # fmt: skip
    if not report.ok:
        raise VerificationError(report)
    return result


def verify(
    source: BaseStore,
    target: BaseStore,
    collection: str,
    *,
    target_collection: str | None = None,
    sample: int = 100,
    batch_size: int = 256,
    seed: int | None = None,
) -> VerifyReport:
    """Compare a collection with its copy: the counts, and ``sample`` ids drawn uniformly at
    random from the source (``seed`` makes the draw repeatable) read from both and compared,
    vector (within :data:`VECTOR_RTOL`/:data:`VECTOR_ATOL`) and payload (exactly).

    Returns a report (``ok`` false names what differs) rather than raising, so a caller can
    show it; :func:`migrate` raises it as :class:`~edgevec.errors.VerificationError`.
    """
    size = check_page_size(batch_size, "batch_size")
    count = _check_sample(sample, "sample")
    src = source.collection(collection)
    dst = target.collection(target_collection or collection)
    return _verify(src, dst, size, count, seed)


# -- target --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RecordedEmbedder:
    """The embedder a source collection records, known by its fingerprint only: it lets the
    target be created recording the same one, and never embeds."""

    dim: int
    metric: Metric
    fingerprint: str

    def embed(self, items: Sequence[Any]) -> npt.NDArray[np.float32]:
        raise InvalidInputError(
            f"{self.fingerprint!r} is only recorded here; bind the embedder itself to embed"
        )

    async def aembed(self, items: Sequence[Any]) -> npt.NDArray[np.float32]:
        return self.embed(items)


def _target(store: BaseStore, name: str, spec: CollectionSpec) -> BaseCollection:
    """The target collection, created like ``spec`` if missing; refused if it differs."""
    if store.has_collection(name):
        coll = store.collection(name)
    elif spec.fingerprint is None:
        coll = store.create_collection(
            name, spec.dim, spec.metric, exist_ok=True, fields=spec.fields
        )
    else:
        recorded = _RecordedEmbedder(spec.dim, spec.metric, spec.fingerprint)
        coll = store.create_collection(name, exist_ok=True, embedder=recorded, fields=spec.fields)
    got = coll.spec
    differences = [
        f"{what} {mine!r} (source: {theirs!r})"
        for what, mine, theirs in (
            ("dim", got.dim, spec.dim),
            ("metric", got.metric, spec.metric),
            ("declared fields", dict(got.fields), dict(spec.fields)),
            ("embedder", got.fingerprint, spec.fingerprint),
        )
        if mine != theirs
    ]
    if differences:
        raise CollectionExistsError(
            f"target collection {name!r} exists with {', '.join(differences)}; nothing was "
            "written (drop it, or migrate to another target_collection)"
        )
    return coll


# -- comparing -----------------------------------------------------------------------------


def _differences(mine: Sequence[Record], theirs: Sequence[Record]) -> list[str | None]:
    """For each pair of records of one id, ``None`` or what differs (``"vector"``,
    ``"payload"`` or both); the vectors are compared as two matrices, not row by row."""
    close = _rows_close([r.vector for r in mine], [r.vector for r in theirs])
    out: list[str | None] = []
    for a, b, same_vector in zip(mine, theirs, close.tolist(), strict=True):
        parts = [] if same_vector else ["vector"]
        if dict(a.payload) != dict(b.payload):
            parts.append("payload")
        out.append(", ".join(parts) or None)
    return out


def _rows_close(
    a: Sequence[npt.NDArray[np.float32] | None], b: Sequence[npt.NDArray[np.float32] | None]
) -> npt.NDArray[np.bool_]:
    """Row ``i``: are ``a[i]`` and ``b[i]`` both present, of one shape and equal within the
    tolerances? (The vectors of ``a`` come from one collection: one shape.)"""
    pairs = [
        (i, x, y)
        for i, (x, y) in enumerate(zip(a, b, strict=True))
        if x is not None and y is not None and x.shape == y.shape
    ]
    out = np.zeros(len(a), dtype=np.bool_)
    if pairs:
        left = np.stack([x for _, x, _ in pairs])
        right = np.stack([y for _, _, y in pairs])
        close = np.isclose(left, right, rtol=VECTOR_RTOL, atol=VECTOR_ATOL).all(axis=1)
        out[[i for i, _, _ in pairs]] = close
    return out


def _not_in(dst: BaseCollection, page: list[Record]) -> list[Record]:
    """The records of ``page`` that ``dst`` lacks or holds with other content."""
    held = {r.id: r for r in dst.get([r.id for r in page])}
    both = [r for r in page if r.id in held]
    same = {r.id for r, d in zip(both, _differences(both, [held[r.id] for r in both])) if d is None}
    return [r for r in page if r.id not in same]


def _verify(
    src: BaseCollection, dst: BaseCollection, size: int, sample: int, seed: int | None
) -> VerifyReport:
    ids = _sample_ids(src, sample, size, np.random.default_rng(seed))
    missing: list[str] = []
    different: list[tuple[str, str]] = []
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        theirs = {r.id: r for r in dst.get(chunk)}
        # A sampled id the source deleted since is skipped: ``get`` leaves it out.
        mine = src.get(chunk)
        missing.extend(r.id for r in mine if r.id not in theirs)
        both = [r for r in mine if r.id in theirs]
        for r, what in zip(both, _differences(both, [theirs[r.id] for r in both])):
            if what is not None:
                different.append((r.id, what))
    return VerifyReport(src.count(), dst.count(), len(ids), tuple(missing), tuple(different))


def _sample_ids(
    coll: BaseCollection, sample: int, size: int, rng: np.random.Generator
) -> list[str]:
    """``sample`` ids drawn uniformly without replacement, in one pass and O(sample) memory:
    every id gets a random key and the smallest keys win (bottom-k sampling)."""
    if sample == 0:
        return []
    kept_ids: npt.NDArray[np.object_] = np.empty(0, dtype=object)
    kept_keys: npt.NDArray[np.float64] = np.empty(0, dtype=np.float64)
    for page in coll.scan(page_size=size, include_vectors=False, include_payload=False):
        ids = np.concatenate([kept_ids, np.array([r.id for r in page], dtype=object)])
        keys = np.concatenate([kept_keys, rng.random(len(page))])
        if len(keys) > sample:
            best = np.argpartition(keys, sample - 1)[:sample]
            ids, keys = ids[best], keys[best]
        kept_ids, kept_keys = ids, keys
    return [str(i) for i in kept_ids]


def _check_sample(sample: object, name: str) -> int:
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise InvalidInputError(f"{name} must be a non-negative int, got {sample!r}")
    return sample


def _some(items: Sequence[str], shown: int = 5) -> str:
    """The first few of ``items``, and how many more there are."""
    head = ", ".join(items[:shown])
    return head + (f" and {len(items) - shown} more" if len(items) > shown else "")
