"""The live run's small PKI, made in the workspace at each start (never committed): a CA,
the 2030.5 server's certificate for 127.0.0.1, and one client certificate per aggregator and
per DER that speaks for itself (CSIP: each holds its own LFDI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority, PemPaths
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity


@dataclass(frozen=True, slots=True)
class LivePki:
    """PEM paths: ``ca`` (trusted by both sides), ``server``, ``clients[name]``, and each
    client's identity (LFDI, SFDI) from its certificate."""

    ca: Path
    server: PemPaths
    clients: dict[str, PemPaths]
    identities: dict[str, ClientIdentity]


def make_pki(folder: Path, clients: Sequence[str]) -> LivePki:
    """A fresh CA and certificates under ``folder`` (created, mode 0700)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca = CertificateAuthority.create("openderms live CA")
    ca_path = folder / "ca.crt"
    ca_path.write_bytes(ca.root.cert_pem)
    server = ca.issue_server(["127.0.0.1", "localhost"]).write(folder, "server")
    paths, identities = {}, {}
    for name in clients:
        issued = ca.issue_client(name)
        paths[name] = issued.write(folder, name)
        identities[name] = issued.identity
    return LivePki(ca=ca_path, server=server, clients=paths, identities=identities)
