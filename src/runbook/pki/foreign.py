"""Certificates the way other tools make them (not the strict profile), for the training labs.

In memory; nothing here writes a file. Each mirrors a common real-world recipe whose result Redis and
OpenSSL accept but strict clients (Python 3.13's default context, ``openssl verify -x509_strict``) or
root-only clients refuse:

* :func:`guide_ca`: ``openssl req -x509 -new`` with openssl.cnf's ``v3_ca`` section: critical
  basicConstraints CA:TRUE and key identifiers, **no keyUsage**;
* :func:`cn_only_leaf`: ``openssl x509 -req`` without a SAN extfile (Redis's gen-test-certs): the
  name only in the subject CN;
* :func:`leaf_without_aki`: a leaf from OpenSSL 1.1's ``x509 -req -extfile san.ext``, whose extfile
  lists no authorityKeyIdentifier;
* :func:`intermediate_ca`: a strict intermediate signed by a root (step-ca, Vault), for chains whose
  server may omit it.

And one recipe run for real: :func:`write_guide_pki` runs a common guide's ``openssl`` lines
(:func:`guide_lines`) with the ``openssl`` binary into a new folder, for the adoption notebook's
sandbox deployment (a CA without keyUsage; a server certificate with a SAN and no EKU, so Redis can
present it on its replication links too; a client certificate without extensions). It writes files,
never over existing ones, and nothing partial.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runbook.errors import RunbookError
from runbook.pki.builders import BACKDATE, Issued, ca_key_usage, utc_now
from runbook.pki.keys import PrivateKey, generate_key


def _cn(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey, days: int) -> x509.CertificateBuilder:
    start = utc_now() - BACKDATE
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + BACKDATE + dt.timedelta(days=days))
    )


def guide_ca(common_name: str = "Redis CA", key_type: str = "rsa-2048", days: int = 3650) -> Issued:
    """A CA as ``openssl req -x509`` makes it: basicConstraints critical, SKI/AKI, no keyUsage."""
    key = generate_key(key_type)
    name = _cn(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        _builder(name, name, key, days)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def root_ca(common_name: str = "Redis Root CA", days: int = 3650) -> Issued:
    """A strict root that may sign one level of intermediates (pathlen 1), as step-ca and Vault make it."""
    key = generate_key("ecdsa-p256")
    name = _cn(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        _builder(name, name, key, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def intermediate_ca(root: Issued, common_name: str = "Redis Intermediate CA", days: int = 3650) -> Issued:
    """A strict intermediate CA (pathlen 0, keyCertSign + cRLSign, SKI/AKI) signed by ``root``."""
    key = generate_key("ecdsa-p256")
    root_ski = root.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder(_cn(common_name), root.cert.subject, key, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False
        )
        .sign(root.key, hashes.SHA256())
    )
    return Issued(cert, key)


def _leaf(
    ca: Issued, common_name: str, purpose: str, sans: Sequence[x509.GeneralName], aki: bool, days: int
) -> Issued:
    key = generate_key("rsa-2048")
    eku = ExtendedKeyUsageOID.SERVER_AUTH if purpose == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    b = (
        _builder(_cn(common_name), ca.cert.subject, key, days)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if aki:
        ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    return Issued(b.sign(ca.key, hashes.SHA256()), key)


def guide_leaf(
    ca: Issued,
    common_name: str,
    *,
    purpose: str = "server",
    sans: Sequence[x509.GeneralName] = (),
    days: int = 365,
) -> Issued:
    """A leaf as a guide's ``openssl x509 -req -extfile`` makes it (RSA 2048, the EKU, SANs when given)."""
    return _leaf(ca, common_name, purpose, sans, True, days)


def cn_only_leaf(ca: Issued, common_name: str, days: int = 365) -> Issued:
    """A server certificate whose name is only in the subject CN (no subjectAltName)."""
    return _leaf(ca, common_name, "server", (), True, days)


def leaf_without_aki(
    ca: Issued, common_name: str, sans: Sequence[x509.GeneralName], days: int = 365
) -> Issued:
    """A server certificate with its names in SANs but no authorityKeyIdentifier (OpenSSL 1.1's
    ``x509 -req -extfile`` when the extfile does not ask for one): strict clients refuse the chain."""
    return _leaf(ca, common_name, "server", sans, False, days)


# --------------------------------------------------------------------------- a guide's openssl lines, run

GUIDE_FILES = ("ca.key", "ca.crt", "redis.key", "redis.crt", "client.key", "client.crt")


def guide_lines(server_name: str = "localhost", ip: str = "127.0.0.1") -> list[str]:
    """The guide's ``openssl`` lines, as an operator copies them (run by :func:`write_guide_pki`)."""
    sign = "openssl x509 -req -sha256 -CA ca.crt -CAkey ca.key -CAcreateserial -days 365"
    return [
        "openssl genrsa -out ca.key 2048",
        "openssl req -x509 -new -nodes -sha256 -key ca.key -days 3650 -subj '/CN=Redis CA' -out ca.crt",
        "openssl genrsa -out redis.key 2048",
        f"printf 'subjectAltName=DNS:{server_name},IP:{ip}\\n' > san.ext",
        f"openssl req -new -sha256 -key redis.key -subj '/CN={server_name}' | {sign} -extfile san.ext -out redis.crt",
        "openssl genrsa -out client.key 2048",
        f"openssl req -new -sha256 -key client.key -subj '/CN=redis-client' | {sign} -out client.crt",
    ]


@dataclass(frozen=True)
class GuidePki:
    """The files a guide leaves in one folder (the names it uses)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "redis.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "redis.key"

    @property
    def client_cert(self) -> Path:
        return self.root / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.root / "client.key"


def write_guide_pki(directory: Path | str, server_name: str = "localhost", ip: str = "127.0.0.1") -> GuidePki:
    """Run :func:`guide_lines` with the real ``openssl`` into ``directory``. Writes files.

    Built in a private temporary folder beside ``directory`` and moved into place whole, so a
    failure leaves nothing partial; ``directory`` must not exist yet (or be empty): nothing is
    overwritten. Raises RunbookError naming the cause (no ``openssl``, a non-empty folder).
    """
    target = Path(directory)
    if target.exists() and any(target.iterdir()):
        raise RunbookError(
            f"{target} is not empty: give a new folder for the guide's PKI (nothing is overwritten)"
        )
    if shutil.which("openssl") is None:
        raise RunbookError("the openssl command is missing: apt-get install openssl")
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".guide-", dir=target.parent))  # 0700 until moved into place
    try:
        for line in guide_lines(server_name, ip):
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", line],
                cwd=build,
                capture_output=True,
                check=False,
                timeout=120,
            )
            if done.returncode:
                reason = done.stderr.decode(errors="replace").strip().splitlines()
                raise RunbookError(
                    f"openssl failed on the guide's line {line!r}: {reason[-1] if reason else 'no output'}"
                )
        (build / "san.ext").unlink()
        if target.exists():
            target.rmdir()
        build.rename(target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return GuidePki(target)
