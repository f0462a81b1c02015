"""Lint rules on the files a redis.conf names: certificates, keys, CA bundle, DH parameters.

Each file must exist and be readable; certificates must be in date, strong and of the right usage;
keys private (0600), decryptable with the passphrase given, and the private half of their
certificate; the certificates must come from the CA in ``tls-ca-cert-file``. A passphrase must not
sit in a config file others can read.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from runbook import pki
from runbook.config.lint_support import Add, Pair, eku, int_value
from runbook.config.parsing import ParsedConfig
from runbook.errors import RunbookError


@dataclass(frozen=True)
class _Role:
    """The directives of one certificate/key pair: the server's own, or the outgoing links' (client)."""

    name: str
    cert: str
    key: str
    passphrase: str


_ROLES = (
    _Role("server", "tls-cert-file", "tls-key-file", "tls-key-file-pass"),
    _Role("client", "tls-client-cert-file", "tls-client-key-file", "tls-client-key-file-pass"),
)


def lint_files(conf: ParsedConfig, base: Path, add: Add, warn_days: int, now: dt.datetime) -> dict[str, Pair]:
    """Check every file directive; returns the loaded (cert, key) pairs by role."""
    pairs = {role.name: _lint_pair(conf, base, add, role, warn_days, now) for role in _ROLES}
    cas = _lint_ca_file(conf, base, add, warn_days, now)
    _lint_ca_dir(conf, base, add)
    _lint_dh_params(conf, base, add)
    _lint_issuers(conf, add, pairs, cas)
    _lint_server_usage(add, pairs["server"])
    return pairs


# --------------------------------------------------------------------------- certificate + key pairs


def _lint_pair(
    conf: ParsedConfig, base: Path, add: Add, role: _Role, warn_days: int, now: dt.datetime
) -> Pair:
    """Both files of one role present, loadable and matching; certificate in date and strong."""
    cert_v, key_v = conf.get(role.cert), conf.get(role.key)
    _lint_pair_present(conf, add, role, cert_v, key_v)
    pair = Pair()
    if cert_v:
        pair.cert = _load_cert_file(add, role.cert, _resolve(base, cert_v))
        if pair.cert is not None:
            _lint_validity(add, role.cert, pair.cert, warn_days, now)
            _lint_strength(add, role.cert, pair.cert)
    if key_v:
        pair.key = _load_key_file(conf, add, role, _resolve(base, key_v))
    if pair.cert is not None and pair.key is not None and not pki.key_matches(pair.cert, pair.key):
        add(
            "error",
            role.key,
            f"{role.key} does not match the certificate in {role.cert}",
            "point both at the same pair (re-issue them together)",
        )
    return pair


def _lint_pair_present(
    conf: ParsedConfig, add: Add, role: _Role, cert_v: str | None, key_v: str | None
) -> None:
    """A TLS port needs the server pair; a client certificate needs its key."""
    cert_d, key_d = role.cert, role.key
    if role.name == "server" and int_value(conf, "tls-port", 0) and not cert_v:
        add(
            "error",
            cert_d,
            f"{cert_d} is missing while tls-port is set",
            f"set {cert_d} to the server certificate",
        )
    if role.name == "server" and int_value(conf, "tls-port", 0) and not key_v:
        add("error", key_d, f"{key_d} is missing while tls-port is set", f"set {key_d} to its private key")
    if role.name == "client" and cert_v and not key_v:
        add("error", key_d, f"{key_d} is missing while {cert_d} is set", f"set {key_d}")


def _load_cert_file(add: Add, directive: str, path: Path) -> x509.Certificate | None:
    """The certificate ``directive`` names, or None after a finding saying why it cannot be read."""
    if not _readable(path):
        add("error", directive, f"{directive} {path}: {_why(path)}", "fix the path or permissions")
        return None
    try:
        return pki.load_cert(path)
    except RunbookError:
        add("error", directive, f"{directive} {path} is not a PEM certificate", "point it at the .crt file")
        return None


def _load_key_file(conf: ParsedConfig, add: Add, role: _Role, path: Path) -> pki.PrivateKey | None:
    """The key ``role.key`` names, decrypted with ``role.passphrase``; None after a finding."""
    key_d, pass_d = role.key, role.passphrase
    if not _readable(path):
        add("error", key_d, f"{key_d} {path}: {_why(path)}", "fix the path or permissions")
        return None
    _lint_key_mode(add, key_d, path)
    password = conf.get(pass_d)
    encrypted = pki.key_is_encrypted(path)
    try:
        return pki.load_key(path, password.encode() if password and encrypted else None)
    except RunbookError as exc:
        if encrypted:
            problem = "is missing" if not password else "is wrong"
            add(
                "error",
                pass_d,
                f"{pass_d} {problem} for the encrypted {key_d} {path.name}",
                f"set {pass_d} to the key's passphrase",
            )
        else:
            add("error", key_d, f"{key_d} {path}: {exc}", "point it at the .key file")
        return None


# --------------------------------------------------------------------------- CA bundle, CA dir, DH params


def _lint_ca_file(
    conf: ParsedConfig, base: Path, add: Add, warn_days: int, now: dt.datetime
) -> list[x509.Certificate]:
    """The certificates of ``tls-ca-cert-file`` (checked for date and strength); [] when unreadable."""
    ca_v = conf.get("tls-ca-cert-file")
    if not ca_v:
        return []
    path = _resolve(base, ca_v)
    if not _readable(path):
        add(
            "error",
            "tls-ca-cert-file",
            f"tls-ca-cert-file {path}: {_why(path)}",
            "fix the path or permissions",
        )
        return []
    try:
        cas = pki.load_certs(path)
    except RunbookError:
        add(
            "error",
            "tls-ca-cert-file",
            f"tls-ca-cert-file {path} is not a PEM certificate",
            "use ca.crt",
        )
        return []
    for ca in cas:
        _lint_validity(add, "tls-ca-cert-file", ca, warn_days, now)
        _lint_strength(add, "tls-ca-cert-file", ca)
    return cas


def _lint_ca_dir(conf: ParsedConfig, base: Path, add: Add) -> None:
    ca_dir = conf.get("tls-ca-cert-dir")
    if ca_dir:
        path = _resolve(base, ca_dir)
        if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
            add(
                "error",
                "tls-ca-cert-dir",
                f"tls-ca-cert-dir {path}: {_why(path)}",
                "fix the path or permissions",
            )


def _lint_dh_params(conf: ParsedConfig, base: Path, add: Add) -> None:
    dh = conf.get("tls-dh-params-file")
    if dh and not _readable(_resolve(base, dh)):
        path = _resolve(base, dh)
        add(
            "error",
            "tls-dh-params-file",
            f"tls-dh-params-file {path}: {_why(path)}",
            "fix the path or drop it",
        )


# --------------------------------------------------------------------------- who issued what


def _lint_issuers(conf: ParsedConfig, add: Add, pairs: dict[str, Pair], cas: list[x509.Certificate]) -> None:
    """The bundle holds a CA, and that CA issued the server and client certificates."""
    if cas and not any(_is_ca(ca) for ca in cas):
        add(
            "error",
            "tls-ca-cert-file",
            "tls-ca-cert-file holds no CA certificate (basicConstraints CA:FALSE): no client or peer verifies",
            "point it at ca.crt, the CA that issued the certificates",
        )
    linked = _links_on(conf)
    if not cas:
        return
    for directive, role in (("tls-cert-file", "server"), ("tls-client-cert-file", "client")):
        cert = pairs[role].cert
        if cert is not None and not any(pki.signed_by(cert, ca) for ca in cas):
            add(
                "error" if linked else "warn",
                directive,
                f"{directive} was not issued by a CA in tls-ca-cert-file: peers (replicas, cluster "
                "nodes) that trust only that CA will refuse it",
                "issue it from the same CA or add its CA to the bundle",
            )


def _lint_server_usage(add: Add, server: Pair) -> None:
    """The server certificate may be used for serverAuth (no EKU, or one that lists it)."""
    if server.cert is None:
        return
    usages = eku(server.cert)
    if usages is not None and x509.oid.ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        add(
            "error",
            "tls-cert-file",
            "tls-cert-file: the server certificate lacks the serverAuth usage: clients refuse it",
            "re-issue the server certificate from its CA with extendedKeyUsage serverAuth and point "
            "tls-cert-file at it (`runbook rotate server --new-cert FILE --new-key FILE` installs it)",
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.subject == cert.issuer  # an old v1 self-signed root


def _links_on(conf: ParsedConfig) -> bool:
    """True when the server opens TLS links itself (replica of someone, TLS replication or cluster bus)."""
    return bool(conf.get("replicaof") or conf.get("slaveof")) or any(
        (conf.get(d) or "no").lower() == "yes" for d in ("tls-replication", "tls-cluster")
    )


def _lint_strength(add: Add, directive: str, cert: x509.Certificate) -> None:
    kind, size = pki.key_description(cert.public_key())
    if kind.startswith("rsa") and size < 2048:
        add(
            "error",
            directive,
            f"{directive}: RSA key of {size} bits (minimum 2048)",
            "re-issue with rsa-2048+ or ECDSA",
        )
    algo = cert.signature_hash_algorithm
    if algo is not None and algo.name in ("md5", "sha1"):
        add(
            "error",
            directive,
            f"{directive}: certificate signed with {algo.name}",
            "re-issue it with SHA-256",
        )


def _why(path: Path) -> str:
    if not path.exists():
        return "not found"
    if path.is_dir():
        return "is a directory, not a file"
    return "not readable by this user"


def _lint_key_mode(add: Add, directive: str, path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        add(
            "error",
            directive,
            f"{directive} {path.name} has mode {mode:04o}: readable by group/others",
            f"chmod 600 {path}",
        )


def _lint_validity(
    add: Add, directive: str, cert: x509.Certificate, warn_days: int, now: dt.datetime
) -> None:
    subject = cert.subject.rfc4514_string()
    if cert.not_valid_after_utc <= now:
        add(
            "error",
            directive,
            f"{directive}: certificate {subject} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
            "rotate it (notebook 05)",
        )
    elif cert.not_valid_before_utc > now:
        add(
            "error",
            directive,
            f"{directive}: certificate {subject} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
            "check the clock or re-issue it",
        )
    elif cert.not_valid_after_utc - now < dt.timedelta(days=warn_days):
        left = (cert.not_valid_after_utc - now).days
        add(
            "warn",
            directive,
            f"{directive}: certificate {subject} expires in {left} days (< {warn_days})",
            "rotate it soon (notebook 05)",
        )


def lint_conf_mode(conf: ParsedConfig, add: Add) -> None:
    for directive in ("tls-key-file-pass", "tls-client-key-file-pass"):
        if not conf.get(directive):
            continue
        origin = conf.origin.get(directive, "").rsplit(":", 1)[0]
        path = Path(origin)
        if not origin or not path.is_file():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007:
            add(
                "error",
                directive,
                f"{directive} is in {path.name}, which has mode {mode:04o}: readable by others",
                f"chmod 600 {path}",
            )
        elif mode & 0o070:
            add(
                "warn",
                directive,
                f"{directive} is in {path.name}, which has mode {mode:04o}: readable by its group",
                f"chmod 600 {path} unless only the redis group can read it",
            )


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)
