"""Endpoint URLs checked so that the host edgevec approves is the host the client contacts.

URL parsers disagree on hostile input: ``http://attacker.invalid\\@127.0.0.1`` is loopback to
``urllib.parse`` but ``attacker.invalid`` to urllib3, which qdrant-client uses. A check made with
one parser and a connection made with another lets credentials travel in clear text to the wrong
host. So an endpoint is (1) refused outright if it holds anything parsers read differently --
backslashes, ``user:pass@`` userinfo, percent signs in the authority, whitespace, control or
non-ASCII characters, a query or fragment -- then (2) split once here, and (3) compared, through
:func:`agree`, with what the vendor's own parser, or the constructed client, says it will
contact. Only then does :func:`check_plaintext` decide whether credentials may go over plain
text: to loopback hosts only, whatever the other options say.

No message here quotes the URL it refuses: a refused URL may hold a secret.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from edgevec.backends._local import is_loopback

__all__ = ["Endpoint", "agree", "check_plaintext", "parse_endpoint"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A checked endpoint: lower-case scheme and host (IPv6 without brackets), port, path."""

    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def url_host(self) -> str:
        """The host as written in a URL or a gRPC target: an IPv6 address in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def netloc(self) -> str:
        return self.url_host if self.port is None else f"{self.url_host}:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint as the one URL handed to the client (nothing it could read otherwise)."""
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def _refusal(text: str) -> str | None:
    """Why ``text`` cannot be an endpoint, or ``None``."""
    for char in text:
        if char == "\\":
            return "a backslash"
        if char == "@":
            return "'@' (credentials in the URL): pass them as api_key/token instead"
        if char.isspace():
            return "whitespace"
        if unicodedata.category(char).startswith("C"):
            return "a control or format character"
        if not char.isascii():
            return "a non-ASCII character (write an international host name in punycode)"
    return None


def parse_endpoint(
    text: str, what: str, *, schemes: Collection[str], default_scheme: str, path: bool = True
) -> Endpoint:
    """Split and check ``text``; ``ValueError`` (naming ``what``, never quoting ``text``).

    Without ``scheme://``, ``default_scheme`` applies; ``path=False`` refuses a path.
    """
    reason = _refusal(text)
    if reason is not None:
        raise ValueError(f"{what} must not contain {reason}")
    raw = text if "://" in text else f"{default_scheme}://{text}"
    parts = urlsplit(raw)
    if parts.scheme not in schemes:
        raise ValueError(
            f"{what} must look like {default_scheme}://host[:port] "
            f"(schemes: {', '.join(sorted(schemes))})"
        )
    if "?" in raw or "#" in raw:
        raise ValueError(f"{what} must not have a query or fragment (credentials go in options)")
    if "%" in parts.netloc:
        raise ValueError(f"{what} must not percent-encode its host or port")
    if not parts.hostname:
        raise ValueError(f"{what} has no host; it must look like {default_scheme}://host[:port]")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} has an invalid port") from None
    if parts.path not in ("", "/") and not path:
        raise ValueError(f"{what} must not have a path")
    return Endpoint(parts.scheme, parts.hostname, port, parts.path if path else "")


def agree(
    checked: tuple[str, int | None],
    theirs: tuple[str | None, int | None],
    what: str,
    parser: str,
) -> None:
    """``ValueError`` unless ``parser`` (the vendor's reading of an endpoint, or the client
    built from it) names the ``(host, port)`` edgevec checked; ports count where both say."""
    host, port = checked[0].strip("[]").lower(), checked[1]
    their_host, their_port = (theirs[0] or "").strip("[]").lower(), theirs[1]
    if their_host != host or (port is not None and their_port is not None and port != their_port):
        raise ValueError(
            f"{what}: {parser} reads the host as {their_host!r}:{their_port}, not "
            f"{host!r}:{port} as edgevec checked it; refusing an endpoint the client would "
            "read differently"
        )


def check_plaintext(ep: Endpoint, secure: bool, credentials: bool, what: str) -> None:
    """Credentials never travel unencrypted except to a loopback host (a local test server)."""
    if not secure and credentials and not ep.loopback:
        raise ValueError(
            f"refusing to send credentials over plain http (no TLS) to the remote {what}; "
            "use https (plain http is allowed only to loopback addresses)"
        )
