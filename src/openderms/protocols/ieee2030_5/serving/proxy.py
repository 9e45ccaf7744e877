"""Production behind a TLS-terminating proxy (envoy, nginx, HAProxy): the proxy checks the
client certificate and forwards it in ``x-forwarded-client-cert`` (XFCC, envoy's format)::

    x-forwarded-client-cert: Hash=<hex SHA-256 of the DER certificate>;Cert="<URL-encoded PEM>"

The header is believed only when the TCP peer is one of ``trusted_proxies``; from anyone else
it is dropped. The LFDI is the first 40 hex digits of ``Hash`` when given (no certificate
parsing at all), else of the SHA-256 of ``Cert``. With several elements (a chain of proxies),
the first one is the client's. Resolved identities are cached per header value.
"""

from __future__ import annotations

import threading
from urllib.parse import unquote

from cryptography import x509
from starlette.types import ASGIApp, Receive, Scope, Send

from openderms.protocols.ieee2030_5.api.common import CLIENT_SCOPE_KEY
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity, lfdi_from_cert

XFCC = b"x-forwarded-client-cert"
#: how many distinct forwarded certificates are remembered
CACHE_SIZE = 20_000


def parse_xfcc(value: str) -> dict[str, str]:
    """The key/value pairs of the first element of an XFCC header (keys lower-cased)."""
    pairs: dict[str, str] = {}
    key, buf, quoted, i = "", [], False, 0
    while i < len(value):
        c = value[i]
        if quoted:
            if c == "\\" and i + 1 < len(value):
                buf.append(value[i + 1])
                i += 1
            elif c == '"':
                quoted = False
            else:
                buf.append(c)
        elif c == '"':
            quoted = True
        elif c == "=" and not key:
            key, buf = "".join(buf).strip().lower(), []
        elif c in ";,":
            if key:
                pairs.setdefault(key, "".join(buf).strip())
            key, buf = "", []
            if c == ",":
                break
        else:
            buf.append(c)
        i += 1
    if key:
        pairs.setdefault(key, "".join(buf).strip())
    return pairs


def identity_from_xfcc(value: str) -> ClientIdentity | None:
    """The client identity an XFCC header names (None: neither Hash nor Cert usable)."""
    pairs = parse_xfcc(value)
    digest = pairs.get("hash", "")
    if len(digest) == 64 and all(c in "0123456789abcdefABCDEF" for c in digest):
        return ClientIdentity.from_lfdi(digest[:40])
    pem = pairs.get("cert")
    if not pem:
        return None
    try:
        cert = x509.load_pem_x509_certificate(unquote(pem).encode())
    except ValueError:
        return None
    return ClientIdentity.from_lfdi(lfdi_from_cert(cert))


class ForwardedClientCertMiddleware:
    """Put the forwarded client identity into the scope for requests from trusted proxies."""

    def __init__(self, app: ASGIApp, trusted_proxies: frozenset[str]) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies
        self._lock = threading.Lock()
        self._cache: dict[bytes, ClientIdentity | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and CLIENT_SCOPE_KEY not in scope:
            header = next((v for k, v in scope["headers"] if k == XFCC), None)
            peer = scope.get("client")
            if header is not None and peer is not None and peer[0] in self.trusted_proxies:
                identity = self._resolve(header)
                if identity is not None:
                    scope = {**scope, CLIENT_SCOPE_KEY: identity}
        await self.app(scope, receive, send)

    def _resolve(self, header: bytes) -> ClientIdentity | None:
        with self._lock:
            if header in self._cache:
                return self._cache[header]
        identity = identity_from_xfcc(header.decode("latin-1"))
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[header] = identity
        return identity
