"""User-named paths (images, model files, config files) that are not regular files: refused at
once, typed, and never waited on.

``open()`` on a FIFO blocks until a writer appears; a watchdog releases any reader stuck there,
so a regression fails instead of hanging the run (the old code hung here forever).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgevec
from edgevec.embedders import EFFICIENTNET_LITE0, ImageLimits
from edgevec.embedders.images import check_image
from edgevec.errors import ConfigError, InvalidImageError
from edgevec.files import NotRegularFileError, read_regular

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4b60000000049454e44ae426082"
)


class _Watchdog:
    """Releases a reader stuck on the FIFO (by opening and closing its write end) and remembers
    that it had to: a regression then fails instead of hanging the run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.released = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while no reader
            except OSError:
                continue
            os.close(fd)
            self.released = True

    def stop(self) -> bool:
        self._stop.set()
        self._thread.join()
        return self.released


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = tmp_path / "image.png"
    os.mkfifo(path)
    watchdog = _Watchdog(path)
    yield path
    assert not watchdog.stop(), "the FIFO was opened for reading and waited on"


def test_read_regular_refuses_a_fifo_without_opening_it(fifo: Path) -> None:
    with pytest.raises(NotRegularFileError, match="FIFO"):
        read_regular(fifo)


@pytest.mark.parametrize(
    ("path", "kind"), [(Path("/dev/zero"), "character device"), (Path("/"), "directory")]
)
def test_read_regular_refuses_devices_and_directories(path: Path, kind: str) -> None:
    if not path.exists():
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(NotRegularFileError, match=kind):
        read_regular(path)


def test_read_regular_reads_files_up_to_one_byte_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    assert read_regular(path) == b"0123456789"
    assert read_regular(path, 3) == b"0123"
    with pytest.raises(OSError, match="null"):
        read_regular(str(path) + "\0x")


def test_image_from_a_fifo_is_an_invalid_image_at_once(fifo: Path) -> None:
    with pytest.raises(InvalidImageError, match=r"image #0 cannot be read: .*FIFO"):
        check_image(fifo, 0, ImageLimits())


def test_image_from_a_device_or_directory_is_an_invalid_image(tmp_path: Path) -> None:
    for path in (tmp_path, Path("/dev/zero")):
        if path.exists():
            with pytest.raises(InvalidImageError, match="not a regular file"):
                check_image(path, 0, ImageLimits())
    png = tmp_path / "one.png"
    png.write_bytes(PNG_1x1)
    assert check_image(png, 0, ImageLimits()).format == "PNG"  # regular files still read


def test_config_file_from_a_fifo_is_a_config_error_naming_it(fifo: Path) -> None:
    with pytest.raises(ConfigError, match="FIFO") as info:
        edgevec.connect(config=fifo)
    assert str(fifo) in str(info.value)


def test_model_file_from_a_fifo_is_a_config_error(fifo: Path) -> None:
    with pytest.raises(ConfigError, match="FIFO"):
        EFFICIENTNET_LITE0.at(fifo).read()


def test_embedder_refuses_a_fifo_among_its_images(fifo: Path) -> None:
    pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "edgevec[onnx]"')
    pytest.importorskip("PIL", reason='needs the onnx extra: pip install "edgevec[onnx]"')
    from edgevec.embedders import image_embedder

    emb = image_embedder()
    with pytest.raises(InvalidImageError, match=r"image #0 .*FIFO"):
        emb.embed([fifo])
