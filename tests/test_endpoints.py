"""Endpoint URLs: what edgevec approves is what the vendor client contacts.

Each adversarial URL below once passed a ``urllib.parse`` check while a client parser read
another host (or it would carry a secret into every repr and log line). They must be refused
before any I/O, on every backend and endpoint option, with an error that does not quote them.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

import edgevec
from edgevec import ConfigError
from edgevec.backends._endpoints import parse_endpoint

SECRET = "sk-endpoint-secret-0123456789"  # noqa: S105  # a dummy key to look for in outputs

# (backend, endpoint option, credential option, vendor module)
TARGETS = [
    ("qdrant", "url", "api_key", "qdrant_client"),
    ("pinecone", "host", "api_key", "pinecone"),
    ("milvus", "uri", "token", "pymilvus"),
    ("weaviate", "url", "api_key", "weaviate"),
]

REFUSED = {
    "backslash-at": "http://attacker.invalid\\@127.0.0.1:6333",
    "userinfo": f"http://admin:{SECRET}@127.0.0.1:6333",
    "userinfo-https": f"https://{SECRET}@db.example.com:6333",
    "query-key": f"https://db.example.com:6333?api_key={SECRET}",
    "fragment": f"https://db.example.com:6333#{SECRET}",
    "unicode-dots": "http://127\u30020\u30020\u30021:6333",
    "fullwidth-host": "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:6333",
    "pct-2f-at": "http://127.0.0.1%2F@attacker.invalid:6333",
    "pct-2f-host": "http://attacker.invalid%2F127.0.0.1:6333",
    "ipv6-remote": "http://[2001:db8::1]:6333",
    "ipv4-mapped": "http://[::ffff:7f00:1]:6333",
    "hex-loopback": "http://0x7f.1:6333",
    "short-loopback": "http://127.1:6333",
    "uppercase-remote": "HTTP://attacker.invalid:6333",
    "newline": "http://127.0.0.1:6333\n.attacker.invalid",
    "tab": "http://127.0.0.1\t:6333",
    "nul": "http://127.0.0.1\x00.attacker.invalid:6333",
    "space": " http://127.0.0.1:6333",
    "zero-width": "http://127.0.0.1\u200b:6333",
    "no-host": "http://:6333",
    "bad-port": "http://127.0.0.1:99999",
}

ACCEPTED = {
    "ipv4-loopback": ("http://127.0.0.1:6333", "127.0.0.1"),
    "ipv6-loopback": ("http://[::1]:6333", "::1"),
    "uppercase-loopback": ("HTTP://LOCALHOST:6333", "localhost"),
    "remote-tls": ("https://db.example.com:6333", "db.example.com"),
    "no-scheme-tls": ("db.example.com:6333", "db.example.com"),
}


def _options(backend: str, option: str, credential: str, url: str) -> dict[str, Any]:
    return {option: url, credential: SECRET}


@pytest.mark.parametrize("url", list(REFUSED.values()), ids=list(REFUSED))
@pytest.mark.parametrize(
    ("backend", "option", "credential", "module"), TARGETS, ids=[t[0] for t in TARGETS]
)
def test_adversarial_endpoints_are_refused_unquoted(
    backend: str, option: str, credential: str, module: str, url: str
) -> None:
    pytest.importorskip(
        module, reason=f'needs the {backend} extra: pip install "edgevec[{backend}]"'
    )
    with pytest.raises(ConfigError) as info:
        edgevec.connect(backend, **_options(backend, option, credential, url))
    message = str(info.value)
    assert SECRET not in message
    assert "attacker" not in message  # the refused URL is never echoed


@pytest.mark.parametrize(("url", "host"), list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_loopback_and_tls_endpoints_are_accepted(url: str, host: str) -> None:
    ep = parse_endpoint(url, "url", schemes=("http", "https"), default_scheme="https")
    assert ep.host == host
    assert ep.url.startswith(("http://", "https://"))
    again = parse_endpoint(ep.url, "url", schemes=("http", "https"), default_scheme="https")
    assert again == ep  # the normalised URL reads the same


# --------------------------------------------------------------------- vendor-specific checks


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning")
def test_qdrant_client_reading_another_host_is_refused() -> None:
    pytest.importorskip(
        "qdrant_client", reason='needs the qdrant extra: pip install "edgevec[qdrant]"'
    )
    # urllib.parse sees localhost; qdrant-client joins the path onto its base URL and would
    # send the key to attacker.invalid.
    with pytest.raises(ConfigError, match="qdrant-client's REST base URL") as info:
        edgevec.connect("qdrant", url="http://localhost:6333//attacker.invalid/x", api_key=SECRET)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6333", "http://[::1]:6333", "HTTP://localhost:6333"]
)
def test_qdrant_loopback_urls_reach_the_client_unchanged(url: str) -> None:
    pytest.importorskip(
        "qdrant_client", reason='needs the qdrant extra: pip install "edgevec[qdrant]"'
    )
    from edgevec.backends.qdrant import QdrantOptions, server_url

    assert server_url(QdrantOptions(url=url)) == url.replace("HTTP", "http")
    store = edgevec.connect("qdrant", url=url)  # the client is built, nothing is sent
    store.close()


def test_pinecone_index_gets_the_checked_url() -> None:
    pytest.importorskip(
        "pinecone", reason='needs the pinecone extra: pip install "edgevec[pinecone]"'
    )
    with edgevec.connect("pinecone", host="HTTP://127.0.0.1:5080/", api_key=SECRET) as store:
        assert store._index.host == "http://127.0.0.1:5080"  # type: ignore[attr-defined]


def test_milvus_uri_is_read_as_pymilvus_reads_it() -> None:
    pytest.importorskip("pymilvus", reason='needs the milvus extra: pip install "edgevec[milvus]"')
    from edgevec.backends.milvus import MilvusOptions, client_kwargs

    opts = MilvusOptions(uri="TCP://[::1]:19530", token=SecretStr(SECRET))
    assert client_kwargs(opts)["uri"] == "tcp://[::1]:19530"
    assert client_kwargs(opts)["secure"] is False
    with pytest.raises(ConfigError, match="plain http"):  # consent is not enough for a token
        edgevec.connect("milvus", uri="http://milvus.example.com:19530", tls=False, token=SECRET)


@pytest.mark.parametrize(
    "grpc_host",
    [
        "attacker.invalid",  # plaintext gRPC with the key to a remote host
        "127.0.0.1\\@attacker.invalid",
        "attacker.invalid:50051",  # a port belongs in grpc_port
        "https://127.0.0.1",
        "127.0.0.1/x",
        "localhost\u3002attacker.invalid",
        f"{SECRET}@127.0.0.1",
    ],
)
def test_weaviate_grpc_host_is_checked_like_the_url(grpc_host: str) -> None:
    pytest.importorskip(
        "weaviate", reason='needs the weaviate extra: pip install "edgevec[weaviate]"'
    )
    with pytest.raises(ConfigError, match="grpc_host") as info:
        edgevec.connect(
            "weaviate", url="http://127.0.0.1:8080", grpc_host=grpc_host, api_key=SECRET
        )
    assert SECRET not in str(info.value)


def test_weaviate_client_targets_the_checked_hosts() -> None:
    pytest.importorskip(
        "weaviate", reason='needs the weaviate extra: pip install "edgevec[weaviate]"'
    )
    from edgevec.backends.weaviate import WeaviateOptions, client_kwargs

    params = client_kwargs(
        WeaviateOptions(
            url="http://[::1]:8080", grpc_host="::1", grpc_port=50051, api_key=SecretStr(SECRET)
        )
    )["connection_params"]
    assert params._http_url == "http://[::1]:8080"
    assert params._grpc_target == "[::1]:50051"
    remote = client_kwargs(WeaviateOptions(url="https://w.example.com", grpc_host="g.example.com"))
    assert remote["connection_params"]._grpc_target == "g.example.com:50051"
