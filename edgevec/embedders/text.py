"""ONNX text embedders: a WordPiece/BPE ``tokenizer.json`` plus an encoder, pooled to one vector.

The bundled default is sentence-transformers' all-MiniLM-L6-v2 with int8 weights (384-d): tokens
truncated at 256, each batch padded to its longest member, the last hidden state averaged over the
attention mask and L2-normalised -- the model's own recipe, with no torch or transformers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from edgevec.embedders.cache import EmbeddingCache
from edgevec.embedders.models import MINILM_L6_V2_INT8, MINILM_L6_V2_TOKENIZER, ModelFile
from edgevec.embedders.protocol import Matrix
from edgevec.embedders.runtime import OnnxEmbedder, Providers, make_session, require
from edgevec.errors import ConfigError, InvalidInputError
from edgevec.types import Metric

__all__ = ["MINILM_L6_V2_CONFIG", "OnnxTextEmbedder", "TextModelConfig", "text_embedder"]

_FEEDS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True, slots=True)
class TextModelConfig:
    """How to tokenise for an ONNX text encoder and pool its output."""

    name: str
    dim: int
    max_tokens: int = 256
    """Longer inputs are truncated to this many tokens (special tokens included)."""
    pooling: Literal["mean", "cls", "none"] = "mean"
    """``"mean"``: average token states over the attention mask; ``"cls"``: the first token's
    state; ``"none"``: the output is already one vector per text."""
    output_name: str | None = None
    """``None``: the model's first output."""
    normalize: bool = True
    metric: Metric = "cosine"

    def preprocessing(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "name"}


MINILM_L6_V2_CONFIG = TextModelConfig(name="all-minilm-l6-v2-int8", dim=384)
"""The bundled text model: all-MiniLM-L6-v2 (int8), mean pooling, 256 tokens, 384-d."""


class OnnxTextEmbedder(OnnxEmbedder[str]):
    """Embed ``str`` items with an ONNX text encoder and its ``tokenizer.json``."""

    kind: ClassVar[str] = "text"
    item_name: ClassVar[str] = "text"

    def __init__(
        self,
        model: ModelFile,
        tokenizer: ModelFile,
        config: TextModelConfig,
        *,
        max_chars: int = 20_000,
        batch_size: int = 32,
        threads: int | None = None,
        providers: Providers = None,
        spin: bool = False,
        cache: EmbeddingCache | bool = True,
    ) -> None:
        """Both files are verified against their pinned SHA-256 before use.

        ``max_chars``: longer texts are refused (:class:`InvalidInputError`) rather than
        tokenised only to be truncated; a text within it but over ``config.max_tokens`` tokens is
        truncated, as the model was trained.
        """
        if max_chars < 1:
            raise ConfigError(f"max_chars must be >= 1, got {max_chars}")
        self.config = config
        self.max_chars = max_chars
        tokenizers = require("tokenizers")
        require("onnxruntime")  # before reading 23 MB only to fail
        tok_json = tokenizer.read().decode("utf-8")
        try:
            self.tokenizer: Any = tokenizers.Tokenizer.from_str(tok_json)
        except Exception as exc:  # tokenizers raises a plain Exception on a bad file
            raise ConfigError(f"cannot load tokenizer {tokenizer.name!r}: {exc}") from exc
        # Settings live in code, not in the file: the file ships fixed 128-token padding.
        self.tokenizer.enable_truncation(max_length=config.max_tokens)
        pad_token = "[PAD]" if self.tokenizer.token_to_id("[PAD]") is not None else "<pad>"
        pad_id = self.tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ConfigError(f"tokenizer {tokenizer.name!r} has no [PAD] or <pad> token")
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)  # longest in batch
        self.session = make_session(model, providers=providers, threads=threads, spin=spin)
        self._feeds = [i.name for i in self.session.get_inputs()]
        unknown = [f for f in self._feeds if f not in _FEEDS]
        if unknown or "input_ids" not in self._feeds:
            raise ConfigError(f"model {config.name!r} takes inputs {self._feeds}; edgevec feeds "
                              f"{', '.join(_FEEDS)}")  # fmt: skip
        outputs = [o.name for o in self.session.get_outputs()]
        self._output = config.output_name or outputs[0]
        if self._output not in outputs:
            raise ConfigError(f"model {config.name!r} has no output {self._output!r}: {outputs}")
        preprocessing = {**config.preprocessing(), "tokenizer_sha256": tokenizer.sha256}
        super().__init__(
            name=config.name, sha256=model.sha256, dim=config.dim, metric=config.metric,
            normalize=config.normalize, preprocessing=preprocessing, batch_size=batch_size,
            cache=cache,
        )  # fmt: skip

    def _check(self, index: int, item: Any) -> str:
        if not isinstance(item, str):
            raise InvalidInputError(f"text #{index} is {type(item).__name__}, not str")
        if not item.strip():
            raise InvalidInputError(f"text #{index} is empty or only whitespace")
        if len(item) > self.max_chars:
            raise InvalidInputError(
                f"text #{index} has {len(item)} characters, over the limit of {self.max_chars} "
                f"(the model reads only the first {self.config.max_tokens} tokens)"
            )
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"text #{index} is not valid Unicode: {exc}") from exc
        return item

    def _content(self, checked: str) -> bytes:
        return checked.encode("utf-8")

    def _order(
        self, pending: list[tuple[tuple[str, bytes], list[int]]], checked: list[str]
    ) -> list[tuple[tuple[str, bytes], list[int]]]:
        # Batches of similar length pad less; each row's vector does not depend on its batch.
        return sorted(pending, key=lambda p: len(checked[p[1][0]]))

    def _run(self, batch: list[tuple[int, str]]) -> Matrix:
        return self.run_tokens(self.tokenize([text for _, text in batch]))

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray[Any, np.dtype[np.int64]]]:
        """The model's int64 inputs for ``texts``, padded to the longest."""
        enc = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        return {k: v for k, v in feeds.items() if k in self._feeds or k == "attention_mask"}

    def run_tokens(self, feeds: dict[str, np.ndarray[Any, np.dtype[np.int64]]]) -> Matrix:
        """The pooled (not yet normalised) vectors for tokenised input."""
        mask = feeds["attention_mask"]
        inputs = {k: v for k, v in feeds.items() if k in self._feeds}
        (hidden,) = self.session.run([self._output], inputs)
        states = np.asarray(hidden, dtype=np.float32)
        if self.config.pooling == "none":
            return states
        if self.config.pooling == "cls":
            return np.ascontiguousarray(states[:, 0])
        weights = mask.astype(np.float32)[:, :, None]
        pooled: Matrix = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled


def text_embedder(
    *,
    max_chars: int = 20_000,
    batch_size: int = 32,
    threads: int | None = None,
    providers: Providers = None,
    spin: bool = False,
    cache: EmbeddingCache | bool = True,
) -> OnnxTextEmbedder:
    """The bundled text embedder: all-MiniLM-L6-v2 (int8 ONNX), 384-d, cosine."""
    return OnnxTextEmbedder(
        MINILM_L6_V2_INT8, MINILM_L6_V2_TOKENIZER, MINILM_L6_V2_CONFIG, max_chars=max_chars,
        batch_size=batch_size, threads=threads, providers=providers, spin=spin, cache=cache,
    )  # fmt: skip
