"""connect() by name, dict, TOML file and environment; the registry and its errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import edgevec
from edgevec import ConfigError, MissingDependencyError
from edgevec.config import load_config
from edgevec.registry import BUILTIN_BACKENDS, BackendEntry, available, load_backend


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown backend 'faiz'.*faiss.*qdrant"):
        edgevec.connect("faiz")


def test_unknown_option_names_the_key_and_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'colour'.*valid options: .*label"):
        edgevec.connect("tiny", colour="red")


def test_bad_option_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="option 'label'"):
        edgevec.connect({"backend": "tiny", "label": 5})


def test_connect_by_dict() -> None:
    store = edgevec.connect({"backend": "tiny", "label": "x"})
    assert store.backend == "tiny"
    assert store.options.label == "x"  # type: ignore[attr-defined]


def test_entry_point_backend_is_listed() -> None:
    assert "tiny" in available()
    assert set(BUILTIN_BACKENDS) <= set(available())


def test_toml_config_switches_backend_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "edgevec.toml"
    cfg.write_text('backend = "tiny"\n\n[tiny]\nlabel = "from-file"\n\n[faiss]\npath = "unused"\n')
    store = edgevec.connect(config=cfg)
    assert (store.backend, store.options.label) == ("tiny", "from-file")  # type: ignore[attr-defined]


def test_env_overrides_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "edgevec.toml"
    cfg.write_text('backend = "faiss"\n[tiny]\nlabel = "file"\n')
    monkeypatch.setenv("EDGEVEC_BACKEND", "tiny")
    monkeypatch.setenv("EDGEVEC_TINY_LABEL", "env")
    store = edgevec.connect(config=cfg)
    assert (store.backend, store.options.label) == ("tiny", "env")  # type: ignore[attr-defined]


def test_env_override_with_unknown_option_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('backend = "tiny"\n')
    monkeypatch.setenv("EDGEVEC_TINY_COLOUR", "x")
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        edgevec.connect(config=cfg)


def test_env_of_a_backend_extending_the_name_is_not_this_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``EDGEVEC_QDRANT_EDGE_PATH`` is ``qdrant_edge``'s, not ``qdrant``'s option ``edge_path``."""
    monkeypatch.setitem(BUILTIN_BACKENDS, "tiny_extra", BackendEntry("tests.nowhere:Store", "x"))
    cfg = tmp_path / "c.toml"
    cfg.write_text('backend = "tiny"\n')
    monkeypatch.setenv("EDGEVEC_TINY_EXTRA_COLOUR", "x")
    monkeypatch.setenv("EDGEVEC_TINY_LABEL", "env")
    store = edgevec.connect(config=cfg)
    assert store.options.label == "env"  # type: ignore[attr-defined]


def test_connect_without_arguments_reads_edgevec_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('backend = "tiny"\nlabel = "flat-key"\n')
    monkeypatch.setenv("EDGEVEC_CONFIG", str(cfg))
    store = edgevec.connect()
    assert store.options.label == "flat-key"  # type: ignore[attr-defined]


def test_secret_references_read_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('backend = "tiny"\nlabel = { env = "TINY_LABEL" }\n')
    with pytest.raises(ConfigError, match=r"TINY_LABEL.*not set"):
        edgevec.connect(config=cfg)
    monkeypatch.setenv("TINY_LABEL", "secret-ish")
    assert edgevec.connect(config=cfg).options.label == "secret-ish"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("backend = 3\n", "'backend' must be a string"),
        ('backend = "tiny"\n[tinny]\nlabel = "x"\n', r"unknown table \[tinny\]"),
        ("backend = \n", "not valid TOML"),
    ],
)
def test_bad_config_files(tmp_path: Path, text: str, match: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=match):
        edgevec.connect(config=cfg)


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        edgevec.connect(config="/nonexistent/edgevec.toml")


def test_name_and_config_together_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        edgevec.connect("tiny", config=tmp_path / "x.toml")


def test_missing_extra_gives_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # A built-in whose client is absent here must say which extra installs it.
    monkeypatch.setitem(
        BUILTIN_BACKENDS, "faiss", BackendEntry("edgevec_no_such_client_module:Store", "faiss")
    )
    with pytest.raises(MissingDependencyError, match=r'pip install "edgevec\[faiss\]"') as info:
        load_backend("faiss")
    assert isinstance(info.value, ImportError)


# ------------------------------------------------------------------- EDGEVEC_BACKEND override

SWAP_FILE = """\
backend = "faiss"

[faiss]
path = "{faiss_dir}"

[tiny]
label = "tiny-table"
"""


def test_env_backend_selects_its_own_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "edgevec.toml"
    cfg.write_text(SWAP_FILE.format(faiss_dir=tmp_path / "faiss"))
    monkeypatch.setenv("EDGEVEC_BACKEND", "tiny")
    backend, options = load_config(cfg)
    assert (backend, options) == ("tiny", {"label": "tiny-table"})  # not the [faiss] path
    monkeypatch.setenv("EDGEVEC_TINY_LABEL", "from-env")
    store = edgevec.connect(config=cfg)
    assert (store.backend, store.options.label) == ("tiny", "from-env")  # type: ignore[attr-defined]


def test_env_qdrant_over_a_faiss_file_uses_the_qdrant_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(
        "qdrant_client", reason='Qdrant extra not installed: pip install "edgevec[qdrant]"'
    )
    faiss_dir, qdrant_dir = tmp_path / "faiss", tmp_path / "qdrant"
    cfg = tmp_path / "edgevec.toml"
    cfg.write_text(
        f'backend = "faiss"\n[faiss]\npath = "{faiss_dir}"\n[qdrant]\npath = "{tmp_path}/x"\n'
    )
    monkeypatch.setenv("EDGEVEC_BACKEND", "qdrant")
    monkeypatch.setenv("EDGEVEC_QDRANT_PATH", str(qdrant_dir))  # EDGEVEC_<BACKEND>_<OPTION>
    with edgevec.connect(config=cfg) as store:
        assert store.backend == "qdrant"
        store.create_collection("items", dim=3)
    assert qdrant_dir.is_dir()
    assert not faiss_dir.exists()  # Qdrant used to write its files into the FAISS directory


def test_env_backend_does_not_rewrite_a_dict_given_in_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDGEVEC_BACKEND", "faiss")
    assert edgevec.connect({"backend": "tiny", "label": "x"}).backend == "tiny"


# ------------------------------------------------------------------------ bad config sources


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d, "is a directory|a directory, not a regular file"),
        (lambda d: d / "missing.toml", "not found"),
        (lambda d: _write(d, b"backend = \n"), "not valid TOML"),
        (lambda d: _write(d, b'backend = "tiny"\nlabel = "\xff\xfe"\n'), "not UTF-8"),
    ],
    ids=["directory", "missing", "syntax", "not-utf8"],  # a FIFO: tests/test_files.py
)
def test_unusable_config_sources_are_config_errors_naming_the_file(
    tmp_path: Path, make: Callable[[Path], Path], match: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError, match=match) as info:
        edgevec.connect(config=path)
    assert str(path) in str(info.value)


def _write(directory: Path, data: bytes) -> Path:
    path = directory / "edgevec.toml"
    path.write_bytes(data)
    return path
