"""Qdrant connection and per-collection options, and the server endpoint they name."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from urllib3.util import parse_url  # qdrant-client's own URL parser

from edgevec.backends._endpoints import Endpoint, agree, check_plaintext, parse_endpoint

PayloadIndexType = Literal["keyword", "integer", "float", "bool", "datetime", "uuid"]
DECLARED_INDEX: dict[str, PayloadIndexType] = {
    "int": "float", "float": "float", "bool": "bool", "keyword": "keyword",
}  # fmt: skip
"""Payload index per declared type (a list field indexes its elements). Ints get a float index:
numeric ``==`` compiles to a range, which an integer index answers only for integer bounds."""


class QdrantCollectionOptions(BaseModel):
    """Per-collection options: ``create_collection(..., payload_indexes={"color": "keyword"})``.

    They are saved in the collection's Qdrant metadata, so ``collection(name)`` restores them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    payload_indexes: dict[str, PayloadIndexType] = Field(default_factory=dict)
    """Field path -> Qdrant index type, created with the collection (a server needs them for fast
    filtering). edgevec compiles numeric ``==``/``in`` to ranges, so index numeric fields as
    ``float`` (it covers ints too); an ``integer`` index ignores float values. Local mode has no
    payload indexes and skips them."""
    exact: bool | None = None
    """Exact (brute-force) search on a server; ``None`` takes the store's ``exact``."""
    hnsw_ef: int | None = Field(default=None, ge=1)
    """HNSW search beam on a server; ``None`` keeps the server's default."""
    hnsw_m: int | None = Field(default=None, ge=0)
    ef_construct: int | None = Field(default=None, ge=4)
    on_disk: bool | None = None
    """Keep vectors on disk (memory-mapped) on a server."""


class QdrantOptions(BaseModel):
    """Options of ``edgevec.connect("qdrant", ...)``.

    Give ``url`` for a server, or ``path`` / ``location=":memory:"`` for local mode (the default).
    A URL without a scheme gets ``https://``: TLS is on unless asked off (``https=False`` or an
    explicit ``http://``), and an API key is never sent in clear text to a non-loopback host.
    """

    model_config = ConfigDict(extra="forbid")

    location: Literal[":memory:"] | None = None
    path: str | None = None
    url: str | None = None
    api_key: SecretStr | None = None
    https: bool | None = None
    """TLS for a URL without a scheme (default on); must agree with an explicit scheme."""
    grpc_port: int = Field(default=6334, ge=1, le=65_535)
    prefer_grpc: bool = False
    timeout: float = Field(default=10.0, gt=0)
    """Seconds per request; qdrant-client rounds it up to a whole second."""
    exact: bool = False
    """Default for collections on a server: exact search instead of HNSW (local mode is exact)."""
    batch_size: int = Field(default=256, ge=1, le=10_000)
    """Points per upsert request (Qdrant's REST body limit is 32 MiB by default)."""
    check_compatibility: bool = False
    """Ask the server for its version on connect (one extra request; a mismatch only warns)."""

    @model_validator(mode="after")
    def _one_target(self) -> QdrantOptions:
        given = [k for k in ("location", "path", "url") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of location, path or url, not {' and '.join(given)}")
        if self.url is None:
            for key in ("api_key", "https"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key} only applies with url (local mode has no network)")
        else:
            server_url(self)  # raises ValueError with the reason
        return self

    @property
    def local(self) -> bool:
        return self.url is None


def server_endpoint(opts: QdrantOptions) -> Endpoint:
    """The server URL, checked as qdrant-client itself parses it (urllib3's ``parse_url``), so
    the host judged loopback or remote here is the host the client contacts."""
    assert opts.url is not None
    default = "http" if opts.https is False else "https"
    ep = parse_endpoint(opts.url, "url", schemes=("http", "https"), default_scheme=default)
    theirs = parse_url(ep.url)
    agree((ep.host, ep.port), (theirs.host, theirs.port), "url", "qdrant-client (urllib3)")
    if opts.https is not None and opts.https != (ep.scheme == "https"):
        raise ValueError(f"https={opts.https} contradicts the {ep.scheme}:// url")
    check_plaintext(ep, ep.scheme == "https", opts.api_key is not None, "Qdrant url")
    return ep


def server_url(opts: QdrantOptions) -> str:
    """The URL handed to qdrant-client, always with an explicit scheme (TLS unless opted out)."""
    return server_endpoint(opts).url
