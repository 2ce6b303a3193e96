"""Untrusted image bytes to model input, safely: check first, then decode, then preprocess.

The checks run on the raw bytes before Pillow sees them: the format comes from the magic bytes
(never from a file name or a MIME type), the byte count and the pixel count are bounded, and the
pixel count is read from the format's own header by the small parsers below. A decompression bomb
-- 49 kilobytes of PNG claiming 20000 x 20000 pixels -- is refused from its header, before any
allocation, with an :class:`~edgevec.errors.InvalidImageError`; Pillow's own bomb check (a
*warning* up to ~179 MP) never gets the chance to matter. Pillow is then told the one format to
try, so a file cannot reach a decoder other than the one its magic bytes chose.

Decoding applies the EXIF orientation, flattens transparency onto white, and decodes JPEGs at a
reduced size with ``draft()`` (the DCT scales by 1/2, 1/4 or 1/8 for free) when the model needs
far fewer pixels than the file has. Preprocessing writes into one float32 buffer per thread that is
reused across calls.
"""

from __future__ import annotations

import io
import os
import re
import struct
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from edgevec.embedders.runtime import require
from edgevec.errors import ConfigError, InvalidImageError
from edgevec.files import read_regular

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "ALL_FORMATS",
    "CheckedImage",
    "ImageLimits",
    "Preprocessing",
    "check_image",
    "decode_image",
    "header_size",
    "sniff_format",
]

PILLOW_WARN_PIXELS = 89_478_485
"""Pillow's default ``Image.MAX_IMAGE_PIXELS``: above it Pillow only *warns* (errors at twice)."""

ALL_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
"""Formats edgevec can check from their header; JPEG, PNG and WebP are allowed by default."""

_ORIENTATION = 0x0112  # the EXIF tag

Interpolation = Literal["bilinear", "bicubic"]


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What an image must satisfy before it is decoded."""

    max_bytes: int = 20 * 2**20
    """Largest encoded image accepted (20 MiB)."""
    max_pixels: int = 32_000_000
    """Largest width x height accepted (32 MP: a 24 MP camera frame passes; about a third of the
    point where Pillow starts warning, a fifth of where it refuses)."""
    formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP")
    """Allowed formats, by magic bytes. GIF and BMP may be added; TIFF never is (many codecs,
    a long history of decoder bugs, and no bounded header check here)."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_pixels <= PILLOW_WARN_PIXELS:
            raise ConfigError(
                f"max_pixels must be in 1..{PILLOW_WARN_PIXELS} (Pillow's own bomb limit), "
                f"got {self.max_pixels}"
            )
        if self.max_bytes < 1:
            raise ConfigError(f"max_bytes must be >= 1, got {self.max_bytes}")
        unknown = [f for f in self.formats if f not in ALL_FORMATS]
        if unknown or not self.formats:
            raise ConfigError(
                f"image formats must be a non-empty subset of {', '.join(ALL_FORMATS)}, "
                f"got {self.formats!r}"
            )


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """Bytes that passed :func:`check_image`, with the format and size their header states."""

    data: bytes
    format: str
    width: int
    height: int


def sniff_format(data: bytes) -> str | None:
    """The image format named by ``data``'s first bytes, or ``None`` if it is none we know."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:4] == b"\x00\x00\x01\x00":
        return "ICO"
    if data[:4] == b"8BPS":
        return "PSD"
    if data[:4] == b"qoif":
        return "QOI"
    return None


def header_size(fmt: str, data: bytes) -> tuple[int, int]:
    """``(width, height)`` as the header of ``data`` states it; ``ValueError`` if malformed."""
    try:
        if fmt == "PNG":
            if data[12:16] != b"IHDR":
                raise ValueError("PNG without IHDR as its first chunk")
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if fmt == "JPEG":
            return _jpeg_size(data)
        if fmt == "WEBP":
            return _webp_size(data)
        if fmt == "GIF":
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if fmt == "BMP":
            (dib,) = struct.unpack("<I", data[14:18])
            if dib == 12:
                w, h = struct.unpack("<HH", data[18:22])
            else:
                w, h = struct.unpack("<ii", data[18:26])
            return abs(int(w)), abs(int(h))
    except (struct.error, IndexError) as exc:
        raise ValueError(f"{fmt} header is cut short") from exc
    raise ValueError(f"no header parser for {fmt}")


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_FILL = re.compile(rb"\xff+")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the marker segments up to the scan; exactly one frame header (SOFn) must come first."""
    pos, size = 2, None
    while True:
        pos = data.find(0xFF, pos)  # tolerate stray bytes between segments, as decoders do
        if pos < 0:
            raise IndexError("no further marker")
        fill = _FILL.match(data, pos)
        assert fill is not None  # data[pos] is 0xFF
        pos = fill.end()
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan: the header is over
            if size is None:
                raise ValueError("JPEG without a frame header before its scan")
            return size
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise ValueError("JPEG segment with a length below 2")
        if marker in _SOF:
            if size is not None:
                raise ValueError("JPEG with more than one frame header")
            h, w = struct.unpack(">HH", data[pos + 3 : pos + 7])
            if h == 0 or w == 0:
                raise ValueError("JPEG frame header with a zero dimension")
            size = (int(w), int(h))
        pos += length


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    body = 20
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        if len(data) < body + 10:
            raise struct.error("short VP8X")
        w = int.from_bytes(data[body + 4 : body + 7], "little") + 1
        h = int.from_bytes(data[body + 7 : body + 10], "little") + 1
        return w, h
    if chunk == b"VP8 ":  # lossy: frame tag, start code, 14-bit sizes
        if data[body + 3 : body + 6] != b"\x9d\x01\x2a":
            raise ValueError("WebP VP8 frame without its start code")
        w, h = struct.unpack("<HH", data[body + 6 : body + 10])
        return int(w) & 0x3FFF, int(h) & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature byte, then 14-bit width-1 and height-1
        if data[body] != 0x2F:
            raise ValueError("WebP VP8L without its signature")
        (bits,) = struct.unpack("<I", data[body + 1 : body + 5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise ValueError(f"WebP with an unknown first chunk {chunk!r}")


def check_image(item: object, index: int, limits: ImageLimits) -> CheckedImage:
    """Everything checkable without decoding: type, byte count, format, header size."""
    if isinstance(item, bytes | bytearray | memoryview):
        data = bytes(item)
    elif isinstance(item, os.PathLike):
        data = _read_limited(item, index, limits.max_bytes)
    else:
        hint = " (pass bytes or a pathlib.Path)" if isinstance(item, str) else ""
        raise InvalidImageError(
            f"image #{index} is {type(item).__name__}, not bytes or a path{hint}"
        )
    if not data:
        raise InvalidImageError(f"image #{index} is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise InvalidImageError(
            f"image #{index} has {len(data)} bytes, over the limit of {limits.max_bytes}"
        )
    fmt = sniff_format(data)
    allowed = ", ".join(limits.formats)
    if fmt is None:
        raise InvalidImageError(
            f"image #{index} is not a recognised image: its first bytes match none of {allowed}"
        )
    if fmt not in limits.formats:
        raise InvalidImageError(
            f"image #{index} is {fmt}, which is not an allowed format (allowed: {allowed})"
        )
    try:
        width, height = header_size(fmt, data)
    except ValueError as exc:
        raise InvalidImageError(f"image #{index} ({fmt}) has a malformed header: {exc}") from exc
    if width < 1 or height < 1:
        raise InvalidImageError(f"image #{index} ({fmt}) claims a size of {width}x{height}")
    if width * height > limits.max_pixels:
        raise InvalidImageError(
            f"image #{index} ({fmt}) is {width}x{height} = {width * height} pixels, over the "
            f"limit of {limits.max_pixels} (a decompression bomb, or too large to embed)"
        )
    return CheckedImage(data, fmt, width, height)


def _read_limited(path: os.PathLike[Any], index: int, max_bytes: int) -> bytes:
    try:
        data = read_regular(path, max_bytes)  # a FIFO or device would block a plain open()
    except OSError as exc:
        raise InvalidImageError(f"image #{index} cannot be read: {exc}") from exc
    if len(data) > max_bytes:
        raise InvalidImageError(f"image #{index} is over the limit of {max_bytes} bytes")
    return data


def decode_image(image: CheckedImage, index: int, *, draft: int | None = None) -> Image:
    """Decode to an upright RGB image; JPEGs at the smallest DCT scale whose sides are >= draft.

    Any failure -- truncated data, a corrupt stream, a header that disagrees with the check --
    is an :class:`InvalidImageError` naming the image.
    """
    pil: Any = require("PIL.Image")
    ops: Any = require("PIL.ImageOps")
    process_limit = pil.MAX_IMAGE_PIXELS  # an application may have lowered Pillow's own limit:
    if process_limit and image.width * image.height > process_limit:  # an error, not a warning
        raise InvalidImageError(
            f"image #{index} ({image.format}) is {image.width}x{image.height} pixels, over "
            f"PIL.Image.MAX_IMAGE_PIXELS = {process_limit} set in this process"
        )
    try:
        im = pil.open(io.BytesIO(image.data), formats=[image.format])
        if im.size != (image.width, image.height):
            raise ValueError(f"decoder sees {im.size}, header said {(image.width, image.height)}")
        if draft is not None and image.format == "JPEG":
            im.draft("RGB", (draft, draft))
        im.load()
        if im.getexif().get(_ORIENTATION, 1) != 1:
            im = ops.exif_transpose(im)
        rgb: Image = _to_rgb(pil, im)
        return rgb
    except Exception as exc:  # Pillow's zoo on hostile input: OSError, SyntaxError, EOFError, ...
        why = str(exc) or type(exc).__name__
        raise InvalidImageError(
            f"image #{index} ({image.format}) cannot be decoded: {why}"
        ) from exc


def _to_rgb(pil: Any, im: Any) -> Any:
    if im.mode == "RGB":
        return im
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = pil.new("RGBA", rgba.size, (255, 255, 255, 255))
        return pil.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


class Preprocessing:
    """Resize, crop and normalise decoded images into a reused float32 batch buffer."""

    def __init__(
        self,
        *,
        input_size: int,
        resize: int,
        resize_mode: Literal["crop", "stretch"],
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        layout: Literal["NCHW", "NHWC"],
        interpolation: Interpolation,
    ) -> None:
        if input_size < 1 or resize < input_size:
            raise ConfigError(f"need 1 <= input_size <= resize, got {input_size} and {resize}")
        if any(s == 0 for s in std):
            raise ConfigError("std must not contain 0")
        self.input_size = input_size
        self.resize = resize
        self.resize_mode = resize_mode
        self.layout = layout
        self.interpolation = interpolation
        shape = (3, 1, 1) if layout == "NCHW" else (1, 1, 3)
        self._mean = np.asarray(mean, dtype=np.float32).reshape(shape)
        self._std = np.asarray(std, dtype=np.float32).reshape(shape)
        self._local = threading.local()

    @property
    def draft_size(self) -> int:
        """The smallest side a JPEG may be draft-decoded to and still give full quality."""
        return self.resize

    def buffer(self, n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """This thread's input buffer for ``n`` images (grown when needed, otherwise reused)."""
        buf: np.ndarray[Any, np.dtype[np.float32]] | None = getattr(self._local, "buf", None)
        if buf is None or buf.shape[0] < n:
            s = self.input_size
            shape = (n, 3, s, s) if self.layout == "NCHW" else (n, s, s, 3)
            buf = np.empty(shape, dtype=np.float32)
            self._local.buf = buf
        return buf[:n]

    def crop_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The source region that becomes the model input.

        ``"crop"``: the centred square that survives "short side to ``resize``, centre crop
        ``input_size``", resized straight to ``input_size`` in one pass (one resample of the
        region instead of the whole image plus a copy; the same geometry). ``"stretch"``: all.
        """
        if self.resize_mode == "stretch":
            return 0.0, 0.0, float(width), float(height)
        side = min(width, height) * self.input_size / self.resize
        left, top = (width - side) / 2, (height - side) / 2
        return left, top, left + side, top + side

    def fill(self, out: np.ndarray[Any, np.dtype[np.float32]], image: Image) -> None:
        """Write one image, preprocessed, into ``out`` (one row of :meth:`buffer`)."""
        pil: Any = require("PIL.Image")
        bilinear = self.interpolation == "bilinear"
        resample = pil.Resampling.BILINEAR if bilinear else pil.Resampling.BICUBIC
        s = self.input_size
        crop = image.resize((s, s), resample, box=self.crop_box(*image.size))
        pixels = np.asarray(crop, dtype=np.uint8)
        if self.layout == "NCHW":
            pixels = pixels.transpose(2, 0, 1)
        np.subtract(pixels, self._mean, out=out)
        np.divide(out, self._std, out=out)
