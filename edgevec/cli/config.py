"""``edgevec config check FILE``: validate a config and say what it would connect to."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from edgevec.cli.output import show_table
from edgevec.config import load_config, read_section, validate_options
from edgevec.errors import ConfigError, MissingDependencyError
from edgevec.layers import split_layers
from edgevec.registry import load_backend

__all__ = ["MASK", "app", "describe"]

app = typer.Typer(help="Check config files.", no_args_is_help=True)


MASK = "**********"
SECRET_WORDS = ("key", "token", "secret", "password")
"""An option or nested table key holding one of these is masked, whatever its type: a nested
table (a router's regions) reaches here as plain data, not as a model's ``SecretStr``."""


def describe(options: Mapping[str, Any], validated: Any) -> list[tuple[str, str]]:
    """``(option, shown value)`` for each option the file sets: the validated value, secrets
    masked, and an environment reference as the variable's name (never its value)."""
    rows = []
    for key in sorted(options):
        raw = options[key]
        value = raw if _env_ref(raw) else getattr(validated, key, raw)
        rows.append((key, _shown(key, value)))
    return rows


def _env_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"env"}


def _shown(name: str, value: Any) -> str:
    """``value`` for people: masked under a secret-sounding ``name``, tables key by key."""
    if _env_ref(value):
        return f"from ${value['env']}"
    if isinstance(value, SecretStr) or (
        value is not None and any(word in name.lower() for word in SECRET_WORDS)
    ):
        return MASK
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_shown(str(k), v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(name, v) for v in value) + "]"
    return repr(value)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The TOML config file.", dir_okay=False)],
) -> None:
    """Validate a config file as edgevec.connect(config=FILE) would, without connecting.

    Every bad key is named, with the valid ones; a valid file shows its backend and options
    (secrets masked, environment references by name), the layers it adds (cache, telemetry)
    and its [service] table as edgevec serve reads it.
    """
    backend, options = load_config(file)
    backend_options, layers = split_layers(options)
    validated = validate_options(load_backend(backend), backend_options)
    rows = describe(backend_options, validated) or [("(no options)", "defaults")]
    rows += [(f"layer {name}", repr(value)) for name, value in layers if value]
    rows += _service(file)
    show_table(f"{file}: valid, backend {backend!r}", ("option", "value"), rows)


def _service(file: Path) -> list[tuple[str, str]]:
    """Rows for the file's ``[service]`` table, validated as ``edgevec serve`` would (API keys
    counted, never shown); none without the table."""
    try:
        read_section(file, "service")
    except ConfigError:  # the file itself was read by load_config: it has no [service] table
        return []
    try:
        from edgevec.server.settings import load_service_settings
    except MissingDependencyError:
        return [("[service]", 'not checked: needs the server extra, pip install "edgevec[server]"')]
    settings = load_service_settings(file)
    rows = []
    for key, value in settings:
        if key == "api_keys":
            shown = f"{len(value)} key(s)" if value else "none: loopback only"
        else:
            shown = repr(value)
        rows.append((f"[service] {key}", shown))
    return rows
