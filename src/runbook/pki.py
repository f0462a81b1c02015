"""The PKI Redis TLS needs: a CA, a server certificate and client certificates.

Everything follows a strict RFC 5280 profile so that Python 3.13's ``VERIFY_X509_STRICT``,
``openssl verify -x509_strict``, ``cryptography.x509.verification`` and sslyze accept it:

* CA: basicConstraints critical (CA:TRUE, pathlen 0), keyUsage critical (keyCertSign, cRLSign),
  SKI and AKI.
* Leaves: basicConstraints critical CA:FALSE, keyUsage critical (digitalSignature, plus
  keyEncipherment for RSA), EKU serverAuth or clientAuth, SAN non-critical, SKI and AKI.
* Random serials, SHA-256, ECDSA P-256 by default (RSA 2048/3072/4096 on request).

Building is in memory (:func:`make_ca`, :func:`make_leaf`); :func:`create_pki` validates every
input first, then writes all files at once (keys 0600 from the first byte, directory 0700),
never overwriting without ``force`` and backing up before any replacement.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runbook import files
from runbook.errors import RunbookError
from runbook.results import CheckResult

KeyType = Literal["ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096"]
KEY_TYPES: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "redis-server.crt"
SERVER_KEY = "redis-server.key"
DEFAULT_CLIENT = "redis-client"
LOCAL_HOSTNAMES = ("localhost",)
LOCAL_IPS = ("127.0.0.1", "::1")
ORGANIZATION = "redis-tls-runbook"
CA_ENV = "RUNBOOK_CA_PASSPHRASE"
SERVER_KEY_ENV = "RUNBOOK_SERVER_KEY_PASSPHRASE"
BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between hosts

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class PkiPaths:
    """Where each file of one PKI directory lives (names operators know from common guides)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / CA_CERT

    @property
    def ca_key(self) -> Path:
        return self.root / CA_KEY

    @property
    def server_cert(self) -> Path:
        return self.root / SERVER_CERT

    @property
    def server_key(self) -> Path:
        return self.root / SERVER_KEY

    def client_cert(self, name: str = DEFAULT_CLIENT) -> Path:
        return self.root / f"{name}.crt" if name == DEFAULT_CLIENT else self.root / "clients" / f"{name}.crt"

    def client_key(self, name: str = DEFAULT_CLIENT) -> Path:
        return self.root / f"{name}.key" if name == DEFAULT_CLIENT else self.root / "clients" / f"{name}.key"

    def client_names(self) -> list[str]:
        """Names of the client certificates present on disk, default client first."""
        names = [DEFAULT_CLIENT] if self.client_cert().exists() else []
        clients = self.root / "clients"
        if clients.is_dir():
            names += sorted(p.stem for p in clients.glob("*.crt"))
        return names


# --------------------------------------------------------------------------- validation


def validate_hostname(name: str) -> str:
    """Return ``name`` lower-cased if it is a valid DNS name (optionally ``*.`` wildcard)."""
    candidate = name.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        raise RunbookError(f"{name!r} is an IP address, not a hostname: pass it with --ip instead")
    labels = candidate.split(".")
    if labels and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    if not candidate or len(candidate) > 253 or not all(_LABEL.match(label) for label in labels):
        raise RunbookError(
            f"invalid hostname {name!r}: use letters, digits, hyphens and dots (e.g. redis.example.com)"
        )
    return candidate


def validate_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IPv4/IPv6 address or raise a RunbookError naming the fix."""
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        raise RunbookError(f"invalid IP address {value!r}: use a literal like 10.0.0.5 or ::1") from None


def validate_client_name(name: str) -> str:
    """Client names become file names and a SAN, so they must be DNS-like."""
    if not _LABEL.match(name) and not all(_LABEL.match(part) for part in name.split(".")):
        raise RunbookError(f"invalid client name {name!r}: use letters, digits and hyphens (e.g. app-worker)")
    return name


def validate_days(days: int, what: str) -> int:
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise RunbookError(f"{what} must be a positive number of days, got {days!r}: e.g. 365")
    return days


def validate_key_type(key_type: str) -> KeyType:
    if key_type not in KEY_TYPES:
        raise RunbookError(f"unknown key type {key_type!r}: choose one of {', '.join(KEY_TYPES)}")
    return key_type  # type: ignore[return-value]


def passphrase_from_env(var: str | None) -> bytes | None:
    """Read a passphrase from the environment variable ``var`` (never echoed)."""
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise RunbookError(f"environment variable {var} is empty or unset: export it with the passphrase")
    return value.encode()


# --------------------------------------------------------------------------- building


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


def generate_key(key_type: str) -> PrivateKey:
    kt = validate_key_type(key_type)
    if kt == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(kt.split("-")[1]))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_ca(
    key_type: str = "ecdsa-p256",
    days: int = 3650,
    common_name: str = "redis-tls-runbook CA",
    not_before: dt.datetime | None = None,
) -> Issued:
    """Build a self-signed CA certificate and key (in memory, nothing written)."""
    validate_days(days, "CA validity")
    key = generate_key(key_type)
    start = not_before or (_now() - BACKDATE)
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
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
    start = not_before or (_now() - BACKDATE)
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


# --------------------------------------------------------------------------- loading


def load_cert(path: Path) -> x509.Certificate:
    """Load the first PEM certificate of ``path``."""
    return load_certs(path)[0]


def load_certs(path: Path) -> list[x509.Certificate]:
    """Load every PEM certificate of ``path`` (a bundle is allowed)."""
    path = Path(path)
    if not path.is_file():
        raise RunbookError(
            f"certificate file {path} not found: create it with `runbook pki create` (notebook 01)"
        )
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        raise RunbookError(f"{path} is not a PEM certificate: give the .crt file, not the key") from None
    return certs


def load_key(path: Path, passphrase: bytes | None = None, env_hint: str = "") -> PrivateKey:
    """Load a PEM private key, with a one-line error for a missing or wrong passphrase."""
    path = Path(path)
    if not path.is_file():
        raise RunbookError(f"key file {path} not found: create it with `runbook pki create` (notebook 01)")
    hint = f"export {env_hint} with its passphrase" if env_hint else "supply its passphrase"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except TypeError:
        if passphrase:
            raise RunbookError(f"{path.name} is not encrypted: do not pass a passphrase for it") from None
        raise RunbookError(f"{path.name} is encrypted: {hint}") from None
    except ValueError:
        if passphrase:
            raise RunbookError(f"wrong passphrase for {path.name}: {hint}") from None
        raise RunbookError(f"{path} is not a PEM private key: give the .key file") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise RunbookError(f"{path.name} holds an unsupported key type: use ECDSA P-256 or RSA")
    return key


def key_is_encrypted(path: Path) -> bool:
    return b"ENCRYPTED" in Path(path).read_bytes()[:200]


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    """True when ``key`` is the private half of ``cert``'s public key."""
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(
        cert.public_key().public_bytes(serialization.Encoding.DER, fmt)
        == key.public_key().public_bytes(serialization.Encoding.DER, fmt)
    )


# --------------------------------------------------------------------------- inspection


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


def key_description(public_key: object) -> tuple[str, int]:
    """(key type, size) such as ("ecdsa-p256", 256) or ("rsa-4096", 4096)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}.get(
            public_key.curve.name, public_key.curve.name
        )
        return f"ecdsa-{curve}", public_key.curve.key_size
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}", public_key.key_size
    return type(public_key).__name__, 0


def cert_info(cert: x509.Certificate, path: str = "") -> CertInfo:
    now = _now()
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


# --------------------------------------------------------------------------- verification


def _verifier_builder(
    ca_certs: Sequence[x509.Certificate], at: dt.datetime | None = None
) -> x509.verification.PolicyBuilder:
    from cryptography.x509.verification import PolicyBuilder, Store

    return PolicyBuilder().store(Store(list(ca_certs))).time(at or _now())


def verify_server_cert(
    cert: x509.Certificate, ca_certs: Sequence[x509.Certificate], hostname: str, at: dt.datetime | None = None
) -> None:
    """Raise :class:`RunbookError` unless ``cert`` chains to ``ca_certs`` for ``hostname`` (strict)."""
    from cryptography.x509 import DNSName, IPAddress
    from cryptography.x509.verification import VerificationError

    try:
        subject: x509.verification.Subject = IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        subject = DNSName(hostname)
    try:
        _verifier_builder(ca_certs, at).build_server_verifier(subject).verify(cert, [])
    except VerificationError as exc:
        raise RunbookError(f"server certificate does not verify for {hostname}: {_one_line(exc)}") from None


def verify_client_cert(
    cert: x509.Certificate, ca_certs: Sequence[x509.Certificate], at: dt.datetime | None = None
) -> None:
    """Raise :class:`RunbookError` unless ``cert`` is a valid client certificate under ``ca_certs``."""
    from cryptography.x509.verification import VerificationError

    try:
        _verifier_builder(ca_certs, at).build_client_verifier().verify(cert, [])
    except VerificationError as exc:
        raise RunbookError(f"client certificate does not verify: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_validity(check_id: str, cert: x509.Certificate, warn_days: int) -> CheckResult:
    now = _now()
    left = (cert.not_valid_after_utc - now).days
    if cert.not_valid_before_utc > now:
        return CheckResult(
            check_id,
            "fail",
            f"not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
            "fix the clock or re-issue",
        )
    if cert.not_valid_after_utc <= now:
        return CheckResult(
            check_id, "fail", f"expired on {cert.not_valid_after_utc:%Y-%m-%d}", "rotate it (notebook 05)"
        )
    if left < warn_days:
        return CheckResult(check_id, "warn", f"expires in {left} days", "rotate it soon (notebook 05)")
    return CheckResult(check_id, "pass", f"valid for {left} more days")


def _check_perms(check_id: str, path: Path) -> CheckResult:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return CheckResult(check_id, "fail", f"{path.name} has mode {mode:04o}", f"chmod 600 {path}")
    return CheckResult(check_id, "pass", f"{path.name} has mode {mode:04o}")


def _check_key(
    check_id: str, cert: x509.Certificate, key_path: Path, passphrase: bytes | None
) -> CheckResult:
    try:
        key = load_key(key_path, passphrase)
    except RunbookError as exc:
        return CheckResult(check_id, "fail", str(exc), "supply the passphrase or re-issue the key")
    if not key_matches(cert, key):
        return CheckResult(
            check_id, "fail", f"{key_path.name} does not match its certificate", "re-issue the pair together"
        )
    return CheckResult(check_id, "pass", f"{key_path.name} matches its certificate")


def verify(
    pki_dir: Path | str,
    hostname: str | None = None,
    *,
    warn_days: int = 30,
    server_key_passphrase: bytes | None = None,
) -> list[CheckResult]:
    """Check a PKI directory: chains, key/cert pairs, EKU, validity and key permissions.

    The server certificate is verified with the server policy for ``hostname`` (default: its
    first DNS SAN), every client certificate with the client policy, all under strict X.509 rules.
    """
    paths = PkiPaths(Path(pki_dir))
    try:
        ca = load_certs(paths.ca_cert)
    except RunbookError as exc:
        return [CheckResult("ca", "fail", str(exc), "run `runbook pki create` (notebook 01)")]
    results = [*ca_profile(paths.ca_cert), _check_validity("ca-validity", ca[0], warn_days)]
    if paths.ca_key.exists():
        results.append(_check_perms("ca-key-permissions", paths.ca_key))

    if paths.server_cert.exists():
        server = load_cert(paths.server_cert)
        info = cert_info(server)
        name = hostname or next((s[4:] for s in info.sans if s.startswith("DNS:")), None)
        name = name or next((s[3:] for s in info.sans if s.startswith("IP:")), "localhost")
        try:
            verify_server_cert(server, ca, name)
            results.append(CheckResult("server-chain", "pass", f"chains to the CA and matches {name}"))
        except RunbookError as exc:
            results.append(CheckResult("server-chain", "fail", str(exc), "re-issue the server certificate"))
        results.append(_eku_result("server-eku", info, "serverAuth"))
        results.append(_check_validity("server-validity", server, warn_days))
        results.append(_check_key("server-key-match", server, paths.server_key, server_key_passphrase))
        if paths.server_key.exists():
            results.append(_check_perms("server-key-permissions", paths.server_key))
    else:
        results.append(
            CheckResult("server-chain", "fail", "redis-server.crt missing", "run `runbook pki create`")
        )

    for client in paths.client_names():
        cert = load_cert(paths.client_cert(client))
        try:
            verify_client_cert(cert, ca)
            results.append(CheckResult(f"client-chain:{client}", "pass", "chains to the CA as a client"))
        except RunbookError as exc:
            results.append(CheckResult(f"client-chain:{client}", "fail", str(exc), "re-issue this client"))
        results.append(_eku_result(f"client-eku:{client}", cert_info(cert), "clientAuth"))
        results.append(_check_validity(f"client-validity:{client}", cert, warn_days))
        results.append(_check_key(f"client-key-match:{client}", cert, paths.client_key(client), None))
        if paths.client_key(client).exists():
            results.append(_check_perms(f"client-key-permissions:{client}", paths.client_key(client)))
    return results


def ca_profile(path: Path | str) -> list[CheckResult]:
    """Check a CA certificate against the strict profile Python 3.13 and OpenSSL -x509_strict need."""
    cert = load_cert(Path(path))
    ext = cert.extensions
    results = []
    try:
        bc = ext.get_extension_for_class(x509.BasicConstraints)
        ok = bc.critical and bc.value.ca
        results.append(
            CheckResult(
                "ca-basic-constraints",
                "pass" if ok else "fail",
                f"CA:{str(bc.value.ca).upper()}, critical={bc.critical}",
                "" if ok else "re-issue the CA",
            )
        )
    except x509.ExtensionNotFound:
        results.append(
            CheckResult("ca-basic-constraints", "fail", "basicConstraints missing", "re-issue the CA")
        )
    try:
        ku = ext.get_extension_for_class(x509.KeyUsage)
        ok = ku.critical and ku.value.key_cert_sign
        detail = f"keyCertSign={ku.value.key_cert_sign}, cRLSign={ku.value.crl_sign}, critical={ku.critical}"
        results.append(
            CheckResult("ca-key-usage", "pass" if ok else "fail", detail, "" if ok else "re-issue the CA")
        )
    except x509.ExtensionNotFound:
        results.append(
            CheckResult(
                "ca-key-usage", "fail", "keyUsage missing (Python 3.13 rejects this CA)", "re-issue the CA"
            )
        )
    try:
        ext.get_extension_for_class(x509.SubjectKeyIdentifier)
        results.append(CheckResult("ca-ski", "pass", "subjectKeyIdentifier present"))
    except x509.ExtensionNotFound:
        results.append(CheckResult("ca-ski", "fail", "subjectKeyIdentifier missing", "re-issue the CA"))
    algo = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "none"
    ok = algo in ("sha256", "sha384", "sha512")
    results.append(
        CheckResult(
            "ca-signature", "pass" if ok else "fail", f"signed with {algo}", "" if ok else "re-issue the CA"
        )
    )
    return results


def _eku_result(check_id: str, info: CertInfo, wanted: str) -> CheckResult:
    if wanted in info.eku:
        return CheckResult(check_id, "pass", f"extended key usage {', '.join(info.eku)}")
    return CheckResult(
        check_id, "fail", f"lacks {wanted} (has {', '.join(info.eku) or 'none'})", "re-issue it"
    )


# --------------------------------------------------------------------------- create on disk


@dataclass
class PkiSpec:
    """What :func:`create_pki` should produce."""

    hostnames: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    local_names: bool = True
    clients: list[str] = field(default_factory=lambda: [DEFAULT_CLIENT])
    key_type: str = "ecdsa-p256"
    ca_days: int = 3650
    days: int = 365
    ca_passphrase: bytes | None = None
    server_key_passphrase: bytes | None = None

    def server_names(self) -> tuple[list[str], list[str]]:
        """(DNS names, IPs) for the server certificate, validated and de-duplicated."""
        dns = [validate_hostname(h) for h in self.hostnames]
        ips = [str(validate_ip(i)) for i in self.ips]
        if self.local_names:
            dns += list(LOCAL_HOSTNAMES)
            ips += list(LOCAL_IPS)
        if not dns and not ips:
            raise RunbookError(
                "the server certificate needs a name: pass --hostname or drop --no-local-names"
            )
        return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))

    def validate(self) -> None:
        validate_key_type(self.key_type)
        validate_days(self.ca_days, "CA validity (--ca-days)")
        validate_days(self.days, "certificate validity (--days)")
        self.server_names()
        for c in self.clients:
            validate_client_name(c)


@dataclass(frozen=True)
class PkiReport:
    """What :func:`create_pki` did: files written, files kept, and the backup folder if any."""

    directory: str
    written: list[str]
    kept: list[str]
    backup: str | None

    @property
    def changed(self) -> bool:
        return bool(self.written)


def _covers(cert: x509.Certificate, dns: Sequence[str], ips: Sequence[str]) -> bool:
    have = set(cert_info(cert).sans)
    return {f"DNS:{d}" for d in dns} | {f"IP:{i}" for i in ips} <= have


def create_pki(pki_dir: Path | str, spec: PkiSpec | None = None, *, force: bool = False) -> PkiReport:
    """Create (or complete) the PKI in ``pki_dir``. Writes files; idempotent.

    * Inputs are validated before anything is written; a bad input raises and writes nothing.
    * Existing files are reused when they satisfy ``spec`` (same CA, names covered, same key
      type); a file that does not fit raises a :class:`RunbookError` unless ``force``.
    * With ``force`` everything is re-issued, after the old files are copied to
      ``backups/<UTC timestamp>/``.
    """
    spec = spec or PkiSpec()
    spec.validate()
    paths = PkiPaths(Path(pki_dir))
    dns, ips = spec.server_names()
    plan: list[files.PlannedWrite] = []
    kept: list[str] = []

    if force or not paths.ca_cert.exists():
        if not force and paths.ca_key.exists():
            raise RunbookError(f"{paths.ca_key} exists without ca.crt: restore ca.crt or pass --force")
        ca = make_ca(spec.key_type, spec.ca_days)
        plan += ca.planned_writes(paths.ca_cert, paths.ca_key, spec.ca_passphrase)
        fresh_ca = True
    else:
        ca_cert = load_cert(paths.ca_cert)
        if not paths.ca_key.exists():
            raise RunbookError(f"{paths.ca_key} is missing: restore it from backups/ or pass --force")
        ca = Issued(ca_cert, load_key(paths.ca_key, spec.ca_passphrase, CA_ENV))
        if not key_matches(ca_cert, ca.key):
            raise RunbookError("ca.key does not match ca.crt: restore the pair from backups/ or pass --force")
        kept += [CA_CERT, CA_KEY]
        fresh_ca = False

    def leaf_fits(cert_path: Path, key_path: Path, want_dns: list[str], want_ips: list[str]) -> bool:
        """True: keep the existing pair. False: issue it. Raises when it exists but does not fit."""
        if force:
            return False
        if not cert_path.exists():
            if key_path.exists():
                raise RunbookError(
                    f"{key_path.name} exists without its certificate: pass --force to re-issue"
                )
            return False
        cert = load_cert(cert_path)
        problem = ""
        if fresh_ca or not _signed_by(cert, ca.cert):
            problem = "was not issued by this CA"
        elif not _covers(cert, want_dns, want_ips):
            problem = f"does not cover {', '.join(want_dns + want_ips)}"
        elif key_description(cert.public_key())[0] != spec.key_type:
            problem = f"is not a {spec.key_type} certificate"
        elif not key_path.exists():
            problem = f"has no key file {key_path.name}"
        if problem:
            raise RunbookError(
                f"{cert_path.name} exists but {problem}: pass --force to re-issue (old files are backed up)"
            )
        return True

    if leaf_fits(paths.server_cert, paths.server_key, dns, ips):
        kept += [SERVER_CERT, SERVER_KEY]
    else:
        server = make_leaf(
            ca,
            dns[0] if dns else ips[0],
            purpose="server",
            hostnames=dns,
            ips=ips,
            key_type=spec.key_type,
            days=spec.days,
        )
        plan += server.planned_writes(paths.server_cert, paths.server_key, spec.server_key_passphrase)
    for name in dict.fromkeys(spec.clients):
        crt, key_path = paths.client_cert(name), paths.client_key(name)
        if leaf_fits(crt, key_path, [name], []):
            kept += [str(crt.relative_to(paths.root)), str(key_path.relative_to(paths.root))]
            continue
        client = make_leaf(
            ca, name, purpose="client", hostnames=[name], key_type=spec.key_type, days=spec.days
        )
        plan += client.planned_writes(crt, key_path)

    backup_dir = None
    if plan:
        files.ensure_private_dir(paths.root)
        if (paths.root / "clients").exists() or any(p.path.parent.name == "clients" for p in plan):
            files.ensure_private_dir(paths.root / "clients")
        backup_dir = files.backup([p.path for p in plan], paths.root)
        files.write_all(plan)
    return PkiReport(
        directory=str(paths.root),
        written=[str(p.path.relative_to(paths.root)) for p in plan],
        kept=kept,
        backup=str(backup_dir) if backup_dir else None,
    )


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def openssl_commands(
    pki_dir: str = "pki",
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    client: str = DEFAULT_CLIENT,
    days: int = 365,
    ca_days: int = 3650,
    key_type: str = "ecdsa-p256",
) -> str:
    """The equivalent ``openssl`` commands (same strict profile), for operators who must use the CLI."""
    kt = validate_key_type(key_type)
    if kt == "ecdsa-p256":
        genkey = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out"
        usage = "digitalSignature"
    else:
        genkey = f"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:{kt.split('-')[1]} -out"
        usage = "digitalSignature,keyEncipherment"
    san = ",".join([f"DNS:{h}" for h in hostnames] + [f"IP:{i}" for i in ips])
    cn = hostnames[0] if hostnames else (ips[0] if ips else "redis")

    def leaf(name: str, subject_cn: str, eku: str, alt: str) -> list[str]:
        return [
            f"{genkey} {name}.key",
            f"openssl req -new -key {name}.key -subj '/O={ORGANIZATION}/CN={subject_cn}' -out {name}.csr",
            f"openssl x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days {days} \\",
            f"  -extfile <(printf '%s\\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,{usage}' \\",
            f"    'extendedKeyUsage={eku}' 'subjectAltName={alt}' 'subjectKeyIdentifier=hash' \\",
            f"    'authorityKeyIdentifier=keyid') -out {name}.crt",
        ]

    return "\n".join(
        [
            f"mkdir -p {pki_dir} && chmod 700 {pki_dir} && cd {pki_dir}",
            "umask 077  # keys are private from the first byte",
            f"{genkey} ca.key",
            f"openssl req -x509 -new -key ca.key -sha256 -days {ca_days} -subj '/O={ORGANIZATION}/CN=redis-tls-runbook CA' \\",
            "  -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' -addext 'keyUsage=critical,keyCertSign,cRLSign' \\",
            "  -addext 'subjectKeyIdentifier=hash' -addext 'authorityKeyIdentifier=keyid' -out ca.crt",
            *leaf("redis-server", cn, "serverAuth", san),
            *leaf(client, client, "clientAuth", f"DNS:{client}"),
            "chmod 644 ca.crt redis-server.crt " + f"{client}.crt && rm -f *.csr ca.srl",
            f"openssl verify -x509_strict -CAfile ca.crt redis-server.crt {client}.crt",
        ]
    )
