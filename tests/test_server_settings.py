"""The ``[service]`` table: validation messages, keys from the environment, keys never shown,
and the store's config reading past the table."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "edgevec.server", reason='needs the server extra: pip install "edgevec[server]"',
    exc_type=ImportError,  # edgevec.server raises MissingDependencyError naming the extra
)  # fmt: skip

from edgevec.config import load_config
from edgevec.errors import ConfigError, MissingDependencyError
from edgevec.server import load_service_settings, serve

HIDDEN = "s3cret-value-never-shown"


def write(tmp_path: Path, service: str) -> Path:
    path = tmp_path / "edgevec.toml"
    path.write_text(f'backend = "faiss"\n\n[faiss]\npath = "./v"\n\n[service]\n{service}\n')
    return path


def test_keys_come_from_the_environment_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVC_KEY", HIDDEN)
    config = write(tmp_path, 'collection = "c"\napi_keys = [{ env = "SVC_KEY" }, "literal-key"]')
    settings = load_service_settings(config)
    assert settings.keys() == [HIDDEN.encode(), b"literal-key"]
    assert (settings.collection, settings.embedder, settings.writes) == ("c", "image", False)
    assert HIDDEN not in repr(settings)
    assert "literal-key" not in repr(settings)
    assert load_config(config) == ("faiss", {"path": "./v"}), "the store ignores [service]"


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ('collection = "c"', r"option 'api_keys': Field required"),
        ('collection = "c"\napi_keys = []\nmax_kk = 5', r"unknown option 'max_kk'.*max_k"),
        ('collection = "c"\napi_keys = [{ env = "UNSET_SVC_KEY" }]', r"'UNSET_SVC_KEY' is not set"),
        ('collection = "c"\napi_keys = ["  "]', r"an API key is empty"),
        ('collection = "c"\napi_keys = []\nembedder = "audio"', r"option 'embedder'"),
        ('collection = "c"\napi_keys = []\nmax_k = 0', r"option 'max_k'"),
    ],
)
def test_bad_tables_are_explained(
    service: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNSET_SVC_KEY", raising=False)
    with pytest.raises(ConfigError, match=message) as info:
        load_service_settings(write(tmp_path, f'{service}\nmax_body_bytes = 1  # "{HIDDEN}"'))
    assert HIDDEN not in str(info.value)


def test_a_bad_key_value_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_service_settings(write(tmp_path, f'collection = "c"\napi_keys = "{HIDDEN}"'))
    assert HIDDEN not in str(info.value)


def test_no_table_no_service(tmp_path: Path) -> None:
    path = tmp_path / "edgevec.toml"
    path.write_text('backend = "faiss"\n')
    with pytest.raises(ConfigError, match=r"no \[service\] table"):
        load_service_settings(path)


def test_an_open_service_listens_on_loopback_only(tmp_path: Path) -> None:
    config = write(tmp_path, 'collection = "c"\napi_keys = []')
    with pytest.raises(ConfigError, match="loopback"):
        serve(config, host="0.0.0.0", port=1)  # noqa: S104  (the address being refused)


def test_without_the_extra_the_import_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """With uvicorn hidden (as if not installed), importing the service says which extra."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    monkeypatch.delitem(sys.modules, "edgevec.server")
    with pytest.raises(MissingDependencyError, match=r'pip install "edgevec\[server\]"'):
        importlib.import_module("edgevec.server")
