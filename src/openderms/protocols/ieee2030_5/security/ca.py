"""A small certificate authority for tests, the digital twin and development (P-256 ECDSA,
made with ``cryptography``; never shells out to openssl).

Keys are made at run time and written only where the caller says (a temporary or workspace
folder, mode 0600); none is ever committed. Production certificates come from the utility's
2030.5 PKI (SERCA / MICA / MCA chain), which this module does not replace.

    ca = CertificateAuthority.create("openderms test CA")
    server = ca.issue_server(["127.0.0.1", "localhost"])
    client = ca.issue_client("inverter-1")
    paths = client.write(folder, "inverter-1")   # .crt and .key PEM files
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from openderms.protocols.ieee2030_5.security.identity import ClientIdentity

DEFAULT_VALIDITY = timedelta(days=365)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PemPaths:
    """Where a certificate and its private key were written (PEM)."""

    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def identity(self) -> ClientIdentity:
        """LFDI and SFDI of this certificate."""
        return ClientIdentity.from_der(self.cert_der)

    def write(self, folder: Path, stem: str) -> PemPaths:
        """Write ``stem.crt`` and ``stem.key`` (mode 0600) into ``folder`` (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        cert_path = folder / f"{stem}.crt"
        key_path = folder / f"{stem}.key"
        cert_path.write_bytes(self.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key_pem)
        return PemPaths(cert=cert_path, key=key_path)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "openderms"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A self-signed P-256 root that issues server and client certificates."""

    root: IssuedCertificate

    @classmethod
    def create(
        cls, common_name: str = "openderms 2030.5 CA", validity: timedelta = DEFAULT_VALIDITY
    ) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        name = _name(common_name)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(root=IssuedCertificate(cert=cert, key=key))

    def issue_server(
        self, hosts: Sequence[str], validity: timedelta = DEFAULT_VALIDITY
    ) -> IssuedCertificate:
        """A TLS server certificate valid for ``hosts`` (IP addresses or DNS names)."""
        if not hosts:
            raise ValueError("a server certificate needs at least one host name or address")
        return self._issue(hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, _san(hosts), validity)

    def issue_client(
        self, common_name: str, validity: timedelta = DEFAULT_VALIDITY
    ) -> IssuedCertificate:
        """A TLS client (device or aggregator) certificate; its LFDI is ``.identity.lfdi``."""
        return self._issue(common_name, ExtendedKeyUsageOID.CLIENT_AUTH, None, validity)

    def _issue(
        self,
        common_name: str,
        usage: x509.ObjectIdentifier,
        san: x509.SubjectAlternativeName | None,
        validity: timedelta,
    ) -> IssuedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(min(now + validity, self.root.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root.key.public_key()),
                critical=False,
            )
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return IssuedCertificate(cert=builder.sign(self.root.key, hashes.SHA256()), key=key)
