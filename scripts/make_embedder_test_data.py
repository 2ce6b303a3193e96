"""Write the image samples the embedder tests use: public-domain clip art and CC0 photos.

* ``tests/data/clipart/<class>/*.jpg`` -- 12 concrete-object categories of Open Clip Art Library
  drawings (public domain), 12 drawings each, picked by a rule that never looked at a model:
  names sorted, black-and-white duplicates (``*_bw*``) and files over 32 MP skipped, 12 taken at
  evenly spaced positions. Transparency is flattened onto white and the longer side scaled to at
  most 256 px (JPEG, quality 90).
* ``tests/data/photos/`` -- four scikit-image sample photos (CC0 / public domain).

Sources are Debian's ``openclipart-png`` and the scikit-image wheel, unpacked anywhere::

    apt-get download openclipart-png && dpkg-deb -x openclipart-png_*.deb /tmp/oca
    pip download --no-deps scikit-image==0.26.0 && unzip -q scikit_image-*.whl -d /tmp/skimage
    python scripts/make_embedder_test_data.py \\
        --clipart /tmp/oca/usr/share/openclipart/png --skimage /tmp/skimage/skimage/data
"""

from __future__ import annotations

import argparse
import io
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

CLASSES = [
    "animals/birds",
    "animals/bugs",
    "animals/mammals",
    "buildings/homes",
    "computer/hardware",
    "food/beverages",
    "food/desserts",
    "food/fruit",
    "plants/flowers",
    "tools/weapons",
    "transportation/boating",
    "transportation/vehicles",
]
PER_CLASS = 12
MAX_SIDE = 256
MAX_SOURCE_PIXELS = 32_000_000

# name in the repository -> (file in skimage/data, re-encode as JPEG?)
PHOTOS = {
    "chelsea.png": ("chelsea.png", False),
    "coffee.jpg": ("coffee.png", True),
    "rocket.jpg": ("rocket.jpg", False),
    "astronaut.jpg": ("astronaut.png", True),
}


def png_pixels(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(24)
    w, h = struct.unpack(">II", head[16:24])
    return int(w) * int(h)


def pick(folder: Path) -> list[Path]:
    names = sorted(
        p
        for p in folder.glob("*.png")
        if "_bw" not in p.stem and png_pixels(p) <= MAX_SOURCE_PIXELS
    )
    idx = np.linspace(0, len(names) - 1, PER_CLASS).round().astype(int)
    return [names[i] for i in idx]


def flatten(path: Path) -> Image.Image:
    im = Image.open(path)
    im.load()
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    scale = MAX_SIDE / max(rgb.size)
    if scale < 1:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    return rgb


def jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, optimize=True)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clipart", type=Path, default=Path("/usr/share/openclipart/png"))
    parser.add_argument("--skimage", type=Path, required=True, help="skimage/data directory")
    args = parser.parse_args()

    out = DATA / "clipart"
    shutil.rmtree(out, ignore_errors=True)
    for cls in CLASSES:
        target = out / cls.replace("/", "-")
        target.mkdir(parents=True)
        for drawing in pick(args.clipart / cls):
            (target / f"{drawing.stem}.jpg").write_bytes(jpeg(flatten(drawing)))

    photos = DATA / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for name, (src, reencode) in PHOTOS.items():
        source = args.skimage / src
        data = jpeg(Image.open(source).convert("RGB")) if reencode else source.read_bytes()
        (photos / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
