"""Fashion-MNIST as float32 vectors: 60,000 base images and 10,000 queries of 784 pixels.

The split is the one ann-benchmarks uses for ``fashion-mnist-784-euclidean`` (train = base,
t10k = queries). The files come from Debian's ``dataset-fashion-mnist`` package (MIT); they are
read, never shipped. Set ``EDGEVEC_FASHION_MNIST`` to read them from another directory.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_DIR", "DatasetMissingError", "FashionMnist", "load_fashion_mnist"]

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
_FILES = ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")
_IDX_UBYTE = 0x08
IntArray = npt.NDArray[np.int64]


class DatasetMissingError(FileNotFoundError):
    """The data set is not installed; the message says how to install it."""


@dataclass(frozen=True)
class FashionMnist:
    """Base vectors and queries (float32 pixel values 0..255) with their class labels 0..9."""

    base: npt.NDArray[np.float32]
    base_labels: IntArray
    queries: npt.NDArray[np.float32]
    query_labels: IntArray
    source: Path

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])


def _read_idx(path: Path) -> npt.NDArray[np.uint8]:
    """Read an IDX file of unsigned bytes (the MNIST format): magic, dims, then the data."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != _IDX_UBYTE:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: {data.size} bytes for shape {shape}")
    return data.reshape(shape)


def _subsample(n_total: int, n: int | None, rng: np.random.Generator) -> IntArray:
    if n is None or n >= n_total:
        return np.arange(n_total, dtype=np.int64)
    if n < 1:
        raise ValueError(f"sample size must be positive, got {n}")
    return np.sort(rng.choice(n_total, size=n, replace=False)).astype(np.int64)


def load_fashion_mnist(
    n: int | None = None,
    queries: int | None = None,
    *,
    seed: int = 0,
    directory: Path | None = None,
) -> FashionMnist:
    """Load the set; ``n`` / ``queries`` draw a seeded random subsample of base / query rows.

    Raises :class:`DatasetMissingError` naming the install command when the files are absent.
    """
    root = directory or Path(os.environ.get("EDGEVEC_FASHION_MNIST", DEFAULT_DIR))
    paths = [root / f"{name}-ubyte.gz" for name in _FILES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DatasetMissingError(
            f"Fashion-MNIST not found in {root} (missing {', '.join(missing)}). Install it with\n"
            "    sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist\n"
            "or point EDGEVEC_FASHION_MNIST (or --data-dir) at a directory holding "
            "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz."
        )
    train_x, train_y, test_x, test_y = (_read_idx(p) for p in paths)
    rng = np.random.default_rng(seed)
    bi = _subsample(len(train_x), n, rng)
    qi = _subsample(len(test_x), queries, rng)

    def vectors(
        images: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        return np.ascontiguousarray(images[rows].reshape(len(rows), -1), dtype=np.float32)

    return FashionMnist(
        base=vectors(train_x, bi),
        base_labels=train_y[bi].astype(np.int64),
        queries=vectors(test_x, qi),
        query_labels=test_y[qi].astype(np.int64),
        source=root,
    )
