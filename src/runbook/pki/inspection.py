"""Load and describe certificates: :func:`load_certs`, :class:`CertInfo` (no secret material),
the audit-evidence view, and whether one certificate was issued by another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from runbook.errors import RunbookError
from runbook.pki.builders import utc_now
from runbook.pki.keys import key_description


def load_cert(path: Path) -> x509.Certificate:
    """Load the first PEM certificate of ``path``."""
    return load_certs(path)[0]


def load_certs(path: Path) -> list[x509.Certificate]:
    """Load every PEM certificate of ``path`` (a bundle is allowed)."""
    path = Path(path)
    if not path.is_file():
        raise RunbookError(
            f"certificate file {path} not found: give the path of the certificate the deployment uses "
            "(--ca for the CA file, --cert for a certificate)"
        )
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        raise RunbookError(f"{path} is not a PEM certificate: give the .crt file, not the key") from None
    return certs


@dataclass(frozen=True)
class CertInfo:
    """What an operator wants to know about one certificate (no secret material)."""

    path: str
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    days_left: int
    sans: list[str]
    key_type: str
    key_size: int
    eku: list[str]
    is_ca: bool
    fingerprint_sha256: str


_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}


def cert_info(cert: x509.Certificate, path: str = "") -> CertInfo:
    now = utc_now()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
        sans += [f"IP:{a}" for a in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        sans = []
    try:
        eku_ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        eku = [_EKU_NAMES.get(o, o.dotted_string) for o in eku_ext]
    except x509.ExtensionNotFound:
        eku = []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    kt, size = key_description(cert.public_key())
    fp = cert.fingerprint(hashes.SHA256()).hex().upper()
    return CertInfo(
        path=path,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "X"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        days_left=(cert.not_valid_after_utc - now).days,
        sans=sans,
        key_type=kt,
        key_size=size,
        eku=eku,
        is_ca=is_ca,
        fingerprint_sha256=":".join(fp[i : i + 2] for i in range(0, len(fp), 2)),
    )


def evidence(info: CertInfo) -> dict[str, Any]:
    """The audit-evidence view of a certificate: file, subject, serial, expiry, SANs, key type, EKU."""
    return {
        "file": Path(info.path).name if info.path else "",
        "subject": info.subject,
        "serial": info.serial,
        "not_after": info.not_after,
        "sans": info.sans,
        "key_type": info.key_type,
        "eku": info.eku,
    }


def inspect(path: Path | str) -> CertInfo:
    """Describe the (first) certificate in ``path``."""
    return cert_info(load_cert(Path(path)), str(path))


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s key signed ``cert`` (and ``cert`` names ``issuer`` as its issuer)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
