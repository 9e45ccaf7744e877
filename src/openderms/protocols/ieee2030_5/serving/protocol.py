"""uvicorn's httptools HTTP/1.1 protocol, with the client's identity resolved once per TLS
connection and handed to the app in the ASGI scope (``CLIENT_SCOPE_KEY``).

uvicorn passes no peer certificate to the app (nor does hypercorn 0.18: neither implements
the ASGI ``tls`` extension), so the identity is read where the connection is made. Selected
with ``uvicorn.Config(http=ClientCertHttpToolsProtocol)``; keeps uvloop and httptools.
"""

from __future__ import annotations

import asyncio
import ssl

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openderms.protocols.ieee2030_5.api.common import CLIENT_SCOPE_KEY
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity


def peer_identity(transport: asyncio.BaseTransport) -> ClientIdentity | None:
    """The identity of the certificate the TLS peer presented (None: plain TCP or none)."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return ClientIdentity.from_der(der) if der else None


class ClientCertHttpToolsProtocol(HttpToolsProtocol):
    """One instance per connection: ``identity`` is computed once, in ``connection_made``."""

    identity: ClientIdentity | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.identity = peer_identity(transport)
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.identity is not None:
            self.scope[CLIENT_SCOPE_KEY] = self.identity  # type: ignore[literal-required]
