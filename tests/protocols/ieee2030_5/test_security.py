"""COMM and CORE security procedures: TLS 1.2 with ECDHE-ECDSA-AES128-CCM8 and P-256
certificates, client certificates required, and the LFDI / SFDI of a certificate."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority
from openderms.protocols.ieee2030_5.security.identity import (
    ClientIdentity,
    check_digit,
    lfdi_from_der,
    sfdi_from_lfdi,
    sfdi_is_valid,
)
from openderms.protocols.ieee2030_5.security.tls import CSIP_CIPHER, client_context
from tests.protocols.ieee2030_5.conftest import Running


def test_core_sfdi_of_the_standard_example() -> None:
    """IEEE 2030.5 device identification: "the SFDI is the left-most 36 bits of the LFDI
    expressed as a decimal, followed by a check digit" - the standard's worked example maps
    LFDI 3E4F45AB31EDFE5B67E343E5E4562E31984E23E5 to SFDI 167261211391."""
    assert sfdi_from_lfdi("3E4F45AB31EDFE5B67E343E5E4562E31984E23E5") == 167261211391
    assert sfdi_is_valid(167261211391)
    assert not sfdi_is_valid(167261211392)


@pytest.mark.parametrize(("n", "digit"), [(0, 0), (1, 9), (16726121139, 1), (55, 0), (19, 0)])
def test_core_check_digit_makes_the_digit_sum_a_multiple_of_ten(n: int, digit: int) -> None:
    assert check_digit(n) == digit
    assert (sum(int(d) for d in str(n)) + digit) % 10 == 0


def test_core_lfdi_is_the_truncated_sha256_of_the_certificate() -> None:
    """IEEE 2030.5 device identification: "the LFDI is the certificate fingerprint (SHA-256
    of the DER certificate) truncated to its left-most 160 bits"."""
    ca = CertificateAuthority.create()
    issued = ca.issue_client("inverter")
    digest = hashlib.sha256(issued.cert_der).hexdigest()
    assert lfdi_from_der(issued.cert_der) == digest[:40]
    assert issued.identity == ClientIdentity(
        digest[:40], int(digest[:9], 16) * 10 + check_digit(int(digest[:9], 16))
    )


def test_comm_certificates_are_p256_ecdsa() -> None:
    """CSIP: certificates use ECC with curve secp256r1 (P-256) and ECDSA signatures."""
    ca = CertificateAuthority.create()
    for issued in (ca.root, ca.issue_server(["127.0.0.1"]), ca.issue_client("c")):
        key = issued.cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert isinstance(key.curve, ec.SECP256R1)


def test_comm_tls12_with_the_csip_cipher_suite(running: Running) -> None:
    """CSIP / IEEE 2030.5: TLS 1.2 with TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 and mutual
    authentication with certificates."""
    with running.client("device1") as c:
        r = c.get("/tm")
        stream = r.extensions["network_stream"]
        ssl_object = stream.get_extra_info("ssl_object")
    assert r.status_code == 200
    assert ssl_object.version() == "TLSv1.2"
    assert ssl_object.cipher()[0] == CSIP_CIPHER


def test_comm_a_client_without_a_certificate_is_refused(running: Running) -> None:
    """Mutual TLS: the server requires a client certificate."""
    ctx = ssl.create_default_context(cafile=str(running.pki.ca))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CSIP_CIPHER)
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=ctx) as c:
        c.get(running.base_url + "/dcap")


def test_comm_a_certificate_of_another_ca_is_refused(running: Running, tmp_path: Path) -> None:

    other = CertificateAuthority.create("someone else")
    paths = other.issue_client("intruder").write(tmp_path, "intruder")
    ctx = client_context(paths.cert, paths.key, running.pki.ca)
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=ctx) as c:
        c.get(running.base_url + "/dcap")


def test_comm_tls13_is_not_offered(running: Running) -> None:
    """CSIP pins TLS 1.2: a TLS 1.3-only client cannot connect."""
    paths = running.pki.clients["device1"]
    ctx = ssl.create_default_context(cafile=str(running.pki.ca))
    ctx.load_cert_chain(paths.cert, paths.key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=ctx) as c:
        c.get(running.base_url + "/dcap")


def test_comm_key_files_are_private(tmp_path: Path) -> None:

    paths = CertificateAuthority.create().issue_client("c").write(tmp_path, "c")
    assert paths.key.stat().st_mode & 0o077 == 0
