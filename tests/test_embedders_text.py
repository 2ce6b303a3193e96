"""The bundled text embedder on real data: quality, parity, agreement with the original model.

Needs the ``onnx`` extra (skipped with the install hint otherwise). Data: ``tests/data/
sentences.tsv`` (written for edgevec) and ``minilm_reference.npz`` (the original fp32
all-MiniLM-L6-v2's vectors for those sentences, from ``scripts/make_text_reference.py``).
"""

from __future__ import annotations

import csv
import importlib
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')
pytest.importorskip("tokenizers", reason='needs the onnx extra: pip install "edgevec[onnx]"')

from edgevec.embedders import (
    MINILM_L6_V2_CONFIG,
    MINILM_L6_V2_INT8,
    MINILM_L6_V2_TOKENIZER,
    OnnxTextEmbedder,
    text_embedder,
)
from edgevec.errors import InvalidInputError, ModelIntegrityError

DATA = Path(__file__).parent / "data"
F32 = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def emb() -> OnnxTextEmbedder:
    return text_embedder(cache=False)


def labelled() -> tuple[list[str], npt.NDArray[np.str_]]:
    with open(DATA / "sentences.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r["sentence"] for r in rows], np.array([r["topic"] for r in rows])


def precision_at(vectors: F32, labels: npt.NDArray[Any], k: int) -> float:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return float((labels[top] == labels[:, None]).mean())


def tfidf(texts: list[str]) -> F32:
    """The baseline: smoothed TF-IDF over lower-cased word tokens, L2-normalised."""
    docs = [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}))}
    tf = np.zeros((len(docs), len(vocab)), dtype=np.float32)
    for i, d in enumerate(docs):
        for w in d:
            tf[i, vocab[w]] += 1
    idf = np.log((1 + len(docs)) / (1 + (tf > 0).sum(axis=0))) + 1
    x = tf * idf.astype(np.float32)
    out: F32 = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


# -- quality ---------------------------------------------------------------------------------

PARAPHRASES = [
    (
        "The meeting was moved to next Tuesday.",
        "They rescheduled the meeting for Tuesday next week.",
        "The meeting room has a large window.",
    ),
    (
        "How do I reset my password?",
        "I forgot my password and need to change it.",
        "How do I reset the kitchen timer?",
    ),
    (
        "The shop closes at six in the evening.",
        "The store shuts its doors at 6 pm.",
        "The shop sells six kinds of bread.",
    ),
    (
        "He was too tired to finish the race.",
        "Exhaustion stopped him from completing the run.",
        "He finished painting the fence yesterday.",
    ),
    (
        "My phone battery dies very quickly.",
        "The battery on my mobile drains fast.",
        "My phone has a very fast camera.",
    ),
    (
        "A child is riding a bicycle down the street.",
        "A kid cycles along the road.",
        "A child is reading a book in the street cafe.",
    ),
]


@pytest.mark.parametrize(("anchor", "paraphrase", "unrelated"), PARAPHRASES)
def test_paraphrases_beat_unrelated_sentences(
    emb: OnnxTextEmbedder, anchor: str, paraphrase: str, unrelated: str
) -> None:
    """The unrelated sentence shares more words with the anchor than the paraphrase does."""
    a, p, u = emb.embed([anchor, paraphrase, unrelated])
    assert float(a @ p) > float(a @ u) + 0.05  # measured margins: 0.07 to 0.44


def test_topic_precision_beats_tfidf(emb: OnnxTextEmbedder) -> None:
    texts, labels = labelled()
    got = precision_at(emb.embed(texts), labels, 10)
    base = precision_at(tfidf(texts), labels, 10)
    assert got > 0.45
    assert got > 3 * base


# -- parity ----------------------------------------------------------------------------------


def test_parity_with_plain_onnxruntime(emb: OnnxTextEmbedder) -> None:
    """The recipe written out with tokenizers, onnxruntime and numpy, one text at a time."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(MINILM_L6_V2_TOKENIZER.path))
    tok.enable_truncation(max_length=256)
    tok.no_padding()  # the file pads every text to 128 tokens
    ort: Any = importlib.import_module("onnxruntime")  # untyped: no stubs
    session = ort.InferenceSession(str(MINILM_L6_V2_INT8.path), providers=["CPUExecutionProvider"])
    texts = [*labelled()[0][::7], "word " * 600]  # one text past the 256-token window

    def reference(text: str) -> F32:
        e = tok.encode(text)
        feeds = {
            "input_ids": np.array([e.ids], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids], dtype=np.int64),
        }
        (states,) = session.run(None, feeds)
        v = states[0].mean(axis=0)  # one text, no padding: the mask is all ones
        out: F32 = v / np.linalg.norm(v)
        return out

    want = np.stack([reference(t) for t in texts])
    got = text_embedder(cache=False, batch_size=4).embed(texts)  # padded, length-sorted batches
    err = float(np.abs(got - want).max())
    assert err <= 1e-5, err


def test_agrees_with_the_original_fp32_model(emb: OnnxTextEmbedder) -> None:
    ref = np.load(DATA / "minilm_reference.npz", allow_pickle=False)
    got = emb.embed([str(t) for t in ref["texts"]])
    cos = (got * ref["vectors"]).sum(axis=1)
    assert cos.min() > 0.999, cos.min()  # measured: min 0.99937, mean 0.99960 (int8 vs fp32)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("", "empty"),
        ("  \n\t ", "empty"),
        (b"bytes", "bytes, not str"),
        (42, "int, not str"),
        (None, "NoneType, not str"),
        ("x" * 20_001, "20001 characters, over the limit of 20000"),
        ("bad \ud800 surrogate", "not valid Unicode"),
    ],
)
def test_bad_texts_are_invalid_input(emb: OnnxTextEmbedder, item: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        emb.embed(["fine", item])


def test_a_single_str_is_not_a_list(emb: OnnxTextEmbedder) -> None:
    with pytest.raises(InvalidInputError, match="not a single str"):
        emb.embed("hello")


def test_long_text_within_the_limit_is_truncated(emb: OnnxTextEmbedder) -> None:
    head = "The quick brown fox jumps over the lazy dog. " * 30  # > 256 tokens
    a, b = emb.embed([head, head + " Completely different words at the end. " * 20])
    np.testing.assert_allclose(a, b, atol=1e-6)  # only the first 256 tokens count


def test_tampered_tokenizer_refuses_to_load(tmp_path: Path) -> None:
    copy = tmp_path / "tokenizer.json"
    shutil.copy(MINILM_L6_V2_TOKENIZER.path, copy)
    copy.write_text(copy.read_text(encoding="utf-8").replace('"[UNK]"', '"[UNK2]"', 1))
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        OnnxTextEmbedder(MINILM_L6_V2_INT8, MINILM_L6_V2_TOKENIZER.at(copy), MINILM_L6_V2_CONFIG)


def test_fingerprint_covers_tokenizer_and_recipe(emb: OnnxTextEmbedder) -> None:
    from dataclasses import replace

    assert emb.fingerprint.startswith("text:all-minilm-l6-v2-int8;")
    assert f"sha256={MINILM_L6_V2_INT8.sha256}" in emb.fingerprint
    assert ";dim=384;" in emb.fingerprint
    shorter = OnnxTextEmbedder(
        MINILM_L6_V2_INT8, MINILM_L6_V2_TOKENIZER, replace(MINILM_L6_V2_CONFIG, max_tokens=128)
    )
    assert shorter.fingerprint != emb.fingerprint


async def test_aembed_and_cache() -> None:
    cached = text_embedder()
    first = await cached.aembed(["one", "two", "one"])
    assert cached.cache is not None
    assert cached.cache.misses == 2
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(cached.embed(["two"])[0], first[1])
    assert cached.cache.hits == 1
