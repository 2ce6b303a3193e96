"""ONNX image embedders: any image model described by an :class:`ImageModelConfig`.

The bundled default is EfficientNet-Lite0 trained on ImageNet; its 1280-d average-pooled feature
is the embedding. Input bytes go through :mod:`edgevec.embedders.images` (check, then decode, then
preprocess) before the model sees them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from edgevec.embedders.cache import EmbeddingCache
from edgevec.embedders.images import (
    CheckedImage,
    ImageLimits,
    Interpolation,
    Preprocessing,
    check_image,
    decode_image,
)
from edgevec.embedders.models import EFFICIENTNET_LITE0, ModelFile
from edgevec.embedders.protocol import Matrix
from edgevec.embedders.runtime import OnnxEmbedder, Providers, make_session, require
from edgevec.errors import ConfigError, InvalidImageError, InvalidInputError
from edgevec.types import Metric

__all__ = ["EFFICIENTNET_LITE0_CONFIG", "ImageModelConfig", "OnnxImageEmbedder", "image_embedder"]


@dataclass(frozen=True, slots=True)
class ImageModelConfig:
    """How to feed an ONNX image model and read its embedding.

    Pixels are RGB in 0..255; the model sees ``(pixel - mean) / std`` per channel (for a model
    trained on 0..1 inputs with ImageNet statistics use ``mean=(123.675, 116.28, 103.53)``,
    ``std=(58.395, 57.12, 57.375)``).
    """

    name: str
    dim: int
    """Length of the embedding (checked against the model's output)."""
    input_size: int = 224
    """Square side the model takes."""
    resize: int = 256
    """``"crop"``: the short side is resized to this, then the centre ``input_size`` square is
    cut out. ``"stretch"``: ignored; the whole image is resized to the square."""
    resize_mode: Literal["crop", "stretch"] = "crop"
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    interpolation: Interpolation = "bilinear"
    input_name: str | None = None
    """``None``: the model's first input."""
    output_name: str | None = None
    """``None``: the model's first output."""
    pooling: Literal["none", "mean"] = "none"
    """``"mean"``: average a feature map over its spatial axes (channel axis per ``layout``)."""
    normalize: bool = True
    """L2-normalise embeddings (then ``cosine`` and ``dot`` agree)."""
    metric: Metric = "cosine"

    def preprocessing(self) -> dict[str, Any]:
        """Everything that decides the vectors besides the model bytes (for the fingerprint)."""
        return {k: v for k, v in asdict(self).items() if k != "name"}


EFFICIENTNET_LITE0_CONFIG = ImageModelConfig(
    name="efficientnet-lite0", dim=1280, output_name="embedding"
)
"""The bundled image model: EfficientNet-Lite0's recipe (short side 256, centre 224,
``(x - 127) / 128``), embedding = the 1280-d globally pooled feature."""


class OnnxImageEmbedder(OnnxEmbedder[CheckedImage]):
    """Embed images (bytes or paths of JPEG, PNG, WebP) with an ONNX model.

    >>> emb = OnnxImageEmbedder(EFFICIENTNET_LITE0, EFFICIENTNET_LITE0_CONFIG)  # = image_embedder()
    >>> emb.embed([jpeg_bytes, png_bytes]).shape  # doctest: +SKIP
    (2, 1280)
    """

    kind: ClassVar[str] = "image"
    error: ClassVar[type[InvalidInputError]] = InvalidImageError
    item_name: ClassVar[str] = "image"

    def __init__(
        self,
        model: ModelFile,
        config: ImageModelConfig,
        *,
        limits: ImageLimits | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        providers: Providers = None,
        spin: bool = False,
        cache: EmbeddingCache | bool = True,
        draft: bool = True,
    ) -> None:
        """``model`` is read, checked against its pinned SHA-256 and loaded from those bytes.

        ``threads``: onnxruntime intra-op threads (``None``: one per core); ``spin``: see
        :func:`~edgevec.embedders.runtime.make_session`. ``draft``: decode JPEGs at a reduced
        DCT scale when that still leaves ``config.resize`` pixels per side.
        """
        self.config = config
        self.limits = limits or ImageLimits()
        self.draft = draft
        self._pre = Preprocessing(
            input_size=config.input_size, resize=config.resize, resize_mode=config.resize_mode,
            mean=config.mean, std=config.std, layout=config.layout,
            interpolation=config.interpolation,
        )  # fmt: skip
        require("PIL.Image")  # an image embedder that cannot decode would fail on first use
        self.session = make_session(model, providers=providers, threads=threads, spin=spin)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        self._input = config.input_name or inputs[0]
        self._output = config.output_name or outputs[0]
        if self._input not in inputs or self._output not in outputs:
            raise ConfigError(
                f"model {config.name!r} has inputs {inputs} and outputs {outputs}; config asks "
                f"for input {self._input!r} and output {self._output!r}"
            )
        super().__init__(
            name=config.name,
            sha256=model.sha256,
            dim=config.dim,
            metric=config.metric,
            normalize=config.normalize,
            preprocessing=config.preprocessing(),
            batch_size=batch_size,
            cache=cache,
        )

    def _check(self, index: int, item: Any) -> CheckedImage:
        return check_image(item, index, self.limits)

    def _content(self, checked: CheckedImage) -> bytes:
        return checked.data

    def _run(self, batch: list[tuple[int, CheckedImage]]) -> Matrix:
        return self.run_tensor(self.preprocess(batch))

    def preprocess(self, batch: list[tuple[int, CheckedImage]]) -> Matrix:
        """Decode and preprocess checked images into this thread's reused input buffer."""
        buf = self._pre.buffer(len(batch))
        draft = self._pre.draft_size if self.draft else None
        for row, (index, image) in enumerate(batch):
            self._pre.fill(buf[row], decode_image(image, index, draft=draft))
        return buf

    def run_tensor(self, tensor: Matrix) -> Matrix:
        """The model's raw embedding for an already preprocessed batch."""
        (raw,) = self.session.run([self._output], {self._input: tensor})
        out: Matrix = np.asarray(raw, dtype=np.float32)
        if self.config.pooling == "mean" and out.ndim == 4:
            out = out.mean(axis=(2, 3) if self.config.layout == "NCHW" else (1, 2))
        return out


def image_embedder(
    *,
    limits: ImageLimits | None = None,
    batch_size: int = 32,
    threads: int | None = None,
    providers: Providers = None,
    spin: bool = False,
    cache: EmbeddingCache | bool = True,
    draft: bool = True,
) -> OnnxImageEmbedder:
    """The bundled image embedder: EfficientNet-Lite0 (ImageNet), 1280-d, cosine.

    Loading takes a few hundred milliseconds: build one and reuse it (it is thread-safe).
    """
    return OnnxImageEmbedder(
        EFFICIENTNET_LITE0, EFFICIENTNET_LITE0_CONFIG, limits=limits, batch_size=batch_size,
        threads=threads, providers=providers, spin=spin, cache=cache, draft=draft,
    )  # fmt: skip
