"""The bundled image embedder on real data: quality, parity with plain onnxruntime, hostile input.

Needs the ``onnx`` extra (skipped with the install hint otherwise). Data: public-domain clip art
and CC0 photos shipped in ``tests/data`` (see its README), Fashion-MNIST (MIT).
"""

from __future__ import annotations

import importlib
import io
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')
pytest.importorskip("PIL", reason='needs the onnx extra: pip install "edgevec[onnx]"')

from PIL import Image, ImageOps  # after the skip: Pillow is optional

from edgevec.embedders import (
    EFFICIENTNET_LITE0,
    EFFICIENTNET_LITE0_CONFIG,
    EmbeddingCache,
    ImageLimits,
    OnnxImageEmbedder,
    image_embedder,
)
from edgevec.errors import ConfigError, InvalidImageError, ModelIntegrityError

DATA = Path(__file__).parent / "data"
PHOTOS = DATA / "photos"
CLIPART = sorted((DATA / "clipart").glob("*/*.jpg"))
F32 = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def emb() -> OnnxImageEmbedder:
    return image_embedder(cache=False)


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def jpeg(im: Image.Image, quality: int = 92, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def encode(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def precision_at(vectors: F32, labels: npt.NDArray[Any], k: int) -> float:
    """Mean share of each item's k nearest others (cosine) that share its label."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return float((labels[top] == labels[:, None]).mean())


def raw_pixels(data: bytes) -> F32:
    """The baseline: a 32x32 RGB thumbnail, mean-centred."""
    im = Image.open(io.BytesIO(data)).convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.float32).ravel()
    out: F32 = a - a.mean()
    return out


# -- quality ---------------------------------------------------------------------------------


def test_shape_dtype_and_unit_length(emb: OnnxImageEmbedder) -> None:
    x = emb.embed([photo("chelsea.png"), photo("rocket.jpg")])
    assert x.shape == (2, 1280)
    assert x.dtype == np.float32
    assert x.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert emb.dim == 1280
    assert emb.metric == "cosine"
    assert emb.embed([]).shape == (0, 1280)


def test_the_model_recognises_photos(emb: OnnxImageEmbedder) -> None:
    """The whole pipeline (decode, preprocess, export) is right if ImageNet classes come out."""
    tensor = emb.preprocess(
        [(i, emb._check(i, photo(n))) for i, n in enumerate(["chelsea.png", "coffee.jpg"])]
    )
    (logits,) = emb.session.run(["logits"], {"input": tensor})
    top5 = np.argsort(-logits, axis=1)[:, :5]
    assert set(top5[0]) & {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian
    assert set(top5[1]) & {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def clipart(emb: OnnxImageEmbedder) -> tuple[npt.NDArray[np.str_], F32]:
    """The clip-art sample's labels (its folder names) and embeddings."""
    return np.array([p.parent.name for p in CLIPART]), emb.embed(CLIPART)


def test_same_kind_scores_higher_than_unrelated(
    clipart: tuple[npt.NDArray[np.str_], F32],
) -> None:
    """Over every class of the clip-art sample: two drawings of one kind of thing are closer, on
    average, than drawings of different kinds."""
    labels, x = clipart
    sims = x @ x.T
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    other = ~same & ~np.eye(len(labels), dtype=bool)
    for cls in np.unique(labels):
        rows = labels == cls
        assert sims[rows][same[rows]].mean() > sims[rows][other[rows]].mean(), cls


def test_clipart_precision_well_above_raw_pixels(
    clipart: tuple[npt.NDArray[np.str_], F32],
) -> None:
    labels, x = clipart
    pixels = np.stack([raw_pixels(p.read_bytes()) for p in CLIPART])
    got, base = precision_at(x, labels, 5), precision_at(pixels, labels, 5)
    # measured: 0.385 vs 0.142 (12 classes of 12; chance 0.083)
    assert got > 0.3
    assert got > 2 * base


def test_fashion_mnist_precision_above_raw_pixels(emb: OnnxImageEmbedder) -> None:
    """Product photos of clothes (28x28, grey): the ImageNet feature still beats raw pixels,
    which are a strong baseline here (centred, aligned, same background)."""
    data = np.load(DATA / "fashion_mnist_2k.npz", allow_pickle=False)
    labels = data["labels"]
    rows = np.concatenate([np.flatnonzero(labels == c)[:20] for c in range(10)])
    images = data["images"][rows].reshape(-1, 28, 28)
    x = emb.embed([encode(Image.fromarray(255 - a), "PNG") for a in images])
    pixels = images.reshape(len(rows), -1).astype(np.float32)
    pixels -= pixels.mean(axis=1, keepdims=True)
    # measured at 30 per class: 0.748 vs 0.665
    assert precision_at(x, labels[rows], 5) > precision_at(pixels, labels[rows], 5)


# -- parity with a plain onnxruntime + numpy pipeline ------------------------------------------


def reference_embedding(data: bytes, session: Any) -> F32:
    """The documented recipe, written out with Pillow, numpy and onnxruntime only."""
    im: Image.Image = Image.open(io.BytesIO(data))
    if im.format == "JPEG":
        im.draft("RGB", (256, 256))
    im = ImageOps.exif_transpose(im).convert("RGB")
    w, h = im.size
    side = min(w, h) * 224 / 256  # what survives "short side to 256, centre 224"
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    im = im.resize((224, 224), Image.Resampling.BILINEAR, box=box)
    x = ((np.asarray(im, dtype=np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
    (v,) = session.run(["embedding"], {"input": np.ascontiguousarray(x)})
    vec: F32 = v[0] / np.linalg.norm(v[0])
    return vec


def test_parity_with_plain_onnxruntime(emb: OnnxImageEmbedder) -> None:
    ort: Any = importlib.import_module("onnxruntime")  # untyped: no stubs
    session = ort.InferenceSession(str(EFFICIENTNET_LITE0.path), providers=["CPUExecutionProvider"])
    big = Image.open(PHOTOS / "astronaut.jpg").resize((1024, 768))
    items = [
        photo("chelsea.png"),  # PNG
        photo("rocket.jpg"),  # JPEG, portrait
        jpeg(big),  # JPEG that draft() decodes at 1/2 scale
        CLIPART[0].read_bytes(),
        encode(Image.open(PHOTOS / "coffee.jpg"), "WEBP"),
    ]
    small = image_embedder(cache=False, batch_size=2)  # batches of 2, 2 and 1
    got = small.embed(items)
    want = np.stack([reference_embedding(d, session) for d in items])
    err = float(np.abs(got - want).max())
    assert err <= 1e-5, err
    np.testing.assert_allclose(emb.embed(items), got, atol=1e-5)  # batch size does not matter


def test_draft_decode_keeps_the_embedding(emb: OnnxImageEmbedder) -> None:
    big = jpeg(Image.open(PHOTOS / "astronaut.jpg").resize((2048, 1536)))
    full = image_embedder(cache=False, draft=False)
    cos = float(emb.embed([big])[0] @ full.embed([big])[0])
    assert cos > 0.98, cos  # measured 0.99+: a 1/8-scale DCT decode loses nothing the model uses
    assert emb.fingerprint == full.fingerprint  # a decode-speed setting, not a different model


def test_exif_orientation_is_applied(emb: OnnxImageEmbedder) -> None:
    upright = Image.open(PHOTOS / "rocket.jpg").convert("RGB")
    turned = upright.transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with "rotate 90° clockwise to display"
    tagged, plain, straight = emb.embed(
        [jpeg(turned, exif=exif.tobytes()), jpeg(turned), jpeg(upright)]
    )
    assert float(tagged @ straight) > 0.97
    assert float(tagged @ straight) > float(plain @ straight) + 0.05


def test_transparency_is_flattened_onto_white(emb: OnnxImageEmbedder) -> None:
    rgba = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    rgba.paste(Image.open(PHOTOS / "chelsea.png").convert("RGBA").resize((200, 200)), (50, 50))
    white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    a, b = emb.embed([encode(rgba, "PNG"), encode(white.convert("RGB"), "PNG")])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_paths_and_bytes_agree(emb: OnnxImageEmbedder) -> None:
    a, b = emb.embed([PHOTOS / "rocket.jpg", photo("rocket.jpg")])
    np.testing.assert_array_equal(a, b)


# -- hostile and malformed input ---------------------------------------------------------------


def png_bomb(side: int = 20_000) -> bytes:
    """A valid one-colour PNG of side x side pixels: ~50 MB of 1-bit rows compress to ~60 KB."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    chunks = [z.compress(row * 1000) for _ in range(side // 1000)]
    chunks.append(z.compress(row * (side % 1000)))
    idat = b"".join(chunks) + z.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_png_bomb_is_refused_before_decoding(emb: OnnxImageEmbedder) -> None:
    bomb = png_bomb()
    assert len(bomb) < 200_000
    with pytest.raises(InvalidImageError, match=r"20000x20000 = 400000000 pixels, over the limit"):
        emb.embed([bomb])
    # Between our limit and Pillow's error threshold Pillow would only warn (an error here, under
    # -W error): the header check refuses first.
    with pytest.raises(InvalidImageError, match="decompression bomb"):
        emb.embed([png_bomb(10_000)])


def test_a_lower_pillow_limit_in_the_process_is_an_error_too(
    emb: OnnxImageEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)  # the application's own choice
    with pytest.raises(InvalidImageError, match="MAX_IMAGE_PIXELS = 10000"):
        emb.embed([photo("rocket.jpg")])  # Pillow alone would only warn


def test_preprocessing_buffer_is_reused(emb: OnnxImageEmbedder) -> None:
    first = emb.preprocess([(0, emb._check(0, photo("rocket.jpg")))])
    second = emb.preprocess([(0, emb._check(0, photo("coffee.jpg")))])
    assert np.shares_memory(first, second)


def test_pixel_and_byte_limits_are_configurable() -> None:
    strict = image_embedder(cache=False, limits=ImageLimits(max_pixels=100 * 100))
    with pytest.raises(InvalidImageError, match="over the limit of 10000"):
        strict.embed([photo("rocket.jpg")])
    tiny = image_embedder(cache=False, limits=ImageLimits(max_bytes=1000))
    with pytest.raises(InvalidImageError, match="bytes, over the limit of 1000"):
        tiny.embed([photo("rocket.jpg")])
    with pytest.raises(ConfigError, match="max_pixels"):
        ImageLimits(max_pixels=100_000_000)  # above Pillow's own bomb limit
    with pytest.raises(ConfigError, match="subset"):
        ImageLimits(formats=("TIFF",))


@pytest.mark.parametrize(
    ("item", "match"),
    [
        (b"", "empty"),
        (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "not a recog"),
        (b"\xff\xd8\xff" + bytes(range(256)) * 4, "JPEG"),  # JPEG magic, garbage after
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),  # PNG magic, no header
        ("tests/data/photos/rocket.jpg", "pass bytes or a pathlib.Path"),
        (12345, "int, not bytes"),
        (None, "NoneType"),
    ],
)
def test_garbage_is_an_invalid_image(emb: OnnxImageEmbedder, item: object, match: str) -> None:
    with pytest.raises(InvalidImageError, match=match):
        emb.embed([item])


def test_truncated_and_corrupt_files(emb: OnnxImageEmbedder) -> None:
    data = photo("rocket.jpg")
    with pytest.raises(InvalidImageError, match="cannot be decoded"):
        emb.embed([data[: len(data) // 2]])
    png = photo("chelsea.png")
    with pytest.raises(InvalidImageError, match="cannot be decoded"):
        emb.embed([png[: len(png) // 2]])
    flipped = bytearray(png)
    flipped[len(png) // 2] ^= 0xFF  # a bit error inside the compressed stream: bad CRC
    with pytest.raises(InvalidImageError, match="cannot be decoded"):
        emb.embed([bytes(flipped)])
    with pytest.raises(InvalidImageError, match="JPEG header is cut short"):
        emb.embed([data[:200]])  # ends before the frame header


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_formats_not_allowed_by_default(emb: OnnxImageEmbedder, fmt: str) -> None:
    data = encode(Image.open(PHOTOS / "coffee.jpg").resize((64, 48)), fmt)
    with pytest.raises(InvalidImageError, match=f"is {fmt}, which is not an allowed format"):
        emb.embed([data])


def test_gif_and_bmp_can_be_allowed() -> None:
    im = Image.open(PHOTOS / "coffee.jpg").resize((300, 200))
    lenient = image_embedder(
        cache=False, limits=ImageLimits(formats=("JPEG", "PNG", "WEBP", "GIF", "BMP"))
    )
    x = lenient.embed([encode(im, "GIF"), encode(im, "BMP"), encode(im, "PNG")])
    assert float(x[1] @ x[2]) > 0.999  # BMP and PNG are both lossless
    assert float(x[0] @ x[2]) > 0.8  # GIF: 256 colours


def test_one_bad_image_fails_the_whole_call(emb: OnnxImageEmbedder) -> None:
    with pytest.raises(InvalidImageError, match="image #2"):
        emb.embed([photo("rocket.jpg"), photo("chelsea.png"), b"GIF89a....", photo("coffee.jpg")])
    with pytest.raises(InvalidImageError, match="not a single bytes"):
        emb.embed(photo("rocket.jpg"))


# -- models, cache, threads -----------------------------------------------------------------


def test_tampered_model_refuses_to_load(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copy(EFFICIENTNET_LITE0.path, copy)
    OnnxImageEmbedder(EFFICIENTNET_LITE0.at(copy), EFFICIENTNET_LITE0_CONFIG)  # intact: loads
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the weights
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=EFFICIENTNET_LITE0.sha256):
        OnnxImageEmbedder(EFFICIENTNET_LITE0.at(copy), EFFICIENTNET_LITE0_CONFIG)


def test_model_config_is_checked_against_the_model() -> None:
    from dataclasses import replace

    with pytest.raises(ConfigError, match="no_such_output"):
        OnnxImageEmbedder(
            EFFICIENTNET_LITE0, replace(EFFICIENTNET_LITE0_CONFIG, output_name="no_such_output")
        )
    wrong_dim = OnnxImageEmbedder(EFFICIENTNET_LITE0, replace(EFFICIENTNET_LITE0_CONFIG, dim=512))
    with pytest.raises(ConfigError, match=r"expected \(n, 512\)"):
        wrong_dim.embed([photo("rocket.jpg")])
    with pytest.raises(ConfigError, match="not available"):
        image_embedder(providers=["NoSuchExecutionProvider"])


def test_fingerprint_names_model_hash_dim_and_preprocessing() -> None:
    from dataclasses import replace

    fp = image_embedder().fingerprint
    assert fp.startswith("image:efficientnet-lite0;")
    assert f"sha256={EFFICIENTNET_LITE0.sha256}" in fp
    assert ";dim=1280;" in fp
    other = OnnxImageEmbedder(EFFICIENTNET_LITE0, replace(EFFICIENTNET_LITE0_CONFIG, resize=224))
    assert other.fingerprint != fp  # same model, other preprocessing: other vectors


def test_cache_skips_repeated_items() -> None:
    cache = EmbeddingCache()
    emb = image_embedder(cache=cache)
    a = emb.embed([photo("rocket.jpg"), photo("rocket.jpg"), photo("chelsea.png")])
    assert cache.misses == 2
    assert len(cache) == 2
    b = emb.embed([photo("chelsea.png"), photo("rocket.jpg")])
    assert cache.hits == 2
    np.testing.assert_array_equal(b, a[[2, 0]])
    b[0] = 0  # callers own their arrays: the cache keeps its copy
    np.testing.assert_array_equal(emb.embed([photo("chelsea.png")])[0], a[2])


def test_cache_is_bounded_by_size_and_age() -> None:
    now = [0.0]
    cache = EmbeddingCache(max_bytes=2 * 1280 * 4, ttl=10, timer=lambda: now[0])
    emb = image_embedder(cache=cache)
    emb.embed([photo("rocket.jpg"), photo("chelsea.png"), photo("coffee.jpg")])
    assert len(cache) == 2
    assert cache.nbytes <= 2 * 1280 * 4
    now[0] = 11.0
    assert len(cache) == 0


async def test_aembed_matches_embed(emb: OnnxImageEmbedder) -> None:
    items = [photo("rocket.jpg"), photo("coffee.jpg")]
    np.testing.assert_array_equal(await emb.aembed(items), emb.embed(items))


def test_threads_setting_keeps_the_vectors() -> None:
    one = image_embedder(cache=False, threads=1)
    np.testing.assert_allclose(
        one.embed([photo("coffee.jpg")]), image_embedder(cache=False).embed([photo("coffee.jpg")]),
        atol=1e-5,
    )  # fmt: skip
