"""Every code example in README.md and docs/ runs, as written.

Conventions for whoever writes docs (the tests below enforce them):

* Every fenced block names its language. ```python blocks run, ```toml blocks are parsed and
  used, ```json blocks are filters in their JSON form and must parse as one; ``text``, ``bash``,
  ``sh`` and ``console`` are only shown (but the exception tree drawn in docs/api.md is compared
  with ``edgevec.errors``).
* Words after ``python`` in the info string are the extras the block needs, e.g.
  ```python qdrant or ```python faiss onnx. A block runs wherever all of them are installed and
  is skipped elsewhere, with the ``pip install`` that enables it;
  :func:`test_every_block_runs_in_a_nox_session` reads ``noxfile.py`` and fails if no default
  session installs them and runs this file, so no block is skipped everywhere.
* A python block runs as a script (``python -W error block.py``) in a fresh subprocess, with a
  timeout, in a fresh temporary working directory that holds ``tests/data`` (a link to the
  repository's sample data, so paths read as they do from a clone's root) and the document's
  named TOML files. A subprocess rather than ``exec``: a reader pastes a block into a file and
  runs it, so a missing import or a top-level ``await`` must fail here as it fails there; a hung
  block can be killed; and nothing (imports, event loops, Milvus Lite servers, the working
  directory) leaks between blocks or into pytest.
* Blocks that need a remote service read its address from the environment, as an application
  reads its endpoint and key: for ``pinecone`` the harness starts the loopback test server
  (``tests/servers``) and sets ``PINECONE_HOST`` and ``PINECONE_API_KEY``; for ``weaviate``
  ``WEAVIATE_URL`` and ``WEAVIATE_GRPC_PORT``.
* ``print(...)  # text`` claims what the call prints: every ``print`` with a trailing comment must
  print that line (``...`` matches anything), in order.
* A ```toml block whose first line is ``# <file name>`` is written under that name into the
  working directory of the document's python blocks. A TOML block with a ``backend`` key is a
  config example: every backend table in it must validate against that backend's options model,
  and the store it selects is opened and used — on a local engine directly, and with its remote
  endpoint replaced through ``EDGEVEC_<BACKEND>_<OPTION>`` by a loopback test server where one
  exists (Pinecone, Weaviate). A TOML block with a ``project`` table is a ``pyproject.toml``
  fragment and must register a backend through edgevec's entry-point group.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgevec.config import LAYER_KEYS
from edgevec.registry import BUILTIN_BACKENDS, ENTRY_POINT_GROUP

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
NOXFILE = ROOT / "noxfile.py"
THIS_FILE = "tests/test_docs.py"
TIMEOUT_S = 180.0
"""Per block. The slowest (Milvus Lite start-up, model loads) take seconds on 2 shared cores."""

EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "faiss": ("faiss",),
    "qdrant": ("qdrant_client",),
    "qdrant-edge": ("qdrant_edge",),
    "milvus": ("pymilvus", "milvus_lite"),
    "pinecone": ("pinecone",),
    "weaviate": ("weaviate",),
    "onnx": ("onnxruntime", "tokenizers", "PIL"),
    "router": (),  # core dependencies only
}
"""The extras a block may name, and the modules that tell whether each is installed."""

SHOWN_ONLY = frozenset({"text", "bash", "sh", "console"})
_FENCE = re.compile(r"^```(.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a document."""

    doc: Path
    line: int
    """1-based line of the opening fence."""
    lang: str
    needs: frozenset[str]
    code: str

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def read_blocks(doc: Path) -> list[Block]:
    """The fenced blocks of ``doc``, in order; an unclosed fence is an error."""
    blocks: list[Block] = []
    lines = doc.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    info: list[str] = []
    body: list[str] = []
    for number, text in enumerate(lines, 1):
        fence = _FENCE.match(text)
        if start is None:
            if fence:
                start, info, body = number, fence.group(1).split(), []
        elif fence and not fence.group(1).strip():
            lang = info[0] if info else ""
            code = "\n".join(body) + "\n"
            blocks.append(Block(doc, start, lang, frozenset(info[1:]), code))
            start = None
        else:
            body.append(text)
    assert start is None, f"{doc.relative_to(ROOT)}:{start}: unclosed code fence"
    return blocks


ALL_BLOCKS = [block for doc in DOCUMENTS for block in read_blocks(doc)]
PYTHON = [b for b in ALL_BLOCKS if b.lang == "python"]
TOML = [b for b in ALL_BLOCKS if b.lang == "toml"]


def toml_file_name(block: Block) -> str | None:
    """``edgevec.toml`` for a TOML block that starts ``# edgevec.toml``, else ``None``."""
    first = block.code.splitlines()[0] if block.code.strip() else ""
    match = re.fullmatch(r"#\s*([\w.-]+\.toml)\s*", first)
    return match.group(1) if match else None


def missing_extras(needs: frozenset[str]) -> list[str]:
    return [
        extra
        for extra in sorted(needs)
        if any(importlib.util.find_spec(module) is None for module in EXTRA_MODULES[extra])
    ]


def config_extras(data: dict[str, Any]) -> frozenset[str]:
    """The extras a config needs: its backend's, and for a router every region's."""
    backends = {data["backend"]}
    if data["backend"] == "router":
        for region in data["router"]["regions"].values():
            endpoints = region if isinstance(region, list) else [region]
            backends |= {endpoint["backend"] for endpoint in endpoints}
    return frozenset(BUILTIN_BACKENDS[name].extra for name in backends)


def skip_unless_installed(needs: frozenset[str]) -> None:
    missing = missing_extras(needs)
    if missing:
        pytest.skip(f'needs the {", ".join(missing)} extra: pip install ".[{",".join(missing)}]"')


# -- conventions -----------------------------------------------------------------------------


def test_block_extras_are_the_package_extras() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(EXTRA_MODULES) <= set(pyproject["project"]["optional-dependencies"])
    extras = {entry.extra for entry in BUILTIN_BACKENDS.values()}
    assert extras <= set(EXTRA_MODULES), "a new backend's extra is missing here"


def test_documents_were_found() -> None:
    assert (ROOT / "docs" / "index.md") in DOCUMENTS
    assert {b.doc.name for b in PYTHON} >= {"README.md", "api.md", "embedders.md", "qdrant.md"}


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.name)
def test_every_block_names_a_known_language(block: Block) -> None:
    """A block without a language would silently escape these tests."""
    assert block.lang in SHOWN_ONLY | {"python", "toml", "json"}, f"{block.name}: ```{block.lang}"
    if block.lang != "python":
        assert not block.needs, f"{block.name}: only python blocks name extras"
    unknown = block.needs - EXTRA_MODULES.keys()
    assert not unknown, f"{block.name}: unknown extras {sorted(unknown)}; known: {EXTRA_MODULES}"


def nox_sessions() -> dict[str, frozenset[str]]:
    """Default nox sessions that run this file (by name, or by running the whole suite), each
    with the extras it installs."""
    tree = ast.parse(NOXFILE.read_text(encoding="utf-8"))
    defaults: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "nox.options.sessions":
            defaults = set(ast.literal_eval(node.value))
    sessions: dict[str, frozenset[str]] = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or fn.name not in defaults:
            continue
        strings = {
            n.value
            for n in ast.walk(fn)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        whole_suite = any(
            isinstance(call, ast.Call)
            and ast.unparse(call.func) == "session.run"
            and [ast.unparse(a) for a in call.args] == ["*PYTEST", "*session.posargs"]
            for call in ast.walk(fn)
        )
        if THIS_FILE in strings or whole_suite:
            extras = {
                extra
                for s in strings
                if (m := re.fullmatch(r"\.\[([\w,-]+)\]", s))
                for extra in m.group(1).split(",")
            }
            sessions[fn.name] = frozenset(extras - {"test"})
    return sessions


def test_every_block_runs_in_a_nox_session() -> None:
    sessions = nox_sessions()
    assert sessions, "no default nox session runs tests/test_docs.py"
    needs = {b.needs for b in PYTHON} | {frozenset({backend}) for backend in SWAP_FILES}
    for need in needs:
        assert any(need <= extras for extras in sessions.values()), (
            f"no nox session installs {sorted(need)} and runs {THIS_FILE}: {sessions}"
        )


# -- python blocks -----------------------------------------------------------------------------


def expected_prints(code: str) -> list[str | None]:
    """For every ``print(...)`` statement, in source order, the text its trailing comment
    promises (``None`` without a comment)."""
    comments = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(code).readline)
        if tok.type == tokenize.COMMENT
    }
    prints = sorted(
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "print"
    )
    return [comments.get(end) for _, end in prints]


def check_output(block: Block, stdout: str) -> None:
    """Every promised line was printed, in order."""
    promised = expected_prints(block.code)
    if not any(promised):
        return
    lines = stdout.splitlines()
    assert len(lines) == len(promised), (
        f"{block.name}: {len(promised)} print statements, {len(lines)} lines printed:\n{stdout}"
    )
    for want, got in zip(promised, lines):
        if want is not None:
            pattern = ".*".join(re.escape(part) for part in want.split("..."))
            assert re.fullmatch(pattern, got), f"{block.name}: printed {got!r}, docs say {want!r}"


@contextlib.contextmanager
def services(needs: frozenset[str]) -> Iterator[dict[str, str]]:
    """The loopback test servers a block's extras call for, as the environment it reads."""
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if "pinecone" in needs:
            from tests.servers.pinecone_server import PineconeTestServer

            pine = stack.enter_context(PineconeTestServer(dimension=8, metric="cosine"))
            env |= {"PINECONE_HOST": pine.url, "PINECONE_API_KEY": pine.api_key}
        if "weaviate" in needs:
            from tests.servers.weaviate_server import WeaviateTestServer

            weav = stack.enter_context(WeaviateTestServer())
            env |= {"WEAVIATE_URL": weav.url, "WEAVIATE_GRPC_PORT": str(weav.grpc_port)}
        yield env


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The block's environment: this checkout first on the path, no ``EDGEVEC_*`` settings of
    the developer's shell (a live server URL would redirect a block), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEVEC_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env | dict(extra)


def workdir(tmp_path: Path, doc: Path, *, toml_override: tuple[str, str] | None = None) -> Path:
    """A fresh working directory: the sample data, and the document's named TOML files (with
    ``toml_override`` = (old line, new line) applied to them)."""
    work = tmp_path / "work"
    (work / "tests").mkdir(parents=True)
    (work / "tests" / "data").symlink_to(ROOT / "tests" / "data", target_is_directory=True)
    for block in TOML:
        name = toml_file_name(block)
        if block.doc == doc and name is not None:
            text = block.code
            if toml_override is not None:
                old, new = toml_override
                assert text.count(old) == 1, f"{block.name}: {old!r} is not exactly one line"
                text = text.replace(old, new)
            (work / name).write_text(text, encoding="utf-8")
    return work


def run_block(block: Block, work: Path, env: Mapping[str, str]) -> str:
    """Run ``block`` as a script in ``work``; its stdout, or a failure showing both streams."""
    script = work.parent / "block.py"
    script.write_text(block.code, encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, "-W", "error", str(script)],
            cwd=work,
            env=child_env(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.name}: still running after {TIMEOUT_S:.0f} s:\n{exc.stderr!r}")
    assert done.returncode == 0, (
        f"{block.name} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.name)
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    skip_unless_installed(block.needs)
    with services(block.needs) as env:
        stdout = run_block(block, workdir(tmp_path, block.doc), env)
    check_output(block, stdout)


# -- the README's config swap ------------------------------------------------------------------

SWAP_FILES = {"faiss": "vectors", "qdrant": "qdrant-data", "milvus": "milvus.db"}
"""Backend -> what the README's edgevec.toml makes it write in the working directory."""


@pytest.mark.parametrize("backend", sorted(SWAP_FILES))
def test_readme_config_swap_is_one_line(backend: str, tmp_path: Path) -> None:
    """Change ``backend = "faiss"`` in the README's edgevec.toml and nothing else: the same
    quickstart runs on that engine and prints the same hits (the ones its comments promise)."""
    readme = ROOT / "README.md"
    configs = [b for b in TOML if b.doc == readme and toml_file_name(b) == "edgevec.toml"]
    assert len(configs) == 1, "the README shows one edgevec.toml"
    quickstart = next(b for b in PYTHON if b.doc == readme and "edgevec.toml" in b.code)
    skip_unless_installed(frozenset({backend}))
    swap = ('backend = "faiss"', f'backend = "{backend}"')
    work = workdir(tmp_path, readme, toml_override=swap)
    stdout = run_block(quickstart, work, {})
    check_output(quickstart, stdout)
    assert sorted(p.name for p in work.iterdir()) == sorted(
        ["edgevec.toml", "tests", SWAP_FILES[backend]]
    ), "the store wrote where its table says, and nowhere else"


# -- TOML examples -----------------------------------------------------------------------------

CONFIGS = [b for b in TOML if "backend" in tomllib.loads(b.code)]


def test_toml_blocks_are_configs_or_pyproject_fragments() -> None:
    for block in TOML:
        data = tomllib.loads(block.code)
        assert "backend" in data or "project" in data, f"{block.name}: what is this TOML?"


def env_refs(table: Mapping[str, Any]) -> dict[str, str]:
    """A value for every ``{ env = "NAME" }`` in a backend table."""
    return {
        value["env"]: "test-secret"
        for value in table.values()
        if isinstance(value, Mapping) and set(value) == {"env"}
    }


@pytest.mark.parametrize("block", CONFIGS, ids=lambda b: b.name)
def test_config_example_tables_validate(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every option name and value in every backend table is one its backend accepts (a
    ``[service]`` table is checked in tests/test_server_docs.py, where the server extra is)."""
    from edgevec.config import SECTIONS, validate_options
    from edgevec.registry import load_backend

    data = tomllib.loads(block.code)
    tables = {
        k: v
        for k, v in data.items()
        if isinstance(v, dict) and k not in SECTIONS and k not in LAYER_KEYS
    }
    assert data["backend"] in tables, f"{block.name}: no table for the selected backend"
    assert set(tables) <= BUILTIN_BACKENDS.keys(), f"{block.name}: unknown tables"
    checked = 0
    for backend, table in tables.items():
        if missing_extras(frozenset({backend})):
            continue
        for var, value in env_refs(table).items():
            monkeypatch.setenv(var, value)
        validate_options(load_backend(backend), table)
        checked += 1
    if not checked:
        pytest.skip("none of its backends' extras is installed")


@contextlib.contextmanager
def endpoint_for(backend: str, table: Mapping[str, Any]) -> Iterator[dict[str, str] | None]:
    """Environment that points a config's remote endpoint at something that runs here: a
    loopback test server for Pinecone and Weaviate, Milvus Lite for a Milvus uri; ``{}`` for a
    table that is already local, ``None`` when nothing here can stand in for it (a Qdrant
    server: local mode is chosen by ``path``, which cannot be combined with ``url``)."""
    secret = dict.fromkeys(env_refs(table), "test-secret")
    if backend == "pinecone":
        from tests.servers.pinecone_server import PineconeTestServer

        with PineconeTestServer(dimension=8, metric="cosine", api_key="test-secret") as pine:
            yield secret | {"EDGEVEC_PINECONE_HOST": pine.url}
    elif backend == "weaviate":
        from tests.servers.weaviate_server import WeaviateTestServer

        with WeaviateTestServer(api_key="test-secret") as weav:
            port = str(weav.grpc_port)
            yield secret | {"EDGEVEC_WEAVIATE_URL": weav.url, "EDGEVEC_WEAVIATE_GRPC_PORT": port}
    elif backend == "milvus" and not str(table.get("uri", "")).endswith(".db"):
        yield secret | {"EDGEVEC_MILVUS_URI": "./milvus.db"}
    elif backend == "qdrant" and "url" in table:
        yield None
    else:
        yield secret


@pytest.mark.parametrize("block", CONFIGS, ids=lambda b: b.name)
def test_config_example_opens_a_working_store(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``connect(config=<the example>)`` gives a store that stores and finds vectors."""
    import edgevec

    data = tomllib.loads(block.code)
    backend = data["backend"]
    skip_unless_installed(config_extras(data))
    for var in [v for v in os.environ if v.startswith("EDGEVEC_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "edgevec.toml").write_text(block.code, encoding="utf-8")
    with endpoint_for(backend, data[backend]) as env:
        if env is None:
            pytest.skip(f"{backend} server config: no {backend} server runs here")
        for var, value in env.items():
            monkeypatch.setenv(var, value)
        rng = np.random.default_rng(8)
        vectors = rng.standard_normal((12, 8)).astype(np.float32)
        ids = [f"r{i}" for i in range(12)]
        with edgevec.connect(config="edgevec.toml") as store:
            coll = store.create_collection("docs_check", dim=8, metric="cosine", exist_ok=True)
            coll.upsert_arrays(ids, vectors, [{"i": i} for i in range(12)])
            hits = coll.query(vectors[5], k=3, filter=edgevec.F("i") >= 4)
            assert hits.ids[0] == "r5"
            assert coll.count() == 12


@pytest.mark.parametrize("block", [b for b in TOML if b not in CONFIGS], ids=lambda b: b.name)
def test_pyproject_fragment_registers_a_backend(block: Block, tmp_path: Path) -> None:
    """The entry-point table, installed as ``pip install`` would, adds a backend name."""
    group = tomllib.loads(block.code)["project"]["entry-points"][ENTRY_POINT_GROUP]
    info = tmp_path / "docs_plugin-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: docs-plugin\nVersion: 0.0.1\n")
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{name} = {target}" for name, target in group.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    code = "import edgevec.registry; print(' '.join(edgevec.registry.available()))"
    env = child_env({"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"})
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert set(group) <= set(out.stdout.split()), out.stdout


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.lang == "json"], ids=lambda b: b.name)
def test_json_blocks_are_valid_filters(block: Block) -> None:
    """The JSON shown is the filter's JSON form: edgevec accepts it as a filter."""
    from edgevec.filters import as_filter

    as_filter(json.loads(block.code))


# -- drawn facts ---------------------------------------------------------------------------------


def test_error_tree_is_the_real_one() -> None:
    """docs/api.md draws the exception tree; every class, parent and builtin base must be real."""
    import edgevec.errors

    block = next(b for b in ALL_BLOCKS if b.lang == "text" and b.code.startswith("EdgevecError"))
    drawn: dict[str, tuple[str | None, set[str]]] = {}
    path: list[str] = []
    for line in block.code.splitlines():
        match = re.match(r"((?:│   |    )*)(?:[├└]── )?(\w+)(?: \((\w+)\))?", line)
        assert match, f"{block.name}: cannot read {line!r}"
        depth = len(match.group(1)) // 4 + (1 if "── " in line else 0)
        del path[depth:]
        drawn[match.group(2)] = (path[-1] if path else None, {match.group(3)} - {None})
        path.append(match.group(2))
    base = edgevec.errors.EdgevecError
    real: dict[str, tuple[str | None, set[str]]] = {}
    for name in edgevec.errors.__all__:
        cls = getattr(edgevec.errors, name)
        if isinstance(cls, type) and issubclass(cls, base):
            parents = [b.__name__ for b in cls.__bases__ if issubclass(b, base)]
            builtins = {b.__name__ for b in cls.__bases__ if not issubclass(b, base)}
            real[name] = (parents[0] if parents else None, builtins - {"Exception"})
    assert drawn == real
