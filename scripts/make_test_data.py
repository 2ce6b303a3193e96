"""Write ``tests/data/fashion_mnist_2k.npz``: a small, deterministic sample of real Fashion-MNIST.

Tests must not depend on a Debian package, so the repository ships this sample (MIT, Zalando
Research; see ``tests/data/README.md``). It is cut from Debian's ``dataset-fashion-mnist``::

    apt-get update && apt-get install -y dataset-fashion-mnist
    python scripts/make_test_data.py            # writes the file
    python scripts/make_test_data.py --check    # the shipped file equals a fresh cut

The sample is stratified: 200 training images per class (2,000 in all) and 10 held-out test
images per class (100 queries), drawn with a fixed seed and kept in source order. The arrays are
what is checked, not the bytes of the ``.npz``: zip entries carry a timestamp.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

SOURCE = Path("/usr/share/datasets/fashion-mnist")
TARGET = Path(__file__).resolve().parent.parent / "tests" / "data" / "fashion_mnist_2k.npz"
SEED = 20170825  # the day Fashion-MNIST was published
BASE_PER_CLASS = 200
QUERIES_PER_CLASS = 10
N_CLASSES = 10
_UBYTE = 0x08

U8 = npt.NDArray[np.uint8]
Index = npt.NDArray[np.int64]


def read_idx(path: Path) -> U8:
    """An IDX file of unsigned bytes (the MNIST format): zero, type, rank, big-endian dims, data."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != _UBYTE:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    rank = raw[3]
    shape = struct.unpack(f">{rank}I", raw[4 : 4 + 4 * rank])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes for shape {shape}")
    return data.reshape(shape)


def stratified(labels: U8, per_class: int, rng: np.random.Generator) -> Index:
    """``per_class`` row numbers of each class, drawn without replacement, in source order."""
    picks = [
        rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
        for c in range(N_CLASSES)
    ]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(source: Path) -> dict[str, npt.NDArray[np.generic]]:
    """The arrays of the sample, computed from the four gzip files in ``source``."""
    train_x = read_idx(source / "train-images-idx3-ubyte.gz")
    train_y = read_idx(source / "train-labels-idx1-ubyte.gz")
    test_x = read_idx(source / "t10k-images-idx3-ubyte.gz")
    test_y = read_idx(source / "t10k-labels-idx1-ubyte.gz")
    if train_x.shape != (60_000, 28, 28) or test_x.shape != (10_000, 28, 28):
        raise ValueError(f"unexpected shapes {train_x.shape}, {test_x.shape}")
    rng = np.random.default_rng(SEED)
    base = stratified(train_y, BASE_PER_CLASS, rng)
    queries = stratified(test_y, QUERIES_PER_CLASS, rng)
    return {
        "images": np.ascontiguousarray(train_x[base].reshape(len(base), 784)),
        "labels": train_y[base].copy(),
        "source_rows": base,  # row numbers in train-*-ubyte.gz
        "query_images": np.ascontiguousarray(test_x[queries].reshape(len(queries), 784)),
        "query_labels": test_y[queries].copy(),
        "query_source_rows": queries,  # row numbers in t10k-*-ubyte.gz
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="directory of the .gz files")
    parser.add_argument("--out", type=Path, default=TARGET, help="the .npz to write or check")
    parser.add_argument("--check", action="store_true", help="compare --out with a fresh cut")
    args = parser.parse_args(argv)
    source: Path = args.source
    out: Path = args.out
    if not (source / "train-images-idx3-ubyte.gz").is_file():
        print(
            f"Fashion-MNIST not found in {source}: apt-get install -y dataset-fashion-mnist",
            file=sys.stderr,
        )
        return 2
    arrays = build(source)
    if args.check:
        with np.load(out, allow_pickle=False) as shipped:
            same = set(shipped.files) == set(arrays) and all(
                shipped[k].dtype == v.dtype and np.array_equal(shipped[k], v)
                for k, v in arrays.items()
            )
        print(f"{out}: {'matches' if same else 'DIFFERS FROM'} a fresh cut of {source}")
        return 0 if same else 1
    out.parent.mkdir(parents=True, exist_ok=True)
    # Plain integer arrays only: nothing is pickled, and tests load with allow_pickle=False.
    np.savez_compressed(
        out,
        images=arrays["images"],
        labels=arrays["labels"],
        source_rows=arrays["source_rows"],
        query_images=arrays["query_images"],
        query_labels=arrays["query_labels"],
        query_source_rows=arrays["query_source_rows"],
    )  # keywords spelled out: numpy's stubs would read ``**arrays`` as ``allow_pickle``
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    for name in sorted(p.name for p in source.glob("*-ubyte.gz")):
        print(f"  sha256 {name}: {sha256(source / name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
