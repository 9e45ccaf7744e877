"""The live run's small PKI, made in the workspace at each start (never committed): a CA,
the 2030.5 server's certificate for 127.0.0.1, and one client certificate per aggregator and
per DER that speaks for itself (CSIP: each holds its own LFDI)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from openderms.protocols.ieee2030_5.security.local_pki import LocalPki, make_local_pki

LivePki = LocalPki


def make_pki(folder: Path, clients: Sequence[str]) -> LivePki:
    """A fresh CA and certificates under ``folder`` (created, mode 0700)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return make_local_pki(folder, clients, ca_name="openderms live CA")
