"""The new material: a certificate re-issued like the old one, or the files an operator supplies.

In memory; nothing here writes a file. The CA key is read from ``<pki>/ca.key`` (its passphrase
from the environment when it is encrypted).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from runbook import pki
from runbook.errors import RunbookError


def reissue_like(
    old: x509.Certificate,
    ca: pki.Issued,
    *,
    days: int = 365,
    key_type: str | None = None,
    add_names: Sequence[str] = (),
    default_eku: Sequence[x509.ObjectIdentifier] = (),
) -> pki.Issued:
    """A new certificate with ``old``'s subject, SANs, key usages and EKUs, a new key, signed by ``ca``.

    In memory; nothing written. Keeps serverAuth+clientAuth when the old one had both (a server
    certificate also used for replication or cluster links). ``add_names``: DNS names or IP addresses
    added to subjectAltName (a SAN is created when the old one had none: the name that was only in the
    CN, as strict clients need it; critical only when the subject is empty). ``default_eku``: the
    extended key usages given when ``old`` had none (no EKU allowed every purpose).
    """
    pki.validate_days(days, "certificate validity")
    kt = key_type or pki.key_description(old.public_key())[0]
    key = pki.generate_key(kt if kt in pki.KEY_TYPES else "ecdsa-p256")
    start = dt.datetime.now(dt.UTC) - pki.BACKDATE
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + pki.BACKDATE + dt.timedelta(days=days))
    )
    skip: tuple[type[x509.ExtensionType], ...] = (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier)
    if add_names:
        skip += (x509.SubjectAlternativeName,)
        builder = builder.add_extension(_san_with(old, add_names), critical=len(old.subject) == 0)
    if default_eku and not _has(old, x509.ExtendedKeyUsage):
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(default_eku)), critical=False)
    for ext in old.extensions:
        if isinstance(ext.value, skip):
            continue
        builder = builder.add_extension(ext.value, critical=ext.critical)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
    )
    return pki.Issued(builder.sign(ca.key, hashes.SHA256()), key)


def _has(cert: x509.Certificate, cls: type[x509.ExtensionType]) -> bool:
    try:
        cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return False
    return True


def _san_with(old: x509.Certificate, names: Sequence[str]) -> x509.SubjectAlternativeName:
    """``old``'s subjectAltName (if any) plus ``names`` (IP addresses as iPAddress), without repeats."""
    try:
        have: list[x509.GeneralName] = list(
            old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        )
    except x509.ExtensionNotFound:
        have = []
    for name in names:
        try:
            general: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            general = x509.DNSName(name)
        if general not in have:
            have.append(general)
    return x509.SubjectAlternativeName(have)


def load_ca(paths: pki.PkiPaths) -> pki.Issued:
    cert = pki.load_cert(paths.ca_cert)
    key = pki.load_key(paths.ca_key, pki.passphrase_from_env(pki.CA_ENV) if ca_encrypted(paths) else None)
    if not pki.key_matches(cert, key):
        fix = "restore the pair from backups/" if paths.own else "pass that CA's key with --ca-key"
        raise RunbookError(f"{paths.ca_key} does not match the first certificate of {paths.ca_cert}: {fix}")
    return pki.Issued(cert, key)


def ca_encrypted(paths: pki.PkiPaths) -> bool:
    return paths.ca_key.is_file() and pki.key_is_encrypted(paths.ca_key)


def load_supplied(
    cert_path: Path, key_path: Path
) -> tuple[x509.Certificate, bytes, bytes, pki.PrivateKey | None]:
    cert = pki.load_cert(cert_path)
    key_pem = Path(key_path).read_bytes() if Path(key_path).is_file() else b""
    if not key_pem:
        raise RunbookError(f"key file {key_path} not found: pass the new certificate's key with --key")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (TypeError, ValueError):
        raise RunbookError(f"{key_path} is not an unencrypted PEM private key: decrypt it first") from None
    ok_key = key if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) else None
    return cert, Path(cert_path).read_bytes(), key_pem, ok_key


def load_signer(key_path: Path, candidates: Sequence[x509.Certificate], flag: str = "--ca-key") -> pki.Issued:
    """The CA that ``key_path`` signs as: its key and the certificate among ``candidates`` (the clients'
    CA file, the served chain, the server's tls-ca-cert-file) whose public key it is. Reads the key
    (its passphrase from the environment when encrypted); writes nothing."""
    if not key_path.is_file():
        raise RunbookError(
            f"{flag} {key_path} not found: pass the key of the CA that issues the server certificate"
        )
    encrypted = pki.key_is_encrypted(key_path)
    key = pki.load_key(key_path, pki.passphrase_from_env(pki.CA_ENV) if encrypted else None, pki.CA_ENV)
    for cert in candidates:
        if _is_ca(cert) and pki.key_matches(cert, key):
            return pki.Issued(cert, key)
    raise RunbookError(
        f"{flag} {key_path} belongs to no CA certificate in --ca, the served chain or the server's "
        "tls-ca-cert-file: pass the key of the CA that issued the served certificate"
    )


def chain_after(signer: x509.Certificate, served_chain: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The intermediates a certificate issued by ``signer`` is served with: the served chain from the
    signer on (it already carries them), else the signer alone unless it is a root (self-issued)."""
    for i, cert in enumerate(served_chain):
        if cert == signer:
            return list(served_chain[i:])
    return [] if signer.subject == signer.issuer else [signer]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.subject == cert.issuer
