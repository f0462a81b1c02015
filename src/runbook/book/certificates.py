"""Notebook 01's steps, for either target: the certificates to show and judge, and their verification.

Sandbox: the runbook's own PKI in the work dir, created or completed (:func:`runbook.pki.create_pki`).
External: the operator's files as they are: ``ca_file``, ``client_cert`` and the certificate the
server presents (fetched once, saved as public PEM to ``<work>/external/served-server.crt``); nothing
is written to the operator's files and no runbook PKI is created in their place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from runbook import pki
from runbook.book import toolkit
from runbook.book.target import Target
from runbook.client import handshake_checks
from runbook.results import CheckResult


@dataclass
class Certificates:
    """What notebook 01 shows: the CA, the server's certificate, the clients' (name, file), and what
    was written or kept; ``tk`` is the external server's toolkit view (None for the sandbox)."""

    ca: Path
    server: Path
    clients: list[tuple[str, Path]]
    report: pki.PkiReport
    tk: toolkit.Toolkit | None = None

    def actions(self) -> list[tuple[str, str]]:
        """(file, written | kept) rows."""
        return [(f, "written") for f in self.report.written] + [(f, "kept") for f in self.report.kept]


def obtain(target: Target, spec: pki.PkiSpec, overwrite: bool = False) -> Certificates:
    """Sandbox: create or complete the work dir's PKI (writes files, idempotent; ``overwrite`` re-issues
    with backups). External: the operator's files and the served certificate; writes nothing but the
    served certificate's public PEM under the work dir. Connects once under external."""
    if target.kind == "external":
        tk = toolkit.toolkit_external(target.endpoint(), target.work / "external")
        clients = [(tk.client_cert.stem, tk.client_cert)] if tk.client_cert else []
        kept = [str(tk.ca_file), *(str(p) for _, p in clients)]
        report = pki.PkiReport(str(tk.ca_file.parent), [], kept, None)
        return Certificates(tk.ca_file, tk.server_cert, clients, report, tk)
    paths = pki.PkiPaths(target.pki_dir)
    report = pki.create_pki(paths.root, spec, force=overwrite)
    clients = [(name, paths.client_cert(name)) for name in paths.client_names()]
    return Certificates(paths.ca_cert, paths.server_cert, clients, report)


def verify(certs: Certificates, warn_days: int = 30) -> list[CheckResult]:
    """Sandbox: the PKI directory's checks and a strict in-memory mutual-TLS handshake per client.
    External: dates of every certificate, the served certificate's chain for the server name and the
    client certificate's chain to ``ca_file`` (the live handshake is notebook 03's)."""
    if certs.tk is not None:
        return toolkit.date_checks(certs.tk.cert_files) + toolkit.chain_checks(certs.tk)
    return pki.verify(certs.ca.parent, warn_days=warn_days) + handshake_checks(certs.ca.parent)


def fix_hint(certs: Certificates) -> str:
    """What to do when the CA profile or a verification fails, for this target."""
    if certs.tk is not None:
        return (
            "the operator's certificates are kept as they are: `runbook adopt` assesses the deployment and "
            "`runbook adopt --migrate` moves it to the strict profile without downtime (docs/adopt.md)"
        )
    return "fix as the table says, or re-run with overwrite=True (the old files are backed up first)"


def spec(
    hostnames: list[str],
    ips: list[str],
    local_names: bool = True,
    clients: list[str] | None = None,
    key_type: str = "ecdsa-p256",
    ca_days: int = 3650,
    cert_days: int = 365,
) -> pki.PkiSpec:
    """The PKI the form asks for, validated: a bad name, IP, key type or validity raises a one-line RunbookError."""
    wanted = pki.PkiSpec(
        hostnames=hostnames,
        ips=ips,
        local_names=local_names,
        clients=clients if clients is not None else [pki.DEFAULT_CLIENT],
        key_type=key_type,
        ca_days=ca_days,
        days=cert_days,
    )
    wanted.validate()
    return wanted


def server_names(wanted: pki.PkiSpec) -> list[list[str]]:
    """The server certificate's names (DNS names, then IPs), one row each."""
    dns, ips = wanted.server_names()
    return [[n] for n in [*dns, *ips]]


def inspect(path: Path) -> pki.CertInfo:
    """One certificate file described (subject, issuer, names, key type, EKU, days left); reads only."""
    return pki.inspect(path)


def inspect_clients(certs: Certificates) -> list[pki.CertInfo]:
    """Every client certificate of ``certs`` described."""
    return [pki.inspect(path) for _, path in certs.clients]


def ca_profile(certs: Certificates) -> list[CheckResult]:
    """The CA certificate against the strict profile (RFC 5280 as Python 3.13 and OpenSSL -x509_strict need).

    The runbook's own CA must follow it (a failure stops the notebook). The operator's CA (external
    target) is judged, not refused: Redis and OpenSSL accept a CA outside the profile, so each break is a
    ``warn`` naming it, with the way to the strict profile (``adopt --migrate``, no downtime)."""
    found = pki.ca_profile(certs.ca)
    if certs.tk is None:
        return found
    return [
        replace(
            r,
            status="warn",
            detail=f"{r.detail} (Redis and OpenSSL accept it; strict clients refuse it)",
            fix=fix_hint(certs),
        )
        if r.status == "fail"
        else r
        for r in found
    ]


def openssl_commands(wanted: pki.PkiSpec) -> str:
    """The same PKI made with the openssl CLI (into ``pki/``), for operators who want the commands."""
    dns, ips = wanted.server_names()
    return pki.openssl_commands(
        "pki", dns, ips, days=wanted.days, ca_days=wanted.ca_days, key_type=wanted.key_type
    )
