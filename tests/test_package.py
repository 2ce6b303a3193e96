"""Package-level contracts: lazy imports, the public names of DESIGN.md §2, the error tree."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

import edgevec
from edgevec import errors

HEAVY = [
    "faiss",
    "qdrant_client",
    "qdrant_edge",
    "pymilvus",
    "pinecone",
    "weaviate",
    "onnxruntime",
    "tokenizers",
    "PIL",
    "pydantic",
]


def test_import_edgevec_loads_no_vendor_client() -> None:
    code = (
        "import sys, edgevec\n"
        f"heavy = {HEAVY!r}\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_contract_names_exist() -> None:
    for name in [
        "connect", "connect_async", "Record", "Hit", "Hits", "F", "Metric", "CollectionSpec",
        "EdgevecError", "VectorStore", "Collection",
    ]:  # fmt: skip
        assert hasattr(edgevec, name), name
    assert sorted(edgevec.__all__) == edgevec.__all__
    for name in edgevec.__all__:
        assert hasattr(edgevec, name), name


def test_error_tree() -> None:
    base = errors.EdgevecError
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), base), name
    assert issubclass(errors.MissingDependencyError, ImportError)
    assert issubclass(errors.DimensionMismatchError, errors.InvalidInputError)
    assert issubclass(errors.InvalidVectorError, errors.InvalidInputError)
    assert issubclass(errors.InvalidImageError, errors.InvalidInputError)
    for sub in ("BackendUnavailableError", "BackendTimeoutError", "AuthenticationError"):
        assert issubclass(getattr(errors, sub), errors.BackendError)
    assert issubclass(errors.BackendTimeoutError, TimeoutError)


@pytest.mark.skipif(importlib.util.find_spec("faiss") is not None, reason="faiss is installed here")
def test_builtin_backend_without_its_extra_says_how_to_install() -> None:
    with pytest.raises(errors.MissingDependencyError, match=r'pip install "edgevec\[faiss\]"'):
        edgevec.connect("faiss")
