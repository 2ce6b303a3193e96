"""Sessions: lint, typing, tests (core, no extras) and one per backend. ``nox`` runs them all."""

from __future__ import annotations

import glob

import nox

nox.options.sessions = [
    "lint",
    "typing",
    "tests",
    "faiss",
    "qdrant",
    "qdrant_edge",
    "milvus",
    "milvus_server",
    "pinecone",
    "weaviate",
    "onnx",
    "cross",
    "security",
]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

# --strict-markers and "warnings are errors" come from pyproject.toml. (authlib, under
# weaviate-client, forces its own deprecation warnings to "always"; they show in the summary.)
PYTEST = ("pytest", "-q")
MILVUS_SERVER = "milvus==2.3.5"  # the newest PyPI wheel shipping the standalone server binary
# Each test's new collection takes the server ~2.5 s to load, so the async half of the live suite
# (the same requests through AsyncMilvusClient) would double the session to ~4 min on 2 cores.
LIVE_TESTS = "live and (not async or visible)"


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "scripts/unasync.py", "--check")  # async shell generated from sync


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks."""
    session.install(
        "-e",
        ".[test,faiss,qdrant,qdrant-edge,milvus,pinecone,weaviate,onnx]",
        "types-cachetools",
        "mypy>=1.11",
        "nox>=2024.4",
    )
    session.run("mypy", "--strict")


@nox.session
def tests(session: nox.Session) -> None:
    """The core suite with no backend extra installed: backend tests skip with the reason, and
    tests/test_missing_extras.py checks that each backend and embedder names its extra."""
    session.install("-e", ".[test]")
    session.run(*PYTEST, *session.posargs)


@nox.session
def security(session: nox.Session) -> None:
    """Endpoint checks and secret hiding on every backend's real client; config with Qdrant."""
    session.install("-e", ".[test,qdrant,milvus,pinecone,weaviate]")
    tests = ("tests/test_endpoints.py", "tests/test_secrets.py", "tests/test_config.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def faiss(session: nox.Session) -> None:
    """Everything with FAISS installed, the conformance suite included."""
    session.install("-e", ".[test,faiss]")
    session.run(*PYTEST, *session.posargs)


@nox.session
def qdrant(session: nox.Session) -> None:
    """Qdrant's own local mode (memory and path); live too when EDGEVEC_QDRANT_URL is set."""
    session.install("-e", ".[test,qdrant]")
    tests = ("tests/test_qdrant.py", "tests/test_conformance_qdrant.py", "tests/test_docs.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def qdrant_edge(session: nox.Session) -> None:
    """Qdrant Edge (Qdrant's Rust engine in process): flat and HNSW, on disk, killed, damaged."""
    session.install("-e", ".[test,qdrant-edge]")
    tests = (*sorted(glob.glob("tests/test_qdrant_edge*.py")), "tests/test_docs.py")
    session.run(*PYTEST, "tests/test_conformance_qdrant_edge.py", *tests, *session.posargs)


@nox.session
def milvus(session: nox.Session) -> None:
    """Milvus Lite for real (in process); live too when EDGEVEC_MILVUS_URI is set."""
    session.install("-e", ".[test,milvus]")
    tests = ("tests/test_milvus.py", "tests/test_conformance_milvus.py", "tests/test_docs.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def milvus_server(session: nox.Session) -> None:
    """A real Milvus standalone server (PyPI ``milvus``, not an edgevec dependency) on free
    loopback ports: the live conformance suite (sync; ``-- -k live`` adds the async half) and the
    read-your-writes checks (sync and async), then stopped."""
    session.install("-e", ".[test,milvus]", MILVUS_SERVER)
    session.run(
        "python", "scripts/milvus_server.py", "--start-timeout", "150", "--",
        "python", "-m", *PYTEST, "tests/test_conformance_milvus.py", "-k", LIVE_TESTS,
        *session.posargs,
    )  # fmt: skip


@nox.session
def pinecone(session: nox.Session) -> None:
    """Pinecone's wire-level test server; a live index too with EDGEVEC_PINECONE_API_KEY/HOST."""
    session.install("-e", ".[test,pinecone]")
    tests = ("tests/test_pinecone.py", "tests/test_conformance_pinecone.py", "tests/test_docs.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def weaviate(session: nox.Session) -> None:
    """Weaviate's wire-level test server (REST + gRPC); live too with EDGEVEC_WEAVIATE_URL."""
    session.install("-e", ".[test,weaviate]")
    tests = ("tests/test_weaviate.py", "tests/test_conformance_weaviate.py", "tests/test_docs.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def onnx(session: nox.Session) -> None:
    """The embedders with their bundled models on real data; bound collections on FAISS."""
    session.install("-e", ".[test,faiss,onnx]")
    tests = (*sorted(glob.glob("tests/test_embedders_*.py")), "tests/test_docs.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def cross(session: nox.Session) -> None:
    """The same 2,000 real vectors and 50 filtered queries on every backend."""
    session.install("-e", ".[test,faiss,qdrant,qdrant-edge,milvus,pinecone,weaviate]")
    session.run(*PYTEST, "tests/test_cross_backend.py", "tests/test_docs.py", *session.posargs)
