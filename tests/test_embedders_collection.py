"""Collections bound to an embedder, end to end on FAISS: add, search, fingerprint checks.

The protocol-level tests use a small deterministic embedder written here (any object with the
``Embedder`` members works), so they need only FAISS; the end-to-end ones use the bundled models
and skip without the ``onnx`` extra.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("faiss", reason='needs the faiss extra: pip install "edgevec[faiss]"')

import edgevec
from edgevec.aembedded import AsyncEmbeddedCollection
from edgevec.embedded import EmbeddedCollection
from edgevec.errors import (
    EmbedderMismatchError,
    InvalidImageError,
    InvalidInputError,
)
from edgevec.types import Metric

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnxruntime", "tokenizers", "PIL"))
needs_onnx = pytest.mark.skipif(
    not HAS_ONNX, reason='needs the onnx extra: pip install "edgevec[onnx]"'
)
PHOTOS = Path(__file__).parent / "data" / "photos"


class WordEmbedder:
    """A real (if crude) text embedder: each word hashes to a random unit direction."""

    def __init__(self, dim: int = 16, salt: str = "a") -> None:
        self._dim = dim
        self.salt = salt
        self.calls = 0

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def metric(self) -> Metric:
        return "cosine"

    @property
    def fingerprint(self) -> str:
        return f"words:{self.salt};dim={self._dim}"

    def embed(self, items: Sequence[Any]) -> npt.NDArray[np.float32]:
        self.calls += 1
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        for i, text in enumerate(items):
            if not isinstance(text, str) or not text:
                raise InvalidInputError(f"text #{i} is not a non-empty str")
            for word in text.split():
                seed = int.from_bytes(
                    hashlib.sha256((self.salt + word).encode()).digest()[:8], "big"
                )
                out[i] += np.random.default_rng(seed).normal(size=self._dim)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    async def aembed(self, items: Sequence[Any]) -> npt.NDArray[np.float32]:
        return await asyncio.to_thread(self.embed, items)


DOCS = ["red apple pie", "green apple tart", "blue sky today", "grey sky rain"]


def test_create_add_search() -> None:
    emb = WordEmbedder()
    with edgevec.connect("faiss") as store:
        coll: EmbeddedCollection = store.create_collection("docs", embedder=emb)  # typed overload
        assert (coll.dim, coll.metric, coll.spec.fingerprint) == (16, "cosine", emb.fingerprint)
        coll.add(["a", "b", "c", "d"], DOCS, payloads=[{"n": i} for i in range(4)])
        hits = coll.search("apple", k=2)
        assert sorted(hits.ids) == ["a", "b"]
        assert coll.search("sky", k=1, filter=edgevec.F("n") == 3).ids == ["d"]
        assert coll.count() == 4  # every plain collection method still works
        assert coll.get(["c"])[0].payload == {"n": 2}
        coll.delete(["c"])
        assert coll.count() == 4 - 1
        assert "embedder='words:a;dim=16'" in repr(coll)


def test_dim_and_metric_come_from_the_embedder() -> None:
    emb = WordEmbedder(dim=16)
    with edgevec.connect("faiss") as store:
        store.create_collection("ok", 16, "cosine", embedder=emb)  # agreeing values are fine
        with pytest.raises(InvalidInputError, match="dim=8 conflicts with the embedder's dim=16"):
            store.create_collection("bad_dim", 8, embedder=emb)
        with pytest.raises(InvalidInputError, match="metric='l2' conflicts"):
            store.create_collection("bad_metric", metric="l2", embedder=emb)
        with pytest.raises(InvalidInputError, match="needs dim="):
            store.create_collection("no_dim")  # type: ignore[call-overload]
        with pytest.raises(InvalidInputError, match="must provide dim, metric, fingerprint"):
            store.create_collection("junk", embedder=object())  # type: ignore[call-overload]
        assert store.list_collections() == ["ok"]


def test_a_bad_item_writes_nothing() -> None:
    emb = WordEmbedder()
    with edgevec.connect("faiss") as store:
        coll = store.create_collection("docs", embedder=emb)
        coll.add(["a"], ["first doc"])
        ids = [f"id{i}" for i in range(10)]
        items: list[Any] = [f"doc number {i}" for i in range(10)]
        items[7] = 7  # the last batch is bad ...
        with pytest.raises(InvalidInputError, match="text #7 is not a non-empty str"):
            coll.add(ids, items, batch_size=3)  # #7 of add's items, not #1 of the third batch
        assert coll.count() == 1  # ... and the first batches were not written either
        with pytest.raises(InvalidInputError, match="2 ids but 1 items"):
            coll.add(["x", "y"], ["only one"])
        with pytest.raises(InvalidInputError, match="payload #0 is not JSON"):
            coll.add(["x"], ["doc"], payloads=[{"bad": object()}])
        assert coll.count() == 1


def test_a_bad_item_without_an_index_is_placed_by_its_batch() -> None:
    class Picky(WordEmbedder):
        def embed(self, items: Sequence[Any]) -> npt.NDArray[np.float32]:
            if "bad" in items:
                raise InvalidInputError("one item is bad")
            return super().embed(items)

    with edgevec.connect("faiss") as store:
        coll = store.create_collection("docs", embedder=Picky())
        with pytest.raises(InvalidInputError, match=r"one item is bad \(in items 4\.\.5 of"):
            coll.add([f"i{n}" for n in range(6)], ["a", "b", "c", "d", "e", "bad"], batch_size=2)


def test_reopen_checks_the_fingerprint(tmp_path: Path) -> None:
    emb, other = WordEmbedder(salt="a"), WordEmbedder(salt="b")
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        store.create_collection("docs", embedder=emb).add(["a", "b"], DOCS[:2])
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        plain = store.collection("docs")
        assert plain.spec.fingerprint == emb.fingerprint  # persisted with the snapshot
        assert not isinstance(plain, EmbeddedCollection)
        assert store.collection("docs", embedder=emb).search("apple", k=1).ids in (["a"], ["b"])
        with pytest.raises(EmbedderMismatchError) as err:
            store.collection("docs", embedder=other)
        assert "'words:a;dim=16'" in str(err.value)
        assert "'words:b;dim=16'" in str(err.value)
        with pytest.raises(EmbedderMismatchError, match="words:b"):
            store.create_collection("docs", embedder=other, exist_ok=True)
        assert isinstance(store.create_collection("docs", embedder=emb, exist_ok=True),
                          EmbeddedCollection)  # fmt: skip


def test_binding_a_collection_made_without_an_embedder() -> None:
    with edgevec.connect("faiss") as store:
        store.create_collection("vectors", 16)
        store.collection("vectors", embedder=WordEmbedder(dim=16))  # no fingerprint: dims fit
        with pytest.raises(EmbedderMismatchError, match="has dim=16"):
            store.collection("vectors", embedder=WordEmbedder(dim=8))


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm", reason='needs the onnx extra: pip install "edgevec[onnx]"')
    with edgevec.connect("faiss") as store:
        coll = store.create_collection("docs", embedder=WordEmbedder())
        coll.add([str(i) for i in range(40)], [f"doc {i}" for i in range(40)], batch_size=16,
                 progress=True)  # fmt: skip
        assert "40/40" in capsys.readouterr().err
        coll.add(["x"], ["quiet"])  # short ingests show nothing
        assert capsys.readouterr().err == ""


async def test_async_twin() -> None:
    emb = WordEmbedder()
    async with edgevec.connect_async("faiss") as store:
        coll: AsyncEmbeddedCollection = await store.create_collection("docs", embedder=emb)
        await coll.add(["a", "b", "c", "d"], DOCS)
        assert sorted((await coll.search("sky", k=2)).ids) == ["c", "d"]
        again = await store.collection("docs", embedder=emb)
        assert await again.count() == 4
        with pytest.raises(EmbedderMismatchError):
            await store.collection("docs", embedder=WordEmbedder(salt="z"))


# -- the bundled models, end to end --------------------------------------------------------


@needs_onnx
def test_images_end_to_end(tmp_path: Path) -> None:
    from edgevec.embedders import image_embedder, text_embedder

    emb = image_embedder()
    photos = {p.stem: p.read_bytes() for p in sorted(PHOTOS.iterdir())}
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        coll = store.create_collection("images", embedder=emb)
        coll.add(list(photos), list(photos.values()), payloads=[{"name": n} for n in photos])
        hit = coll.search(photos["chelsea"], k=1)[0]
        assert hit.id == "chelsea"
        assert hit.score == pytest.approx(1.0, abs=1e-5)
        before = coll.count()
        with pytest.raises(InvalidImageError, match="image #1"):
            coll.add(["x", "y"], [photos["rocket"], photos["rocket"][:100]])
        assert coll.count() == before
    with edgevec.connect("faiss", path=str(tmp_path)) as store:
        assert store.collection("images", embedder=image_embedder()).count() == len(photos)
        with pytest.raises(EmbedderMismatchError) as err:
            store.collection("images", embedder=text_embedder())
        msg = str(err.value)
        assert emb.fingerprint in msg
        assert "text:all-minilm-l6-v2-int8" in msg


@needs_onnx
def test_text_end_to_end() -> None:
    from edgevec.embedders import text_embedder

    with edgevec.connect("faiss") as store:
        coll = store.create_collection("faq", embedder=text_embedder())
        coll.add(
            ["pw", "ship", "refund"],
            ["How to change your password", "Delivery takes three days", "Getting your money back"],
        )
        assert coll.search("I forgot my login credentials", k=1).ids == ["pw"]
        assert coll.search("when will my parcel arrive?", k=1).ids == ["ship"]
