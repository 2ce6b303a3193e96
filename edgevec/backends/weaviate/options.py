"""Weaviate connection and per-collection options, and the endpoints they name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from edgevec.backends._endpoints import Endpoint, check_plaintext, parse_endpoint
from edgevec.config import parse_options
from edgevec.types import CollectionSpec

_CLOUD_DOMAINS = (".weaviate.cloud", ".weaviate.network")


class WeaviateCollectionOptions(BaseModel):
    """Per-collection options: ``create_collection(..., index="flat")``. Saved with the class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Literal["hnsw", "flat"] | None = None
    """Vector index; ``None`` takes the store's ``index``. ``flat`` is brute force (exact)."""
    ef: int | None = Field(default=None, ge=-1)
    """HNSW search beam (``-1``: Weaviate's dynamic ef); ``None`` keeps Weaviate's default."""
    ef_construction: int | None = Field(default=None, ge=4)
    max_connections: int | None = Field(default=None, ge=4)


class WeaviateOptions(BaseModel):
    """Options of ``edgevec.connect("weaviate", ...)``.

    ``url`` is the REST endpoint; without a scheme it gets ``https://``, except for loopback hosts
    (``http://``). Weaviate Cloud hosts (``*.weaviate.cloud``) get their gRPC endpoint
    (``grpc-<host>:443``) automatically; elsewhere gRPC is the same host on port 50051.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = "http://localhost:8080"
    api_key: SecretStr | None = None
    grpc_host: str | None = None
    grpc_port: int | None = Field(default=None, ge=1, le=65_535)
    tls: bool | None = None
    """TLS for REST and gRPC; ``None``: from the url's scheme (https unless loopback)."""
    timeout: float = Field(default=10.0, gt=0, le=3600)
    """Deadline in seconds of each operation (an upsert chunk, a query batch, a count, ...),
    retries included: weaviate-client's own back-off is switched off."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Objects per gRPC batch request."""
    index: Literal["hnsw", "flat"] = "hnsw"
    """Vector index of new collections: ``hnsw`` (approximate, Weaviate's default) or ``flat``."""

    @model_validator(mode="after")
    def _check_endpoints(self) -> WeaviateOptions:
        endpoints(self)  # raises ValueError with the reason
        return self


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the client connects: REST and gRPC host, port and TLS."""

    http_host: str
    http_port: int
    grpc_host: str
    grpc_port: int
    secure: bool


def endpoints(opts: WeaviateOptions) -> Endpoints:
    """Resolve ``url``, ``tls`` and the gRPC options; ``ValueError`` names the problem.

    Hosts are kept as they are written in a URL (IPv6 in brackets), the form weaviate-client
    pastes into its REST URL and gRPC target; :func:`client_kwargs` re-checks both.
    """
    ep = parse_endpoint(
        opts.url, "url", schemes=("http", "https"), default_scheme="https", path=False
    )
    if "://" in opts.url:
        secure = ep.scheme == "https"
        if opts.tls is not None and opts.tls != secure:
            raise ValueError(f"tls={opts.tls} contradicts the {ep.scheme}:// url")
    else:
        secure = opts.tls if opts.tls is not None else not ep.loopback
    credentials = opts.api_key is not None
    check_plaintext(ep, secure, credentials, "Weaviate url")
    host = ep.url_host
    port = ep.port or (443 if secure else 80)
    cloud = ep.host.endswith(_CLOUD_DOMAINS)
    if opts.grpc_host is not None:
        grpc = _grpc_endpoint(opts.grpc_host)
        check_plaintext(grpc, secure, credentials, "Weaviate grpc_host")
        grpc_host = grpc.url_host
    elif ep.host.endswith(".weaviate.network"):
        ident, domain = host.split(".", 1)
        grpc_host = f"{ident}.grpc.{domain}"
    else:
        grpc_host = f"grpc-{host}" if cloud else host
    grpc_port = opts.grpc_port or (443 if cloud else 50051)
    if grpc_host == host and grpc_port == port:
        raise ValueError("REST and gRPC need different ports on the same host (set grpc_port)")
    return Endpoints(host, port, grpc_host, grpc_port, secure)


def _grpc_endpoint(text: str) -> Endpoint:
    """``grpc_host`` is a bare host name or address (its port is ``grpc_port``)."""
    bare = f"[{text}]" if text.count(":") > 1 and not text.startswith("[") else text
    grpc = parse_endpoint(bare, "grpc_host", schemes=("https",), default_scheme="https", path=False)
    if "://" in text or grpc.port is not None or bare.endswith(":"):
        raise ValueError("grpc_host must be a bare host name or address (set grpc_port apart)")
    return grpc


def collection_options(spec: CollectionSpec, store: WeaviateOptions) -> WeaviateCollectionOptions:
    opts = parse_options(
        WeaviateCollectionOptions, spec.options, f"Weaviate options for collection {spec.name!r}"
    )
    return opts if opts.index is not None else opts.model_copy(update={"index": store.index})
