"""Embedders: images and text to vectors with ONNX models that ship inside edgevec.

>>> from edgevec.embedders import image_embedder, text_embedder
>>> emb = image_embedder()                     # EfficientNet-Lite0, 1280-d  # doctest: +SKIP
>>> X = emb.embed([jpeg_bytes, png_bytes])     # float32 (2, 1280), L2-normalised  # doctest: +SKIP

Importing this package is cheap: onnxruntime, tokenizers and Pillow (the ``onnx`` extra,
``pip install "edgevec[onnx]"``) are imported when an embedder is built or first decodes an image.
"""

from edgevec.embedders.cache import EmbeddingCache
from edgevec.embedders.image import (
    EFFICIENTNET_LITE0_CONFIG,
    ImageModelConfig,
    OnnxImageEmbedder,
    image_embedder,
)
from edgevec.embedders.images import ImageLimits
from edgevec.embedders.models import (
    EFFICIENTNET_LITE0,
    MINILM_L6_V2_INT8,
    MINILM_L6_V2_TOKENIZER,
    ModelFile,
)
from edgevec.embedders.protocol import Embedder
from edgevec.embedders.runtime import OnnxEmbedder
from edgevec.embedders.text import (
    MINILM_L6_V2_CONFIG,
    OnnxTextEmbedder,
    TextModelConfig,
    text_embedder,
)

__all__ = [
    "EFFICIENTNET_LITE0",
    "EFFICIENTNET_LITE0_CONFIG",
    "MINILM_L6_V2_CONFIG",
    "MINILM_L6_V2_INT8",
    "MINILM_L6_V2_TOKENIZER",
    "Embedder",
    "EmbeddingCache",
    "ImageLimits",
    "ImageModelConfig",
    "ModelFile",
    "OnnxEmbedder",
    "OnnxImageEmbedder",
    "OnnxTextEmbedder",
    "TextModelConfig",
    "image_embedder",
    "text_embedder",
]
