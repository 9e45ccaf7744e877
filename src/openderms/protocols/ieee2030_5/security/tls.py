"""TLS contexts for CSIP: TLS 1.2 only, cipher suite ECDHE-ECDSA-AES128-CCM8 (IEEE 2030.5
clause 6.11, CSIP section 5.2.1), P-256 certificates, the client's certificate required.

``server_context`` is what the 2030.5 server listens with; ``client_context`` what our own
clients (tests, the simulated fleet) connect with.
"""

from __future__ import annotations

import ssl
from pathlib import Path

CSIP_CIPHER = "ECDHE-ECDSA-AES128-CCM8"


def _csip(ctx: ssl.SSLContext) -> ssl.SSLContext:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CSIP_CIPHER)
    ctx.set_ecdh_curve("prime256v1")
    return ctx


def server_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """Listen with ``cert``/``key`` and require a client certificate issued by ``client_ca``."""
    ctx = _csip(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    ctx.load_verify_locations(cafile=str(client_ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(cert: Path, key: Path, server_ca: Path) -> ssl.SSLContext:
    """Connect as the holder of ``cert``/``key``, trusting servers issued by ``server_ca``."""
    ctx = _csip(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    ctx.load_verify_locations(cafile=str(server_ca))
    return ctx
