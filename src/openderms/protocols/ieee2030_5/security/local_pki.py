"""A local PKI in a folder: a fresh CA, the 2030.5 server's certificate for 127.0.0.1 and one
client certificate per name, written as PEM files (never committed). For the live run, the
tests and the benches; production certificates come from the utility's CA."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority, PemPaths
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity


@dataclass(frozen=True, slots=True)
class LocalPki:
    """PEM paths: ``ca`` (trusted by both sides), ``server``, ``clients[name]``; each client's
    identity (LFDI, SFDI) from its certificate and its certificate as PEM text."""

    ca: Path
    server: PemPaths
    clients: dict[str, PemPaths]
    identities: dict[str, ClientIdentity]
    client_pem: dict[str, str]


def make_local_pki(
    folder: Path,
    clients: Sequence[str],
    *,
    ca_name: str = "openderms local CA",
    server_names: Sequence[str] = ("127.0.0.1", "localhost"),
) -> LocalPki:
    """A fresh CA named ``ca_name`` and its certificates under ``folder`` (which must exist)."""
    ca = CertificateAuthority.create(ca_name)
    ca_path = folder / "ca.crt"
    ca_path.write_bytes(ca.root.cert_pem)
    server = ca.issue_server(list(server_names)).write(folder, "server")
    paths, identities, pem = {}, {}, {}
    for name in clients:
        issued = ca.issue_client(name)
        paths[name] = issued.write(folder, name)
        identities[name] = issued.identity
        pem[name] = issued.cert_pem.decode()
    return LocalPki(ca=ca_path, server=server, clients=paths, identities=identities, client_pem=pem)
