"""Client certificate rotation: re-issue (or take) ``clients/<name>.crt``, preflight, swap, verify.

No server is reloaded (a server verifies client certificates with its CA, not by file); every
node must accept a fresh mutual-TLS connection with the new files, and connections opened
before the swap must still answer. Writes files in the PKI directory, connects to the servers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runbook import files, pki
from runbook.client import TlsClientFiles
from runbook.results import CheckResult
from runbook.rotation.apply import NodeWork, Rotation
from runbook.rotation.issuing import chain_after, load_ca, load_signer, load_supplied, reissue_like
from runbook.rotation.preflight import preflight_leaf, stop_after_preflight, trust_of
from runbook.rotation.report import Fault, PlanStep, RotationReport
from runbook.rotation.targets import NodeTarget, serial_of
from runbook.rotation.verify import client_verify
from runbook.rotation.volumes import symlink_refusals


def rotate_client(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    name: str,
    new_cert: Path | str | None,
    new_key: Path | str | None,
    days: int,
    dry_run: bool,
    fault: Fault | None,
) -> RotationReport:
    old = pki.load_cert(paths.client_cert(name))
    client_trust = pki.load_certs(paths.ca_cert)
    server_trust: list[x509.Certificate] = []
    for node in targets:
        server_trust += trust_of(node.local(node.ca_file)) if node.ca_file else []
    server_trust = server_trust or client_trust
    if new_cert and new_key:
        new, cert_pem, key_pem, key = load_supplied(Path(new_cert), Path(new_key))
        intermediates = pki.load_certs(Path(new_cert))[1:]
    else:
        # the runbook's CA (ca.crt + ca.key), or the CA whose key --ca-key is
        # (the operator's --ca-key: the CA in the client's own file, --ca or the servers' CA files it keys)
        chain = pki.load_certs(paths.client_cert(name))
        candidates = [*chain[1:], *client_trust, *server_trust]
        ca = load_ca(paths) if paths.own else load_signer(paths.ca_key, candidates)
        intermediates = [] if paths.own else chain_after(ca.cert, chain[1:])
        issued = reissue_like(old, ca, days=days)
        new, key_pem, key = issued.cert, issued.key_pem(), issued.key
        cert_pem = issued.cert_pem() + b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in intermediates
        )
    report.new_serial = serial_of(new)
    checks = preflight_leaf(
        f"preflight:{name}:", new, key, purpose="client", client_trust=client_trust,
        server_trust=server_trust, intermediates=intermediates,
    )  # fmt: skip
    checks += _symlink_checks(paths, name)
    writes = [
        files.PlannedWrite(paths.client_cert(name), cert_pem, files.PUBLIC),
        files.PlannedWrite(paths.client_key(name), key_pem, files.PRIVATE),
    ]
    _plan(report, paths, targets, name, writes)
    if stop_after_preflight(report, checks, dry_run):
        return report
    ok = _apply(report, paths, targets, tls, server_hostname, name, writes, fault)
    report.ok = ok
    report.status = "rotated" if ok else "rolled-back"
    return report


def _symlink_checks(paths: pki.PkiPaths, name: str) -> list[CheckResult]:
    """The client's files reached through a symlink (a secret volume, a renewer's link) are never replaced."""
    return symlink_refusals(
        f"preflight:{name}:symlink",
        [paths.client_cert(name), paths.client_key(name)],
        lambda p: f"renew {p.resolve()} with the tool that owns it, or pass plain files with --cert/--key",
    )


def _plan(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    name: str,
    writes: Sequence[files.PlannedWrite],
) -> None:
    report.plan = [PlanStep("backup", str(paths.root / "backups"), "the client's files, byte for byte")]
    report.plan += [
        PlanStep("write", str(w.path), f"stage beside, rename over (mode {w.mode:04o})") for w in writes
    ]
    report.plan += [
        PlanStep("verify", n.name, f"a fresh mutual-TLS connection as {name} answers PING") for n in targets
    ]


def _apply(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    name: str,
    writes: list[files.PlannedWrite],
    fault: Fault | None,
) -> bool:
    """Backup, swap the client's files, verify on every node; restore the backup on failure."""
    rot = Rotation(report, paths, tls, targets, server_hostname, fault, relink=False)
    try:
        rot.open_sentinels()
        backup_dir, root = rot.backup([NodeWork(targets[0], writes, [], None, None)])
        files.write_all(writes)
        report.add("swap", "pass", f"{len(writes)} files staged beside the old ones and renamed over them")
        ok = True
        for node in targets:
            rotated = TlsClientFiles(
                str(paths.ca_cert), str(paths.client_cert(name)), str(paths.client_key(name))
            )
            ok = client_verify(report, node, rotated, server_hostname) and ok
            ok = rot.check_old_connection(node, "verify") and ok
        if not ok:
            rot.rollback([], backup_dir, root)
    finally:
        rot.close()
    return ok
