"""Pinecone connection options and the checks on the hosts an API key is sent to."""

from __future__ import annotations

import httpx
from pinecone import AsyncIndex, Index
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from edgevec.backends._endpoints import agree, check_plaintext, parse_endpoint
from edgevec.backends.pinecone.space import IndexMetric
from edgevec.errors import ConfigError

_METRIC_ALIASES = {"dot": "dotproduct", "l2": "euclidean"}


class PineconeOptions(BaseModel):
    """Options of ``edgevec.connect("pinecone", ...)``.

    Give the index's data-plane ``host`` (``https://`` is added when no scheme is given; plain
    ``http://`` only to a loopback address, such as a local test server), or its ``index`` name,
    resolved through the control plane (``controller_host`` overrides Pinecone's public API).
    """

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr
    host: str | None = None
    index: str | None = None
    controller_host: str | None = None
    metric: IndexMetric | None = None
    """The index's metric, when neither the data plane nor the control plane reports it.
    ``dot``/``l2`` are accepted for ``dotproduct``/``euclidean``."""
    namespace_prefix: str = ""
    """Prepended to every namespace, so several applications can share one index."""
    timeout: float = Field(default=10.0, gt=0)
    """The deadline of each operation, when no ``edgevec.deadline`` is in force."""
    retries: int = Field(default=1, ge=0, le=10)
    """Times one request is repeated after HTTP 429/5xx, after a jittered backoff (50 ms at
    most for the first), only while the wait fits in the deadline. Refused or reset connections
    and timeouts are never repeated here. One retry rides out a passing overload of a single
    store and delays a router's failover little; ``0`` leaves every retry to the caller."""
    batch_size: int = Field(default=1000, ge=1, le=1000)
    """Records per upsert request at most; requests are also kept under 2 MB."""
    exact: bool = False
    """Declare that the index answers exactly (the loopback test server does); Pinecone's own
    indexes are approximate, so the default is ``False``."""
    read_your_writes: bool = False
    """After each write, wait until queries (or fetches) see it, up to ``consistency_timeout``."""
    consistency_timeout: float = Field(default=10.0, gt=0)

    @field_validator("metric", mode="before")
    @classmethod
    def _metric_alias(cls, value: object) -> object:
        return _METRIC_ALIASES.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> PineconeOptions:
        if (self.host is None) == (self.index is None):
            raise ValueError("give exactly one of host (the index's data-plane URL) or index")
        if self.host is not None:
            https_url(self.host, "host")
            if self.controller_host is not None:
                raise ValueError("controller_host only applies with index (a name to resolve)")
        if self.controller_host is not None:
            https_url(self.controller_host, "controller_host")
        prefix = self.namespace_prefix
        if not prefix.isascii() or "\x00" in prefix or len(prefix) > 400:
            raise ValueError("namespace_prefix must be ASCII without NUL, at most 400 characters")
        return self


def https_url(value: str, what: str = "host") -> str:
    """``value`` as a URL with an explicit scheme: ``https`` unless ``http`` to loopback.

    The API key goes with every request, so plain ``http`` is refused for any other host.
    """
    ep = parse_endpoint(value, what, schemes=("http", "https"), default_scheme="https", path=False)
    check_plaintext(ep, ep.scheme == "https", True, what)
    return ep.url


def controller(opts: PineconeOptions) -> str | None:
    return (
        None if opts.controller_host is None else https_url(opts.controller_host, "controller_host")
    )


def check_index(index: Index | AsyncIndex, url: str) -> None:
    """The constructed client must contact exactly the checked URL (the client rewrites some
    hosts, e.g. stacked or unknown schemes, before it sends the API key there)."""
    theirs = str(getattr(index, "host", ""))
    ep = parse_endpoint(url, "host", schemes=("http", "https"), default_scheme="https")
    try:
        parsed = httpx.URL(theirs)
        agree((ep.host, ep.port), (parsed.host, parsed.port), "host", "the Pinecone client")
        if theirs.rstrip("/") != url:
            raise ValueError(f"host: the Pinecone client would use {theirs!r}, not {url!r}")
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"cannot open the Pinecone index: {exc}") from None
