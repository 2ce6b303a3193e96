"""Cut the demo's bundled sample (``edgevec/demo/data/``) from the licensed test data.

``edgevec demo`` must run from the installed package alone, so a small subset of
``tests/data`` ships inside it (see ``edgevec/demo/data/README.md`` for provenance):

* ``images/clipart/<category>/`` -- of each category's 12 drawings (names sorted), positions
  0, 4 and 8: 36 public-domain drawings; ``images/photos/`` -- the four CC0 photos, as they are.
* ``queries/`` -- position 6 of three categories, drawings the index does not hold, and a
  small re-compressed copy of one photo (225x150, JPEG q75: the near-duplicate case).
* ``sentences.jsonl`` -- the 120 sentences of ``sentences.tsv`` with an id and their topic.

Files are copied byte for byte (the thumbnail aside); the rule was fixed before looking at any
result.
``python scripts/make_demo_data.py --check`` fails if the shipped sample differs from a fresh cut
(the thumbnail's bytes come from Pillow's JPEG encoder: made with Pillow 13.0.0, another version
may encode it differently).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import orjson
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "data"
TARGET = ROOT / "edgevec" / "demo" / "data"
INDEXED = (0, 4, 8)
QUERY = 6
QUERY_CATEGORIES = ("animals-mammals", "food-fruit", "transportation-vehicles")
THUMBNAIL_OF = "chelsea.png"


def cut() -> dict[str, bytes]:
    """Every file of the sample, relative path -> bytes (the README is written by hand)."""
    files: dict[str, bytes] = {}
    for category in sorted(p for p in (SOURCE / "clipart").iterdir() if p.is_dir()):
        names = sorted(p.name for p in category.iterdir())
        for pos in INDEXED:
            files[f"images/clipart/{category.name}/{names[pos]}"] = (
                category / names[pos]
            ).read_bytes()
        if category.name in QUERY_CATEGORIES:
            query = category / names[QUERY]
            files[f"queries/{category.name}--{names[QUERY]}"] = query.read_bytes()
    for photo in sorted((SOURCE / "photos").iterdir()):
        files[f"images/photos/{photo.name}"] = photo.read_bytes()
    thumbnail = io.BytesIO()
    with Image.open(SOURCE / "photos" / THUMBNAIL_OF) as image:
        image.convert("RGB").resize((225, 150)).save(thumbnail, "JPEG", quality=75)
    files[f"queries/photos--{Path(THUMBNAIL_OF).stem}-thumbnail.jpg"] = thumbnail.getvalue()
    with (SOURCE / "sentences.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    seen: dict[str, int] = {}
    lines = []
    for row in rows:
        seen[row["topic"]] = seen.get(row["topic"], 0) + 1
        record = {"id": f"{row['topic']}-{seen[row['topic']]:02d}", "text": row["sentence"]}
        lines.append(orjson.dumps({**record, "topic": row["topic"]}) + b"\n")
    files["sentences.jsonl"] = b"".join(lines)
    return files


def shipped(target: Path) -> dict[str, bytes]:
    return {
        p.relative_to(target).as_posix(): p.read_bytes()
        for p in target.rglob("*")
        if p.is_file() and p.name != "README.md"
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    files = cut()
    if args.check:
        ok = shipped(TARGET) == files
        print("demo sample matches a fresh cut" if ok else "demo sample differs from a fresh cut")
        return 0 if ok else 1
    for rel, data in files.items():
        path = TARGET / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total / 1e6:.2f} MB, under {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
