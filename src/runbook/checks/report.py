"""The audit of one endpoint: :func:`run_audit` runs every check family -> :class:`AuditReport`.

The cipher scan (sslyze, about 160 handshakes) runs in a thread beside the other probes.
Side effects: network connections to the target only.
"""

from __future__ import annotations

import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from runbook.checks.access import client_cert_check, plaintext_check
from runbook.checks.certificates import certificate_checks, parse_chain
from runbook.checks.ciphers import CipherScan, cipher_check, scan_tls12_ciphers
from runbook.checks.connection import connection_checks
from runbook.checks.probes import Prober, auth_command, probe_context
from runbook.checks.protocols import protocol_checks
from runbook.checks.verdicts import CHECK_IDS, Verdicts
from runbook.client import Endpoint, TlsClientFiles
from runbook.client.probe import one_line, presented_chain
from runbook.errors import RunbookError
from runbook.pki import load_certs
from runbook.results import CheckResult, all_ok


@dataclass
class AuditReport:
    """The checks plus the evidence an auditor needs (never key material)."""

    target: str
    checks: list[CheckResult]
    evidence: dict[str, Any] = field(default_factory=dict)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all_ok(self.checks)

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape: ``{"target", "ok", "checks": [{"id","status","detail","fix"}]}``."""
        return {"target": self.target, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def status(self, check_id: str) -> str:
        return next(c.status for c in self.checks if c.id == check_id)


def run_audit(
    endpoint: Endpoint,
    *,
    plaintext_port: int | None = None,
    warn_days: int = 30,
    timeout: float = 3.0,
    scan_ciphers: bool = True,
    strict_ciphers: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> AuditReport:
    """Audit the TLS endpoint: ``endpoint.files`` are the CA and client certificate/key, and the
    certificate is verified for ``endpoint.hostname``. Touches the network only.

    Returns every check of :data:`CHECK_IDS`, in that order, plus evidence for summaries.
    CBC-mode and non-forward-secret TLS 1.2 suites (which OpenSSL's default list, and so a server
    without ``tls-ciphers``, still accepts; the Mozilla "intermediate" baseline has neither) make
    ``weak-ciphers-refused`` a ``warn``, a ``fail`` with ``strict_ciphers``. ``username``/``password``
    authenticate PING and CONFIG GET on servers with ``requirepass`` or ACL users (never logged).
    """
    started = time.perf_counter()
    cas, ctx = _checked_inputs(endpoint.port, endpoint.files)
    t = Prober(endpoint, timeout, auth_command(username, password))
    verdicts = Verdicts(endpoint.address)
    pool = ThreadPoolExecutor(max_workers=1)
    scan = pool.submit(scan_tls12_ciphers, endpoint, timeout=timeout) if scan_ciphers else None
    try:
        _run_checks(verdicts, t, ctx, cas, scan, plaintext_port, warn_days, strict_ciphers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return AuditReport(
        target=endpoint.address,
        checks=verdicts.ordered(),
        evidence=verdicts.evidence,
        certificates=verdicts.evidence.get("certificates", []),
        seconds=time.perf_counter() - started,
    )


def _checked_inputs(port: int, files: TlsClientFiles) -> tuple[list[x509.Certificate], ssl.SSLContext]:
    """The CA certificates and the verified probe context, or a RunbookError naming the fix."""
    for label, path in (("--ca", files.ca), ("--cert", files.cert), ("--key", files.key)):
        if path is not None and not Path(path).is_file():
            raise RunbookError(f"{label} file {path} not found: give an existing PEM file")
    if bool(files.cert) != bool(files.key):
        raise RunbookError("give --cert and --key together (the client certificate and its key)")
    if not 0 < port < 65536:
        raise RunbookError(f"port {port} is out of range: give the server's tls-port")
    cas = load_certs(Path(files.ca))
    try:
        ctx = probe_context(files)
    except ssl.SSLError as exc:
        raise RunbookError(
            f"cannot load the client certificate/key ({one_line(exc)}): give a matching, unencrypted pair"
        ) from None
    return cas, ctx


def _run_checks(
    verdicts: Verdicts,
    t: Prober,
    ctx: ssl.SSLContext,
    cas: list[x509.Certificate],
    scan: CipherScan | None,
    plaintext_port: int | None,
    warn_days: int,
    strict_ciphers: bool,
) -> None:
    """Every check family in turn. Without any TLS handshake only plaintext-refused can still run."""
    add, evidence = verdicts.add, verdicts.evidence
    base = t.ping(ctx)
    chain_probe = base if base.ok else presented_chain(t.endpoint, t.timeout)
    connection_checks(add, base, t.files.ca, bool(t.auth), chain_probe.ok)
    if chain_probe.ok:
        protocol_checks(add, evidence, t)
        client_cert_check(add, evidence, t)
        certificate_checks(add, evidence, t, parse_chain(chain_probe.chain), cas, base.ok, warn_days)
    else:
        rest = [c for c in CHECK_IDS[2:] if c != "plaintext-refused"]
        verdicts.skip(rest, "no TLS handshake at all: see tls-handshake")
    plaintext_check(add, evidence, t, plaintext_port, base.ok)
    if chain_probe.ok:
        cipher_check(add, evidence, scan, strict_ciphers)


def audit(
    endpoint: Endpoint,
    *,
    plaintext_port: int | None = None,
    warn_days: int = 30,
    timeout: float = 3.0,
    scan_ciphers: bool = True,
    strict_ciphers: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> list[CheckResult]:
    """The audit's checks only (see :func:`run_audit` for the evidence as well)."""
    return run_audit(
        endpoint,
        plaintext_port=plaintext_port,
        warn_days=warn_days,
        timeout=timeout,
        scan_ciphers=scan_ciphers,
        strict_ciphers=strict_ciphers,
        username=username,
        password=password,
    ).checks
