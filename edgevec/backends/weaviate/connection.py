"""The keyword arguments that build a Weaviate client on checked endpoints."""

from __future__ import annotations

import math
from typing import Any

import httpx
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.config import ConnectionConfig
from weaviate.connect.base import ConnectionParams, ProtocolParams

from edgevec.backends._endpoints import agree
from edgevec.backends.weaviate.channel import fail_fast_params
from edgevec.backends.weaviate.options import Endpoints, WeaviateOptions, endpoints
from edgevec.errors import ConfigError


def _check_params(params: ConnectionParams, ep: Endpoints) -> None:
    """The REST URL and gRPC target weaviate-client builds must name the hosts checked."""
    try:
        rest = httpx.URL(params._http_url)
        agree((ep.http_host, ep.http_port), (rest.host, rest.port), "url", "weaviate-client")
        grpc = httpx.URL(f"grpc://{params._grpc_target}")
        checked = (ep.grpc_host, ep.grpc_port)
        agree(checked, (grpc.host, grpc.port), "grpc_host", "weaviate-client's gRPC target")
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"invalid config for backend 'weaviate': {exc}") from None


def client_kwargs(opts: WeaviateOptions) -> dict[str, Any]:
    """Keyword arguments of ``WeaviateClient`` and ``WeaviateAsyncClient`` alike."""
    ep = endpoints(opts)
    params = fail_fast_params(
        http=ProtocolParams(host=ep.http_host, port=ep.http_port, secure=ep.secure),
        rpc=ProtocolParams(host=ep.grpc_host, port=ep.grpc_port, secure=ep.secure),
    )
    _check_params(params, ep)
    timeout = Timeout(query=opts.timeout, insert=opts.timeout, init=opts.timeout)
    config = AdditionalConfig(
        timeout=timeout,
        # httpx would retry failed connects itself; edgevec's callers own retries.
        connection=ConnectionConfig(
            session_pool_max_retries=0, session_pool_timeout=math.ceil(opts.timeout)
        ),
    )
    auth = None if opts.api_key is None else Auth.api_key(opts.api_key.get_secret_value())
    return {
        "connection_params": params,
        "auth_client_secret": auth,
        "additional_config": config,
        # The init checks ping gRPC and ask pypi.org for the latest client version.
        "skip_init_checks": True,
    }
