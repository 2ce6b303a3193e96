"""Config from code, dicts, TOML files and ``EDGEVEC_*`` environment variables.

A config file names the backend in one line and keeps each backend's options in its own table,
so switching engines is a one-line change::

    backend = "faiss"

    [faiss]
    path = "./vectors"

    [qdrant]
    url = "https://qdrant.example.com:6333"
    api_key = { env = "QDRANT_API_KEY" }   # secrets are read from the environment

    [cache]                 # optional layers around any backend: see edgevec.layers
    ttl = 30

Environment overrides (applied to config files and to ``connect()`` with no arguments):
``EDGEVEC_BACKEND`` replaces the backend name and ``EDGEVEC_<BACKEND>_<OPTION>`` one option, e.g.
``EDGEVEC_QDRANT_URL``. ``EDGEVEC_CONFIG`` names the file ``connect()`` reads by default.

The same file may hold a ``[service]`` table for ``edgevec serve`` (see :func:`read_section`);
the store ignores it, so one file configures both the store and the service in front of it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from edgevec.errors import ConfigError
from edgevec.files import read_regular
from edgevec.registry import available

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from pydantic import BaseModel

    from edgevec.base import BaseStore

__all__ = [
    "DEFAULT_BACKEND",
    "LAYER_KEYS",
    "SECTIONS",
    "load_config",
    "parse_options",
    "read_section",
    "resolve",
    "validate_options",
]

DEFAULT_BACKEND = "faiss"
ENV_PREFIX = "EDGEVEC_"
TABLE_OPTIONS = {"router": frozenset({"regions"})}
"""Options whose value is itself a table: a router's ``regions`` (name -> backend config)."""
LAYER_KEYS = frozenset({"cache", "telemetry"})
"""Keys that choose layers around any backend (:mod:`edgevec.layers`), not backend options."""
SECTIONS = frozenset({"service"})
"""Tables read by the parts of edgevec built on a store (the HTTP service), not by a backend."""


def load_config(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """Read a TOML config file into ``(backend, options)`` (environment overrides applied).

    Every way the file can be unusable (missing, a directory or FIFO, not UTF-8, not TOML) is a
    :class:`ConfigError` that names it.
    """
    backend, options = split_config(_read_toml(path), source=str(path), backend=_env_backend())
    return backend, _env_options(backend, options)


def read_section(path: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """The ``[name]`` table of a config file (one of :data:`SECTIONS`), as written.

    Its consumer validates it (``edgevec.server`` the ``[service]`` table); a file without the
    table is a :class:`ConfigError` that says so.
    """
    table = _read_toml(path).get(name)
    if not isinstance(table, Mapping):
        raise ConfigError(f"config file {os.fspath(path)!r} has no [{name}] table")
    return dict(table)


def _read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        raw = read_regular(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {os.fspath(path)!r}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {os.fspath(path)!r}: {exc}") from exc
    try:
        data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {os.fspath(path)!r} is not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {os.fspath(path)!r} is not valid TOML: {exc}") from exc
    return data


def split_config(
    data: Mapping[str, Any], *, source: str, backend: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Pick the backend and its options from a config mapping (flat keys or per-backend tables).

    ``backend`` (``EDGEVEC_BACKEND`` for files) overrides the mapping's own ``backend`` key and
    so also selects which table applies: overriding the name but keeping the file's table would
    hand one engine's options (its data directory, say) to another.
    """
    names = available()
    own = data.get("backend", DEFAULT_BACKEND)
    if not isinstance(own, str):
        raise ConfigError(f"{source}: 'backend' must be a string, got {own!r}")
    chosen = own if backend is None else backend
    options: dict[str, Any] = {}
    for key, value in data.items():
        if key == "backend" or (key in SECTIONS and isinstance(value, Mapping)):
            continue
        if isinstance(value, Mapping) and key in names:
            if key == chosen:
                options.update(value)
        elif (
            isinstance(value, Mapping)
            and set(value) != {"env"}
            and key not in LAYER_KEYS
            and key not in TABLE_OPTIONS.get(chosen, ())
        ):
            raise ConfigError(
                f"{source}: unknown table [{key}]; backend tables are: {', '.join(names)}; "
                f"other tables: {', '.join(sorted(SECTIONS | LAYER_KEYS))}"
            )
        else:
            options[key] = value
    return chosen, options


def _env_backend() -> str | None:
    """``EDGEVEC_BACKEND``, or ``None`` when unset or empty."""
    return os.environ.get(ENV_PREFIX + "BACKEND") or None


def _env_options(backend: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with every ``EDGEVEC_<BACKEND>_<OPTION>`` variable applied on top.

    Variables of a backend whose name extends this one's (``EDGEVEC_QDRANT_EDGE_PATH`` is
    ``qdrant_edge``'s, not ``qdrant``'s option ``edge_path``) are left to that backend.
    """
    prefix = f"{ENV_PREFIX}{backend.upper()}_"
    others = tuple(
        f"{ENV_PREFIX}{name.upper()}_"
        for name in available()
        if name != backend and name.upper().startswith(prefix[len(ENV_PREFIX) :])
    )
    merged = dict(options)
    for var, value in os.environ.items():
        if var.startswith(prefix) and len(var) > len(prefix) and not var.startswith(others):
            merged[var[len(prefix) :].lower()] = value
    return merged


def _resolve_env_refs(options: Mapping[str, Any], backend: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, Mapping) and set(value) == {"env"}:
            var = value["env"]
            if not isinstance(var, str) or var not in os.environ:
                raise ConfigError(
                    f"option {key!r} of backend {backend!r} refers to environment variable "
                    f"{var!r}, which is not set"
                )
            out[key] = os.environ[var]
        else:
            out[key] = value
    return out


def validate_options(cls: type[BaseStore], options: Mapping[str, Any]) -> BaseModel:
    """Validate ``options`` with the backend's model; :class:`ConfigError` names the key."""
    resolved = _resolve_env_refs(options, cls.backend)
    return parse_options(cls.Options, resolved, f"config for backend {cls.backend!r}")


M = TypeVar("M", bound="BaseModel")


def parse_options(model: type[M], options: Mapping[str, Any], what: str) -> M:
    """Validate ``options`` with a pydantic ``model``; on failure a :class:`ConfigError` says
    ``invalid {what}``, names each bad key and lists the valid ones."""
    from pydantic import ValidationError

    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        valid = ", ".join(sorted(model.model_fields))
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            key = ".".join(str(part) for part in err["loc"]) or "(options)"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown option {key!r}")
            else:
                problems.append(f"option {key!r}: {err['msg']}")
        raise ConfigError(
            f"invalid {what}: {'; '.join(problems)} (valid options: {valid})"
        ) from None  # pydantic's own message would echo input values, secrets included


def resolve(
    target: str | Mapping[str, Any] | None,
    config: str | os.PathLike[str] | None,
    options: Mapping[str, Any],
) -> tuple[str, dict[str, Any]]:
    """Turn ``connect``'s arguments into ``(backend, options)``."""
    if config is not None:
        if target is not None:
            raise ConfigError("pass either a backend (name or dict) or config=, not both")
        backend, opts = load_config(config)
        opts.update(options)
        return backend, opts
    if target is None:
        env_file = os.environ.get(ENV_PREFIX + "CONFIG")
        if env_file:
            return resolve(None, env_file, options)
        backend = _env_backend() or DEFAULT_BACKEND
        return backend, _env_options(backend, options)
    if isinstance(target, Mapping):
        backend, opts = split_config(target, source="config dict")
        opts.update(options)
        return backend, opts
    if isinstance(target, str):
        return target, dict(options)
    raise ConfigError(f"connect() takes a backend name, a dict or config=, got {target!r}")
