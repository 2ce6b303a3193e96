"""``edgevec.embedders`` without its extra: cheap to import, header checks in pure Python.

These run in the core session too (no onnxruntime, tokenizers or Pillow needed).
"""

from __future__ import annotations

import importlib.util
import struct
import subprocess
import sys
import zlib

import pytest

import edgevec
import edgevec.embedders
from edgevec.embedders.images import ImageLimits, check_image, header_size, sniff_format
from edgevec.errors import InvalidImageError, MissingDependencyError


def test_importing_embedders_loads_no_runtime() -> None:
    code = (
        "import sys, edgevec.embedders\n"
        "heavy = ['onnxruntime', 'tokenizers', 'PIL', 'cachetools', 'tqdm']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names() -> None:
    names = edgevec.embedders.__all__
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(edgevec.embedders, name), name
    for name in ["Embedder", "image_embedder", "text_embedder", "OnnxImageEmbedder",
                 "OnnxTextEmbedder", "ImageModelConfig", "TextModelConfig"]:  # fmt: skip
        assert name in names
    assert issubclass(edgevec.EmbedderMismatchError, edgevec.ConfigError)
    assert issubclass(edgevec.ModelIntegrityError, edgevec.EdgevecError)


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is not None, reason="installed here")
def test_without_the_extra_says_how_to_install() -> None:
    with pytest.raises(MissingDependencyError, match=r'pip install "edgevec\[onnx\]"'):
        edgevec.embedders.image_embedder()


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + crc


def jpeg_header(width: int, height: int, *, frames: int = 1) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + bytes(9)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof * frames + b"\xff\xda\x00\x08"


def test_headers_give_the_size_without_decoding() -> None:
    assert header_size("PNG", png_header(20_000, 30_000)) == (20_000, 30_000)
    assert header_size("JPEG", jpeg_header(4000, 3000)) == (4000, 3000)
    assert header_size("GIF", b"GIF89a" + struct.pack("<HH", 640, 480)) == (640, 480)
    vp8x = b"RIFF\x00\x00\x00\x00WEBPVP8X" + bytes(8) + (9999).to_bytes(3, "little") * 2
    assert header_size("WEBP", vp8x) == (10_000, 10_000)
    assert sniff_format(b"II*\x00rest") == "TIFF"


def test_bombs_and_tricks_are_refused_from_the_header() -> None:
    limits = ImageLimits()
    with pytest.raises(InvalidImageError, match="400000000 pixels"):
        check_image(png_header(20_000, 20_000), 0, limits)
    with pytest.raises(InvalidImageError, match="more than one frame header"):
        check_image(jpeg_header(100, 100, frames=2), 0, limits)
    with pytest.raises(InvalidImageError, match="zero dimension"):
        check_image(jpeg_header(0, 100), 0, limits)
    with pytest.raises(InvalidImageError, match="first chunk"):
        check_image(b"RIFF\x00\x00\x00\x00WEBPJUNK" + bytes(20), 0, limits)
    assert check_image(png_header(640, 480), 3, limits).format == "PNG"
