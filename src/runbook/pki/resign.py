"""Re-sign an existing CA certificate with its own key under the strict profile (``pki resign-ca``).

The new certificate keeps the subject, the public key, the serial number and the validity period of
the old one, so every certificate the CA issued still chains to it (by name, by key identifier and
by issuer serial); it gains what strict clients require: critical basicConstraints CA:TRUE (the old
path length kept), critical keyUsage keyCertSign + cRLSign (digitalSignature kept when the old one
had it), and a subjectKeyIdentifier (the old value kept when there was one). Other extensions are
copied. Writes one file (atomically); an existing output file is backed up first, never overwritten
without one. The old CA file is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from runbook import files
from runbook.errors import RunbookError
from runbook.pki.builders import ca_key_usage
from runbook.pki.inspection import load_certs
from runbook.pki.keys import PrivateKey, key_is_encrypted, key_matches, load_key
from runbook.pki.strictness import ca_problems

E = TypeVar("E", bound=x509.ExtensionType)

_REPLACED = (
    x509.BasicConstraints,
    x509.KeyUsage,
    x509.SubjectKeyIdentifier,
    x509.AuthorityKeyIdentifier,
)


@dataclass(frozen=True)
class ResignReport:
    """What ``resign-ca`` did: the file written, the backup of a file it replaced, what it fixed."""

    written: str
    backup: str
    fixed: list[str]
    serial: str


def resign_ca_cert(ca: x509.Certificate, key: object) -> x509.Certificate:
    """The strict twin of ``ca`` signed by ``key`` (its own key). Pure: writes nothing."""
    if not isinstance(key, PrivateKey) or not key_matches(ca, key):
        raise RunbookError("the CA key does not belong to the CA certificate: pass the key that signed it")
    old_bc = _get(ca, x509.BasicConstraints)
    old_ku = _get(ca, x509.KeyUsage)
    old_ski = _get(ca, x509.SubjectKeyIdentifier)
    ski = old_ski or x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(ca.subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(ca.serial_number)
        .not_valid_before(ca.not_valid_before_utc)
        .not_valid_after(ca.not_valid_after_utc)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=old_bc.path_length if old_bc else None), critical=True
        )
        .add_extension(ca_key_usage(bool(old_ku and old_ku.digital_signature)), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    for ext in ca.extensions:
        if not isinstance(ext.value, _REPLACED):
            builder = builder.add_extension(ext.value, critical=ext.critical)
    return builder.sign(key, hashes.SHA256())


def resign_ca(
    ca_path: Path | str, ca_key_path: Path | str, out: Path | str, *, passphrase: bytes | None = None
) -> ResignReport:
    """Write the strict twin of the CA certificate in ``ca_path`` to ``out``. Writes one file.

    Refuses ``out`` == ``ca_path`` (the old CA stays as it is until the operator swaps it); an
    existing ``out`` is copied to ``<out dir>/backups/<stamp>/`` first.
    """
    ca_file, key_file, out_file = Path(ca_path), Path(ca_key_path), Path(out)
    for flag, path in (("--ca", ca_file), ("--ca-key", key_file)):
        if not path.is_file():
            raise RunbookError(f"{flag} {path} is not a file: pass the CA's PEM {flag[2:]} file")
    if out_file.resolve() == ca_file.resolve():
        raise RunbookError(f"--out {out_file} is the CA file itself: write the new CA to another file")
    certs = load_certs(ca_file)
    ca = certs[0]
    if ca.issuer != ca.subject:
        raise RunbookError(f"{ca_file} is not a self-signed CA (issuer {ca.issuer.rfc4514_string()})")
    fixed = ca_problems(ca)
    if passphrase is None and key_is_encrypted(key_file):
        raise RunbookError(
            f"{key_file} is encrypted: pass --ca-passphrase-env VAR with its passphrase in $VAR"
        )
    new = resign_ca_cert(ca, load_key(key_file, passphrase))
    backup = files.backup([out_file], out_file.parent) if out_file.exists() else None
    files.write_file(out_file, new.public_bytes(Encoding.PEM))
    return ResignReport(str(out_file), str(backup or ""), fixed, format(new.serial_number, "X"))


def _get(cert: x509.Certificate, cls: type[E]) -> E | None:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None
