"""Without its extra, every backend and embedder says which ``pip install`` line fixes it.

Two ways to be without an extra: really (the nox ``tests`` session installs only ``.[test]``;
those tests skip, with the reason, where the extra is installed) and by hiding one module of an
installed client from ``import``, which runs everywhere.
"""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

import edgevec
from edgevec import MissingDependencyError
from edgevec.registry import BUILTIN_BACKENDS, BackendEntry, load_backend

CLIENTS = {
    "faiss": "faiss",
    "qdrant": "qdrant_client",
    "qdrant_edge": "qdrant_edge",
    "milvus": "pymilvus",
    "pinecone": "pinecone",
    "weaviate": "weaviate",
}

# The first third-party module each backend module imports: before the registry mapped *any*
# missing third-party module to the extra, httpx (Qdrant, Weaviate) and grpc (Milvus) escaped
# as a raw ModuleNotFoundError.
FIRST_IMPORT = {
    "faiss": "faiss",
    "qdrant": "httpx",
    "qdrant_edge": "qdrant_edge",
    "milvus": "grpc",
    "pinecone": "pinecone",
    "weaviate": "grpc",
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _assert_install_line(backend: str) -> None:
    line = re.escape(f'pip install "edgevec[{BUILTIN_BACKENDS[backend].extra}]"')
    with pytest.raises(MissingDependencyError, match=line) as info:
        edgevec.connect(backend)
    assert isinstance(info.value, ImportError)
    with pytest.raises(MissingDependencyError, match=line):
        edgevec.connect_async(backend)


@pytest.mark.parametrize("backend", sorted(CLIENTS))
def test_backend_without_its_extra(backend: str) -> None:
    if _installed(CLIENTS[backend]):
        pytest.skip(f"the {backend} extra is installed here; the nox 'tests' session runs this")
    _assert_install_line(backend)


@pytest.mark.parametrize(("backend", "module"), sorted(FIRST_IMPORT.items()))
def test_backend_missing_any_client_dependency(
    monkeypatch: pytest.MonkeyPatch, backend: str, module: str
) -> None:
    package = f"edgevec.backends.{backend}"
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        monkeypatch.delitem(sys.modules, name)  # the backend is a package: forget its modules too
    monkeypatch.setitem(sys.modules, module, None)  # "import <module>" now fails as if absent
    _assert_install_line(backend)


def test_a_missing_edgevec_module_is_not_blamed_on_an_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(BUILTIN_BACKENDS, "faiss", BackendEntry("edgevec.no_such:Store", "faiss"))
    with pytest.raises(ModuleNotFoundError) as info:
        load_backend("faiss")
    assert not isinstance(info.value, MissingDependencyError)


ONNX_LINE = re.escape('pip install "edgevec[onnx]"')


def test_embedders_without_the_onnx_extra() -> None:
    if _installed("onnxruntime") and _installed("PIL"):
        pytest.skip("the onnx extra is installed here; the nox 'tests' session runs this")
    from edgevec.embedders import image_embedder

    with pytest.raises(MissingDependencyError, match=ONNX_LINE):
        image_embedder()


@pytest.mark.parametrize("module", ["onnxruntime", "PIL.Image"])
def test_image_embedder_missing_any_onnx_dependency(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    # Without Pillow the embedder used to build and then fail on its first image.
    monkeypatch.setitem(sys.modules, module, None)
    from edgevec.embedders import image_embedder

    with pytest.raises(MissingDependencyError, match=ONNX_LINE):
        image_embedder()
