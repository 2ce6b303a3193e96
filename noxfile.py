"""Sessions: lint, typing, tests (core, no extras) and one per backend. ``nox`` runs them all."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

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
    "service",
    "cross",
    "router",
    "security",
    "cli",
    "demo",
    "docs",
]
nox.options.reuse_existing_virtualenvs = True
# uv builds each session's environment in seconds where pip takes half a minute; CI installs it.
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = False
# uv installs no bytecode, and many tests start fresh interpreters (docs blocks, CLI, crash
# writers, the service's process): with this set in the caller's shell every one of them would
# recompile each module it imports (an `import edgevec, faiss, qdrant_client` took 3.3 s, not 1.7).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# --strict-markers and "warnings are errors" come from pyproject.toml. (authlib, under
# weaviate-client, forces its own deprecation warnings to "always"; they show in the summary.)
# One pytest-xdist worker per core nearly halves the wall time on CI's two. A test module's
# functions (some build on the state an earlier one left, as the CLI's index-then-search do) and
# a test class stay on one worker, in order.
PYTEST = ("pytest", "-q", "-n", "auto", "--dist", "loadscope")
MILVUS_SERVER = "milvus==2.3.5"  # the newest PyPI wheel shipping the standalone server binary
# Each test's new collection takes the server ~2.5 s to load, so the async half of the live suite
# (the same requests through AsyncMilvusClient) would double the session to ~4 min on 2 cores.
LIVE_TESTS = "live and (not async or visible)"
MILVUS_BENCH = ("--n", "2000", "--no-json")
README_FIRST_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install ".[demo]" && .venv/bin/edgevec demo'
)


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
        ".[test,faiss,qdrant,qdrant-edge,milvus,pinecone,weaviate,onnx,cli,server,router]",
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


# Files that need no extra: the tests session runs them whole, so the faiss session skips them.
PURE_TESTS = (
    "test_cache_entry.py",
    "test_cache_key.py",
    "test_cli_entry.py",
    "test_config.py",
    "test_conformance_plugin.py",
    "test_embedders_package.py",
    "test_endpoints.py",
    "test_files.py",
    "test_filters.py",
    "test_payloads.py",
    "test_router_policy.py",
    "test_scores.py",
    "test_secrets.py",
    "test_types.py",
    "test_vectors.py",
    "test_write_hook.py",
    "test_docs.py",  # the docs session runs it with every extra
)


@nox.session
def faiss(session: nox.Session) -> None:
    """Every test that can use FAISS (a new test file runs here by default), the conformance
    suite included; :data:`PURE_TESTS` run in the tests session."""
    session.install("-e", ".[test,faiss]")
    ignored = [f"--ignore=tests/{name}" for name in PURE_TESTS]
    session.run(*PYTEST, *ignored, *session.posargs)


@nox.session
def qdrant(session: nox.Session) -> None:
    """Qdrant's own local mode (memory and path); live too when EDGEVEC_QDRANT_URL is set."""
    session.install("-e", ".[test,qdrant]")
    tests = ("tests/test_qdrant.py", "tests/test_conformance_qdrant.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def qdrant_edge(session: nox.Session) -> None:
    """Qdrant Edge (Qdrant's Rust engine in process): flat and HNSW, on disk, killed, damaged."""
    session.install("-e", ".[test,qdrant-edge]")
    tests = sorted(glob.glob("tests/test_qdrant_edge*.py"))
    session.run(*PYTEST, "tests/test_conformance_qdrant_edge.py", *tests, *session.posargs)


@nox.session
def milvus(session: nox.Session) -> None:
    """Milvus Lite for real (in process); live too when EDGEVEC_MILVUS_URI is set."""
    session.install("-e", ".[test,milvus]")
    tests = ("tests/test_milvus.py", "tests/test_conformance_milvus.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def milvus_server(session: nox.Session) -> None:
    """A real Milvus standalone server (PyPI ``milvus``, not an edgevec dependency) on free
    loopback ports: the live conformance suite (sync; ``-- -k live`` adds the async half) and the
    read-your-writes checks (sync and async), then the consistency and filter benchmarks against
    raw pymilvus, small (the 2,000-image sample, a few seconds a series), then stopped."""
    session.install("-e", ".[test,milvus]", MILVUS_SERVER)
    session.run(
        "python", "scripts/milvus_server.py", "--start-timeout", "150", "--",
        "python", "-m", *PYTEST, "tests/test_conformance_milvus.py", "-k", LIVE_TESTS,
        *session.posargs,
        "&&", "python", "benchmarks/bench_milvus_server.py", *MILVUS_BENCH, "--queries", "15",
        "&&", "python", "benchmarks/bench_filters.py", "--backends", "milvus-server",
        *MILVUS_BENCH, "--queries", "20", "--series-seconds", "4",
    )  # fmt: skip


@nox.session
def pinecone(session: nox.Session) -> None:
    """Pinecone's wire-level test server; a live index too with EDGEVEC_PINECONE_API_KEY/HOST."""
    session.install("-e", ".[test,pinecone]")
    tests = ("tests/test_pinecone.py", "tests/test_conformance_pinecone.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def weaviate(session: nox.Session) -> None:
    """Weaviate's wire-level test server (REST + gRPC); live too with EDGEVEC_WEAVIATE_URL."""
    session.install("-e", ".[test,weaviate]")
    tests = ("tests/test_weaviate.py", "tests/test_conformance_weaviate.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def onnx(session: nox.Session) -> None:
    """The embedders with their bundled models on real data; bound collections on FAISS."""
    session.install("-e", ".[test,faiss,onnx]")
    embedders = sorted(glob.glob("tests/test_embedders_*.py"))
    tests = (*embedders, "tests/test_telemetry.py")  # + embedder counters
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def service(session: nox.Session) -> None:
    """The HTTP service on a real uvicorn over FAISS with the bundled image model: in-process,
    as its own process (metrics, graceful stop), and its guide's curl examples."""
    session.install("-e", ".[test,faiss,onnx,server]")
    tests = sorted(glob.glob("tests/test_server*.py"))
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def router(session: nox.Session) -> None:
    """The router: conformance through it, FAISS/Qdrant/Milvus Lite regions, and a Pinecone
    region over HTTP behind the fault-injecting proxy."""
    session.install("-e", ".[test,router,faiss,qdrant,milvus,pinecone]")
    tests = sorted(glob.glob("tests/test_router*.py"))
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def cross(session: nox.Session) -> None:
    """The same 2,000 real vectors and 50 filtered queries on every backend (Qdrant Edge too), a
    migration through three of them (FAISS -> Qdrant -> Milvus Lite), the result cache on Qdrant
    and stats on every local engine (these tests mix FAISS with the others)."""
    session.install("-e", ".[test,faiss,qdrant,qdrant-edge,milvus,pinecone,weaviate]")
    tests = (
        "tests/test_cross_backend.py",
        "tests/test_migrate.py",
        "tests/test_cache.py",
        "tests/test_stats.py",
    )
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session
def cli(session: nox.Session) -> None:
    """The ``edgevec`` command on real engines: every command (FAISS with the bundled models),
    the demo and its printed ``serve`` command, migrate FAISS -> Qdrant -> Milvus Lite, the
    docs/cli.md examples."""
    session.install("-e", ".[test,demo,qdrant,milvus,pinecone]")
    tests = (*sorted(glob.glob("tests/test_cli*.py")), "tests/test_demo.py")
    session.run(*PYTEST, *tests, *session.posargs)


@nox.session(reuse_venv=False, venv_backend="venv")
def demo(session: nox.Session) -> None:
    """The README's first command, in this session's own fresh venv: pip (as the README says, not
    uv) installs the clone with the demo extra -- a wheel build, so the bundled sample must be in
    it -- and ``edgevec demo`` runs. Fails if the README's command is no longer this one."""
    first = re.search(r"```bash\n(.*?)\n```", Path("README.md").read_text(encoding="utf-8"))
    if first is None or first.group(1) != README_FIRST_COMMAND:
        session.error(f"the README's first command is no longer {README_FIRST_COMMAND!r}")
    session.install(".[demo]")
    session.run("edgevec", "demo", "--dir", f"{session.create_tmp()}/demo")


@nox.session
def docs(session: nox.Session) -> None:
    """Every code block of the README and docs/ with every extra installed (Pinecone and
    Weaviate blocks against the loopback test servers), once."""
    session.install(
        "-e", ".[test,faiss,qdrant,qdrant-edge,milvus,pinecone,weaviate,onnx,cli,server,router]"
    )
    # Every block is its own subprocess and depends on no other: spread them one by one.
    session.run(*PYTEST, "--dist", "load", "tests/test_docs.py", *session.posargs)
