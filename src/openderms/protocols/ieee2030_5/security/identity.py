"""Device identities of IEEE 2030.5 (clause 6.3.4): the LFDI and SFDI of a certificate.

- LFDI (long-form device identifier): the SHA-256 hash of the certificate's DER encoding,
  truncated to its left-most 160 bits, written as 40 hex digits (lower case here).
- SFDI (short-form device identifier): the left-most 36 bits of that hash as a decimal
  integer, followed by one check digit chosen so that the sum of all digits, the check digit
  included, is 0 modulo 10.

The worked example of the standard: LFDI ``3e4f45ab31edfe5b67e343e5e4562e31984e23e5`` gives
SFDI ``167261211391``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

LFDI_HEX_DIGITS = 40
SFDI_BITS = 36

ClientKind = Literal["device", "aggregator"]


def lfdi_from_der(cert_der: bytes) -> str:
    """LFDI (40 lower-case hex digits) of a certificate given in its DER encoding."""
    return hashlib.sha256(cert_der).hexdigest()[:LFDI_HEX_DIGITS]


def lfdi_from_cert(cert: x509.Certificate) -> str:
    """LFDI of a parsed certificate."""
    return lfdi_from_der(cert.public_bytes(Encoding.DER))


def check_digit(n: int) -> int:
    """The digit that makes the sum of ``n``'s decimal digits plus itself 0 modulo 10."""
    return (10 - sum(int(d) for d in str(abs(n))) % 10) % 10


def sfdi_from_lfdi(lfdi: str) -> int:
    """SFDI of an LFDI: its first 36 bits (9 hex digits) as a decimal, then the check digit."""
    text = normalise_lfdi(lfdi)
    head = int(text[: SFDI_BITS // 4], 16)
    return head * 10 + check_digit(head)


def normalise_lfdi(lfdi: str) -> str:
    """``lfdi`` in lower case, checked to be 40 hex digits (``ValueError`` otherwise)."""
    text = lfdi.strip().lower()
    if len(text) != LFDI_HEX_DIGITS or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"LFDI {lfdi!r}: expected {LFDI_HEX_DIGITS} hex digits")
    return text


def sfdi_is_valid(sfdi: int) -> bool:
    """True when ``sfdi``'s last digit is the check digit of the others."""
    return sfdi >= 0 and check_digit(sfdi // 10) == sfdi % 10


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who is on the other end of a connection, resolved once from its certificate."""

    lfdi: str
    sfdi: int

    @classmethod
    def from_der(cls, cert_der: bytes) -> ClientIdentity:
        lfdi = lfdi_from_der(cert_der)
        return cls(lfdi=lfdi, sfdi=sfdi_from_lfdi(lfdi))

    @classmethod
    def from_lfdi(cls, lfdi: str) -> ClientIdentity:
        text = normalise_lfdi(lfdi)
        return cls(lfdi=text, sfdi=sfdi_from_lfdi(text))
