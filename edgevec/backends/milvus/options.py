"""Milvus connection and per-collection index options, and the server endpoint they name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pymilvus.client.connection_manager import (  # type: ignore[import-untyped]
    ConnectionConfig,
)
from pymilvus.exceptions import (  # type: ignore[import-untyped]
    ConnectionConfigException,
)

from edgevec.backends._endpoints import Endpoint, agree, check_plaintext, parse_endpoint
from edgevec.config import parse_options

IndexType = Literal["FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX"]
Consistency = Literal["Strong", "Bounded", "Session", "Eventually"]


class MilvusIndexOptions(BaseModel):
    """Per-collection index options (``create_collection(..., index="hnsw", ef=128)``).

    ``FLAT`` is the default because it is exact: results equal the numpy oracle.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: IndexType = "FLAT"
    m: int = Field(default=16, ge=2, le=2048)
    """HNSW: graph degree (Milvus ``M``)."""
    ef_construction: int = Field(default=200, ge=1, le=65_536)
    """HNSW: build beam (Milvus ``efConstruction``)."""
    ef: int = Field(default=64, ge=1, le=32_768)
    """HNSW: search beam; raised to ``k`` when smaller (Milvus requires ``ef >= k``)."""
    nlist: int = Field(default=128, ge=1, le=65_536)
    """IVF_FLAT: number of clusters."""
    nprobe: int = Field(default=16, ge=1, le=65_536)
    """IVF_FLAT: clusters searched per query."""

    @field_validator("index", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class MilvusOptions(MilvusIndexOptions):
    """Options of ``edgevec.connect("milvus", ...)``; the index options are collection defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str
    """``http(s)://host:port`` of a server or Zilliz Cloud, or a Milvus Lite file ``./edge.db``."""
    token: SecretStr | None = None
    """API key or ``user:password``. Never in the uri: one with ``user:pass@`` is refused."""
    db_name: str = ""
    tls: bool | None = None
    """``None``: TLS for ``https://``; plain ``http://`` only to loopback unless ``False``."""
    ca_pem_path: str | None = None
    server_name: str | None = None
    """TLS server name override (SNI), for endpoints reached by IP or through a proxy."""
    timeout: float = Field(default=10.0, gt=0, le=3600)
    """Seconds per request, retries included (pymilvus otherwise retries for minutes)."""
    consistency_level: Consistency = "Session"
    """``Session``: reads see this process's writes at ``Bounded`` cost. ``Strong`` also shows
    other processes' writes at once but waits for the server's time tick (~0.3 s) on every read;
    ``Bounded``/``Eventually`` may not show a write to the next read."""
    flush: Literal["auto", "always", "never"] = "auto"
    """Flush after writes: ``auto`` does on Milvus Lite only (see the module docstring)."""

    @model_validator(mode="after")
    def _check_uri(self) -> MilvusOptions:
        if is_lite(self.uri):
            return self
        ep = server_endpoint(self)
        if self.tls is None and ep.scheme != "https" and not ep.loopback:
            raise ValueError(
                "plain-text uri to a remote host: use https://, or set tls=false to send data "
                "unencrypted (never credentials: a token needs TLS to a remote host)"
            )
        check_plaintext(ep, self.use_tls(), self.token is not None, "Milvus uri")
        return self

    @property
    def lite(self) -> bool:
        return is_lite(self.uri)

    def use_tls(self) -> bool:
        if self.tls is not None:
            return self.tls
        return not self.lite and server_endpoint(self).scheme == "https"

    def flush_writes(self) -> bool:
        return self.flush == "always" or (self.flush == "auto" and self.lite)


def is_lite(uri: str) -> bool:
    """pymilvus' own rule: a uri ending in ``.db`` is a Milvus Lite data directory."""
    return uri.endswith(".db")


def server_endpoint(opts: MilvusOptions) -> Endpoint:
    """The server uri, checked as pymilvus' own ``ConnectionConfig.from_uri`` reads it (the
    parser ``MilvusClient`` builds its gRPC address with), so both agree on the host."""
    ep = parse_endpoint(opts.uri, "uri", schemes=("http", "https", "tcp"), default_scheme="https")
    try:
        address = ConnectionConfig.from_uri(ep.url).address
    except ConnectionConfigException:
        raise ValueError("uri is not one pymilvus accepts") from None
    host, _, port = address.rpartition(":")
    agree((ep.host, ep.port), (host, int(port) if port.isdigit() else None), "uri", "pymilvus")
    return ep


def client_kwargs(opts: MilvusOptions) -> dict[str, Any]:
    """Keyword arguments for ``MilvusClient`` / ``AsyncMilvusClient``."""
    uri = opts.uri if opts.lite else server_endpoint(opts).url
    kw: dict[str, Any] = {"uri": uri, "db_name": opts.db_name, "timeout": opts.timeout}
    if opts.token is not None:
        kw["token"] = opts.token.get_secret_value()
    if opts.lite:
        Path(opts.uri).parent.mkdir(parents=True, exist_ok=True)
        return kw
    kw["secure"] = opts.use_tls()
    if opts.ca_pem_path:
        kw["ca_pem_path"] = opts.ca_pem_path
    if opts.server_name:
        kw["server_name"] = opts.server_name
    return kw


def index_options(
    defaults: MilvusOptions, overrides: Mapping[str, Any], name: str
) -> MilvusIndexOptions:
    merged = {**defaults.model_dump(include=set(MilvusIndexOptions.model_fields)), **overrides}
    return parse_options(MilvusIndexOptions, merged, f"Milvus index options for {name!r}")
