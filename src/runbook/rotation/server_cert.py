"""Server certificate rotation, node by node: plan, preflight, then apply (or stage for an external server).

For each node the certificate it serves is re-issued like itself (or the operator's ``--cert`` /
``--key`` is used), preflighted against the names clients use and the CA each side trusts,
together with a re-issued outgoing-link certificate when the node has one. A node whose files we
cannot see gets its new files staged in the PKI directory and the deploy commands instead.
Writes files, reloads servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runbook import files, pki
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError
from runbook.results import CheckResult
from runbook.rotation.apply import NodeWork, Rotation
from runbook.rotation.commands import deploy_commands
from runbook.rotation.issuing import chain_after, load_signer, load_supplied, reissue_like
from runbook.rotation.preflight import (
    ClientTrust,
    preflight_leaf,
    preflight_link,
    stop_after_preflight,
    trust_of,
)
from runbook.rotation.report import Fault, PlanStep, RotationReport
from runbook.rotation.targets import (
    NodeTarget,
    fingerprint,
    link_settings,
    serial_of,
    served_by,
    server_settings,
    serves_visible_files,
)
from runbook.rotation.volumes import renewer_procedure, secret_volume, symlink_refusals, watch_flags

_Material = tuple[x509.Certificate, bytes, bytes, pki.PrivateKey | None]  # cert, cert PEM, key PEM, key


@dataclass(frozen=True)
class _SoakSpec:
    seconds: float
    until: Callable[[], bool] | None
    limit: float


@dataclass
class _ServerJob:
    """A server rotation being planned: where new material comes from, and what is planned so far."""

    report: RotationReport
    paths: pki.PkiPaths
    tls: Callable[[], TlsClientFiles]
    server_hostname: str | None
    hostnames: Sequence[str]
    days: int
    client_trust: ClientTrust
    supplied: _Material | None
    ca_key: Path | None  # signs re-issued certificates (its CA is found by :func:`load_signer`)
    ca: pki.Issued | None = None
    issued_for: dict[Path, tuple[x509.Certificate, bytes, bytes]] = field(default_factory=dict)
    renewer: list[tuple[NodeTarget, Path, str]] = field(default_factory=list)  # node, volume, served path
    work: list[NodeWork] = field(default_factory=list)
    external: list[NodeTarget] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)


def rotate_server(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    hostnames: Sequence[str],
    new_cert: Path | str | None,
    new_key: Path | str | None,
    days: int,
    dry_run: bool,
    soak_seconds: float,
    soak_until: Callable[[], bool] | None,
    soak_max: float,
    fault: Fault | None,
    relink: bool,
    ca_key: Path | None = None,
) -> RotationReport:
    """``ca_key`` signs re-issued certificates (default: none; the caller passes ``<dir>/ca.key`` for
    the runbook's own layout); the clients' trust is the connection identity's CA (``tls().ca``)."""
    client_trust = ClientTrust.of(tls().ca) if tls().ca else ClientTrust.of(paths.ca_cert)
    supplied = load_supplied(Path(new_cert), Path(new_key)) if new_cert and new_key else None
    job = _ServerJob(report, paths, tls, server_hostname, hostnames, days, client_trust, supplied, ca_key)
    for node in targets:
        _plan_node(job, node)
    if job.renewer:
        _renewer_pending(job)
        if not job.work:
            report.steps += job.checks
            return report
    report.plan.insert(0, PlanStep("backup", str(paths.root / "backups"), "every file above, byte for byte"))
    if stop_after_preflight(report, job.checks, dry_run):
        if job.renewer and report.status == "planned":
            report.status = "pending"
        return report
    work = job.work
    if job.external:
        _stage_external(job)
        work = [nw for nw in work if nw.node not in job.external]
        if not work:
            return report
    ok = _apply(job, work, fault, relink, _SoakSpec(soak_seconds, soak_until, soak_max))
    report.ok = ok
    report.status = ("rotated" if not (job.external or job.renewer) else "pending") if ok else "rolled-back"
    return report


def _renewer_pending(job: _ServerJob) -> None:
    """Nodes whose files live in a secret volume: nothing is written; the renewer procedure instead."""
    for node, volume, served in job.renewer:
        job.report.add(
            f"renewer:{node.name}",
            "warn",
            f"{served} is in a Kubernetes secret volume ({volume}): the runbook writes nothing there",
            "renew through the renewer (printed commands), then `runbook watch --once` reloads the new files",
        )
        job.report.commands += renewer_procedure(node, volume, served, watch_flags(node))
    job.report.status, job.report.ok = "pending", True


def _plan_node(job: _ServerJob, node: NodeTarget) -> None:
    """Issue (or take) the node's new certificate, preflight it, and plan its writes and reload."""
    served = served_by(node, job.tls(), job.server_hostname)
    volume = next(
        (v for f in (node.cert_file, node.key_file) if f and (v := secret_volume(node.local(f))) is not None),
        None,
    )
    if volume is not None:
        job.renewer.append((node, volume, str(node.local(node.cert_file))))
        return
    managed = serves_visible_files(node, served)
    cert_path = node.local(node.cert_file) if managed else job.paths.server_cert
    key_path = node.local(node.key_file) if managed else job.paths.server_key
    if not managed:
        job.external.append(node)
    server_trust = (trust_of(node.local(node.ca_file)) if node.ca_file else []) or list(
        job.client_trust.certs
    )
    needs_client_auth = (node.role == "slave" or node.mode == "cluster") and not node.client_cert_file
    served_chain = pki.load_certs(cert_path)[1:] if managed else []
    new, cert_pem, key_pem, key = _new_material(job, node, served, served_chain, server_trust, cert_path)
    job.checks += _symlink_checks(node, [cert_path, key_path] if managed else [])
    job.checks += preflight_leaf(
        f"preflight:{node.name}:",
        new,
        key,
        purpose="server",
        client_trust=job.client_trust,
        server_trust=server_trust,
        names=list(dict.fromkeys([*(job.hostnames or ()), job.server_hostname or node.endpoint.host])),
        old=served,
        needs_client_auth=needs_client_auth,
        intermediates=_certs_of(cert_pem)[1:],
    )
    writes = [
        files.PlannedWrite(cert_path, cert_pem, files.PUBLIC),
        files.PlannedWrite(key_path, key_pem, files.PRIVATE),
    ]
    settings = server_settings(node)
    if managed and node.client_cert_file and node.client_key_file and not job.supplied:
        ca = _signer(job, node, served_chain, server_trust)
        link = reissue_like(pki.load_cert(node.local(node.client_cert_file)), ca, days=job.days)
        job.checks += _symlink_checks(
            node, [node.local(node.client_cert_file), node.local(node.client_key_file)]
        )
        job.checks += preflight_link(node, link, client_trust=job.client_trust, server_trust=server_trust)
        writes += link.planned_writes(node.local(node.client_cert_file), node.local(node.client_key_file))
        settings += link_settings(node)
    job.work.append(NodeWork(node, writes, settings, new, served, relink=True))
    job.report.new_serial = serial_of(new)
    _plan_rows(job.report, node, writes, settings, managed)


def _certs_of(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def _symlink_checks(node: NodeTarget, paths: Sequence[Path]) -> list[CheckResult]:
    """A file the server reads through a symlink is never replaced by a plain file: refused, with the fix."""
    return symlink_refusals(
        f"preflight:{node.name}:symlink",
        paths,
        lambda p: (
            f"renew {p.resolve()} with the tool that owns it, or point the server at plain files "
            "(CONFIG SET tls-cert-file/tls-key-file) and rotate again"
        ),
    )


def _signer(
    job: _ServerJob,
    node: NodeTarget,
    served_chain: Sequence[x509.Certificate],
    server_trust: Sequence[x509.Certificate],
) -> pki.Issued:
    if job.ca is None:
        if job.ca_key is None:
            raise RunbookError(
                "nothing to sign the new server certificate with: pass --ca-key (the key of the CA that "
                "issued it) or --new-cert/--new-key (a renewed pair)"
            )
        job.ca = load_signer(job.ca_key, [*job.client_trust.certs, *served_chain, *server_trust])
    return job.ca


def _new_material(
    job: _ServerJob,
    node: NodeTarget,
    served: x509.Certificate,
    served_chain: Sequence[x509.Certificate],
    server_trust: Sequence[x509.Certificate],
    cert_path: Path,
) -> _Material:
    """The new certificate file for ``cert_path``: the one already issued for it (nodes sharing files),
    the operator's (installed as is, its intermediates included), or one re-issued like ``served``
    by the CA of ``--ca-key``, followed by the intermediates it is served with."""
    shared = job.issued_for.get(cert_path.resolve())
    if shared is not None:
        new, cert_pem, key_pem = shared
        key: pki.PrivateKey | None = serialization.load_pem_private_key(key_pem, None)  # type: ignore[assignment]
    elif job.supplied:
        new, cert_pem, key_pem, key = job.supplied
    else:
        ca = _signer(job, node, served_chain, server_trust)
        issued = reissue_like(served, ca, days=job.days)
        chain = chain_after(ca.cert, served_chain)
        cert_pem = issued.cert_pem() + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
        new, key_pem, key = issued.cert, issued.key_pem(), issued.key
    job.issued_for[cert_path.resolve()] = (new, cert_pem, key_pem)
    return new, cert_pem, key_pem, key


def _plan_rows(
    report: RotationReport,
    node: NodeTarget,
    writes: Sequence[files.PlannedWrite],
    settings: Sequence[tuple[str, str]],
    managed: bool,
) -> None:
    for w in writes:
        report.plan.append(PlanStep("write", str(w.path), f"stage beside, rename over (mode {w.mode:04o})"))
    report.plan.append(
        PlanStep(
            "reload",
            node.name,
            "CONFIG SET " + " ".join(f"{k} {v}" for k, v in settings)
            if managed
            else "external: deploy commands are printed",
        )
    )
    report.plan.append(
        PlanStep("verify", node.name, "fresh handshake presents the new serial; old connection alive")
    )


def _stage_external(job: _ServerJob) -> None:
    """Servers whose files we cannot see: write the new files to the PKI dir and give the deploy commands."""
    report, paths = job.report, job.paths
    ext_writes = [w for nw in job.work if nw.node in job.external for w in nw.writes]
    uniq = {w.path: w for w in ext_writes}
    backup_dir = files.backup(list(uniq), paths.root)
    report.backup = str(backup_dir) if backup_dir else None
    files.write_all(list(uniq.values()))
    report.add("staged", "pass", "new server files written to the PKI directory (old ones backed up)")
    for node in job.external:
        report.commands += deploy_commands(node, paths)
    report.status = "pending"
    report.add(
        "external",
        "warn",
        "the server does not read these paths: deploy with the commands, then verify",
        "run the printed commands, then `runbook rotate verify`",
    )


def _apply(
    job: _ServerJob, work: Sequence[NodeWork], fault: Fault | None, relink: bool, soak: _SoakSpec
) -> bool:
    """Backup, swap, reload and verify node by node, then soak; roll back on any failure."""
    nodes = [nw.node for nw in work]
    rot = Rotation(job.report, job.paths, job.tls, nodes, job.server_hostname, fault, relink)
    try:
        rot.open_sentinels()
        ok = rot.run(work)
        if ok and not _soak(rot, work, soak.seconds, soak.until, soak.limit):
            rot.rollback(rot.done, rot.backup_dir, rot.root)
            ok = False
    finally:
        rot.close()
    return ok


def _soak(
    rot: Rotation, work: Sequence[NodeWork], seconds: float, until: Callable[[], bool] | None, limit: float
) -> bool:
    """Keep checking fresh handshakes after the last reload until ``seconds`` passed and ``until()`` holds."""
    if seconds <= 0 and until is None:
        return True
    t0 = time.monotonic()
    ok = True
    while True:
        for nw in work:
            try:
                served = served_by(nw.node, rot.tls(), rot.hostname(nw.node))
                ok = ok and (nw.expect is None or fingerprint(served) == fingerprint(nw.expect))
            except RunbookError:
                ok = False
        elapsed = time.monotonic() - t0
        if not ok or elapsed >= limit or (elapsed >= seconds and (until is None or until())):
            break
        time.sleep(0.2)
    old_ok = all(rot.check_old_connection(nw.node, "soak") for nw in work)
    rot.report.add(
        "soak",
        "pass" if ok and old_ok else "fail",
        "fresh handshakes kept presenting the new certificates until the soak ended"
        if ok
        else "a fresh handshake presented another certificate during the soak",
        "" if ok else "investigate: another process reloaded the server",
    )
    return ok and old_ok
