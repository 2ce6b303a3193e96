"""The HTTP similarity service behind ``edgevec serve`` (the ``server`` extra).

>>> from edgevec.server import serve
>>> serve("edgevec.toml", port=8000)  # doctest: +SKIP

:func:`create_app` gives the Starlette app over any store, to mount in another server or test;
:func:`serve` builds store and app from a config file's backend section and ``[service]`` table
and runs them under uvicorn. docs/service.md describes the endpoints.
"""

import importlib.util

from edgevec.errors import MissingDependencyError

_EXTRA = ("starlette", "uvicorn", "prometheus_client", "opentelemetry.sdk")
_missing = [m for m in _EXTRA if importlib.util.find_spec(m) is None]
if _missing:
    raise MissingDependencyError(
        f'edgevec\'s HTTP service needs {", ".join(_missing)}: pip install "edgevec[server]"'
    )

from edgevec.server.app import create_app  # noqa: E402  (after the extra's check)
from edgevec.server.run import serve  # noqa: E402
from edgevec.server.settings import ServiceSettings, load_service_settings  # noqa: E402

__all__ = ["ServiceSettings", "create_app", "load_service_settings", "serve"]
