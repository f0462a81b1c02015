"""CA rotation in three verified phases: ``bundle``, ``reissue``, ``retire``.

1. **bundle**: a new CA is created and ``ca.crt`` becomes new CA + old CA on every node and for
   the clients (reload ``tls-ca-cert-file``); a client certificate from the new CA is accepted and
   the current (old-CA) certificates still verify both ways;
2. **reissue**: server, outgoing-link and client certificates are re-issued from the new CA,
   preflighted against the new CA alone, and reloaded node by node;
3. **retire**: ``ca.crt`` becomes the new CA only; a client certificate from the old CA is refused.

This module finds the CA's state and runs the phases still to do (:mod:`.ca_phases` holds them);
each phase backs up, swaps and reloads through :class:`~runbook.rotation.apply.Rotation` and rolls
back on failure. A file the phases would write that is a symlink (``--ca``, a node's
tls-ca-cert-file ...) refuses the rotation before anything is touched. Writes files, reloads servers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from runbook import pki
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError
from runbook.results import CheckResult
from runbook.rotation.ca_phases import ca_bundle, ca_reissue, ca_retire
from runbook.rotation.issuing import load_ca
from runbook.rotation.report import CA_PHASES, Fault, PlanStep, RotationReport
from runbook.rotation.targets import NodeTarget, serial_of, served_by, serves_visible_files
from runbook.rotation.volumes import symlink_refusals

_PHASE_TEXT = {
    "bundle": "publish ca.crt = new CA + old CA to servers and clients; reload tls-ca-cert-file",
    "reissue": "re-issue server, link and client certificates from the new CA; reload node by node",
    "retire": "ca.crt = new CA only; reload tls-ca-cert-file; old-CA clients are refused",
}


def ca_state(paths: pki.PkiPaths, server_cert: Path | None = None) -> str:
    """``single`` (one CA), ``bundled`` (new + old trusted, leaves from the old) or ``reissued``.

    ``server_cert``: the server certificate file to judge by (default ``<pki>/redis-server.crt``;
    on the operator's files, what the server reads)."""
    cas = pki.load_certs(paths.ca_cert)
    if len(cas) < 2:
        return "single"
    return "reissued" if pki.signed_by(pki.load_cert(server_cert or paths.server_cert), cas[0]) else "bundled"


def rotate_ca(
    report: RotationReport,
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    days: int,
    dry_run: bool,
    phase: str,
    fault: Fault | None,
    relink: bool,
) -> RotationReport:
    state, phases = _phases_to_run(paths, targets, tls, server_hostname, phase)
    report.plan = [PlanStep(f"phase:{p}", "all nodes", _PHASE_TEXT[p]) for p in phases]
    linked = _symlinked(paths, targets, phases)
    if linked:
        report.steps += linked
        report.ok, report.status = False, "refused"
        report.add("preflight", "fail", "refused before anything was touched", linked[0].fix)
        return report
    if dry_run:
        report.status = "planned"
        report.add("plan", "pass", f"CA state {state}: phases {', '.join(phases)}")
        return report
    old_ca_key = load_ca(paths) if state == "single" else None
    report.ok = True
    for p in phases:
        sub = RotationReport(kind=f"ca:{p}", target=report.target, nodes=report.nodes)
        if p == "bundle":
            ca_bundle(sub, paths, targets, tls, server_hostname, days, fault)
        elif p == "reissue":
            ca_reissue(sub, paths, targets, tls, server_hostname, days, fault, relink)
        else:
            ca_retire(sub, paths, targets, tls, server_hostname, old_ca_key)
        report.phases.append(sub)
        report.steps += [CheckResult(f"{p}:{r.id}", r.status, r.detail, r.fix) for r in sub.steps]
        report.backup = sub.backup or report.backup
        if not sub.ok:
            report.ok, report.rolled_back = False, sub.rolled_back
            report.status = "rolled-back" if sub.rolled_back else "refused"
            return report
    report.new_serial = serial_of(pki.load_certs(paths.ca_cert)[0])
    report.status = "rotated" if phases[-1] == "retire" else f"phase {phases[-1]} done"
    return report


def _symlinked(
    paths: pki.PkiPaths, targets: Sequence[NodeTarget], phases: Sequence[str]
) -> list[CheckResult]:
    """Every file the phases would write that is a symlink (``--ca``, ``--ca-key``, a node's
    tls-ca-cert-file; for ``reissue`` the served, link and client files): refused, never replaced nor
    written through (a symlinked ``--ca`` would change the file it points to, which other clients or
    a renewer may own)."""
    flag = "--dir" if paths.own else "--ca"
    out = symlink_refusals(
        "preflight:ca:symlink",
        [paths.ca_cert],
        lambda p: (
            f"pass the file itself ({flag} {p.resolve()}) if the runbook may rewrite it, or "
            "rotate the CA with the tool that owns the link"
        ),
    )
    if phases[0] == "bundle":
        out += symlink_refusals(
            "preflight:ca-key:symlink",
            [paths.ca_key],
            lambda p: f"pass the key file itself (--ca-key {p.resolve()}) if the runbook may rewrite it",
        )
    for node in targets:
        out += symlink_refusals(
            f"preflight:{node.name}:symlink",
            [node.local(node.ca_file)] if node.ca_file else [],
            lambda p: (
                f"point the server at a plain file (CONFIG SET tls-ca-cert-file {p.resolve()}) and "
                "rotate again, or rotate the CA with the tool that owns the link"
            ),
        )
        if "reissue" in phases:
            files = (node.cert_file, node.key_file, node.client_cert_file, node.client_key_file)
            out += symlink_refusals(
                f"preflight:{node.name}:symlink",
                [node.local(f) for f in files if f],
                lambda p: (
                    f"renew {p.resolve()} with the tool that owns it, or point the server at plain "
                    "files (CONFIG SET tls-cert-file/tls-key-file) and rotate again"
                ),
            )
    if "reissue" in phases:
        for name in paths.client_names():
            out += symlink_refusals(
                f"preflight:{name}:symlink",
                [paths.client_cert(name), paths.client_key(name)],
                lambda p: f"pass plain files with --cert/--key (the link points to {p.resolve()})",
            )
    return out


def _phases_to_run(
    paths: pki.PkiPaths,
    targets: Sequence[NodeTarget],
    tls: Callable[[], TlsClientFiles],
    server_hostname: str | None,
    phase: str,
) -> tuple[str, list[str]]:
    """The CA state and the phases to run from it; refuses nodes whose files are not visible here."""
    for node in targets:
        served = served_by(node, tls(), server_hostname)
        if not serves_visible_files(node, served) or not node.ca_file:
            raise RunbookError(
                f"{node.name} does not read its TLS files from paths visible here: rotate the CA on the Redis host"
            )
    state = ca_state(paths, None if paths.own else targets[0].local(targets[0].cert_file))
    order = {"single": list(CA_PHASES), "bundled": ["reissue", "retire"], "reissued": ["retire"]}[state]
    phases = order if phase == "all" else [phase]
    if phases[0] != order[0]:
        raise RunbookError(f"the CA is in state {state!r}: run phase {order[0]!r} first (or --phase all)")
    return state, phases
