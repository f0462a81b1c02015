"""Build certificates in memory under the strict RFC 5280 profile (nothing is written here).

* CA (:func:`make_ca`): basicConstraints critical (CA:TRUE, pathlen 0), keyUsage critical
  (keyCertSign, cRLSign), SKI and AKI.
* Leaves (:func:`make_leaf`): basicConstraints critical CA:FALSE, keyUsage critical
  (digitalSignature, plus keyEncipherment for RSA), EKU serverAuth or clientAuth, SAN
  non-critical, SKI and AKI.
* Random serials, SHA-256, validity back-dated by :data:`BACKDATE` for clock skew.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runbook import files
from runbook.errors import RunbookError
from runbook.pki.keys import PrivateKey, generate_key
from runbook.pki.validation import validate_days, validate_hostname, validate_ip

ORGANIZATION = "redis-tls-runbook"
BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between hosts


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, in memory."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def planned_writes(
        self, cert_path: Path, key_path: Path, passphrase: bytes | None = None
    ) -> list[files.PlannedWrite]:
        """The certificate (0644) and its key (0600 from the first byte) as writes for :func:`files.write_all`."""
        return [
            files.PlannedWrite(cert_path, self.cert_pem(), files.PUBLIC),
            files.PlannedWrite(key_path, self.key_pem(passphrase), files.PRIVATE),
        ]

    def key_pem(self, passphrase: bytes | None = None) -> bytes:
        algorithm: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def utc_now() -> dt.datetime:
    """Now, in UTC (certificate times are UTC)."""
    return dt.datetime.now(dt.UTC)


def ca_key_usage(digital_signature: bool = False) -> x509.KeyUsage:
    """The strict profile's CA keyUsage (critical when added): keyCertSign and cRLSign only, plus
    digitalSignature when an existing CA already had it (``pki resign-ca`` keeps it)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(
    key_type: str = "ecdsa-p256",
    days: int = 3650,
    common_name: str = "redis-tls-runbook CA",
    not_before: dt.datetime | None = None,
) -> Issued:
    """Build a self-signed CA certificate and key (in memory, nothing written)."""
    validate_days(days, "CA validity")
    key = generate_key(key_type)
    start = not_before or (utc_now() - BACKDATE)
    name = _name(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + BACKDATE + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def make_leaf(
    ca: Issued,
    common_name: str,
    *,
    purpose: Literal["server", "client"],
    hostnames: Sequence[str] = (),
    ips: Sequence[str] = (),
    key_type: str = "ecdsa-p256",
    days: int = 365,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """Issue a server or client certificate signed by ``ca`` (in memory, nothing written).

    ``not_before``/``not_after`` exist for drills and tests (expired or future certificates).
    """
    validate_days(days, "certificate validity")
    dns = [validate_hostname(h) for h in hostnames]
    addrs = [validate_ip(i) for i in ips]
    if not dns and not addrs:
        raise RunbookError(f"certificate {common_name!r} needs at least one hostname or IP: pass --hostname")
    key = generate_key(key_type)
    start = not_before or (utc_now() - BACKDATE)
    end = not_after or (start + BACKDATE + dt.timedelta(days=days))
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dict.fromkeys(dns)]
    sans += [x509.IPAddress(a) for a in dict.fromkeys(addrs)]
    eku = ExtendedKeyUsageOID.SERVER_AUTH if purpose == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)
