"""Check a PKI directory (``runbook pki verify``): the CA profile, chains, EKU, validity, key/cert
pairs and key permissions, as check results.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509

from runbook.errors import RunbookError
from runbook.pki.builders import utc_now
from runbook.pki.chains import verify_client_cert, verify_server_cert
from runbook.pki.inspection import CertInfo, cert_info, load_cert, load_certs
from runbook.pki.keys import key_matches, load_key
from runbook.pki.paths import PkiPaths
from runbook.results import CheckResult


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
    results += _server_checks(paths, ca, hostname, warn_days, server_key_passphrase)
    for client in paths.client_names():
        results += _client_checks(paths, ca, client, warn_days)
    return results


def _server_checks(
    paths: PkiPaths,
    ca: list[x509.Certificate],
    hostname: str | None,
    warn_days: int,
    passphrase: bytes | None,
) -> list[CheckResult]:
    if not paths.server_cert.exists():
        return [CheckResult("server-chain", "fail", "redis-server.crt missing", "run `runbook pki create`")]
    server = load_cert(paths.server_cert)
    info = cert_info(server)
    name = hostname or next((s[4:] for s in info.sans if s.startswith("DNS:")), None)
    name = name or next((s[3:] for s in info.sans if s.startswith("IP:")), "localhost")
    try:
        verify_server_cert(server, ca, name)
        results = [CheckResult("server-chain", "pass", f"chains to the CA and matches {name}")]
    except RunbookError as exc:
        results = [CheckResult("server-chain", "fail", str(exc), "re-issue the server certificate")]
    results.append(_eku_result("server-eku", info, "serverAuth"))
    results.append(_check_validity("server-validity", server, warn_days))
    results.append(_check_key("server-key-match", server, paths.server_key, passphrase))
    if paths.server_key.exists():
        results.append(_check_perms("server-key-permissions", paths.server_key))
    return results


def _client_checks(
    paths: PkiPaths, ca: list[x509.Certificate], client: str, warn_days: int
) -> list[CheckResult]:
    cert = load_cert(paths.client_cert(client))
    try:
        verify_client_cert(cert, ca)
        results = [CheckResult(f"client-chain:{client}", "pass", "chains to the CA as a client")]
    except RunbookError as exc:
        results = [CheckResult(f"client-chain:{client}", "fail", str(exc), "re-issue this client")]
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


def _check_validity(check_id: str, cert: x509.Certificate, warn_days: int) -> CheckResult:
    now = utc_now()
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
