"""Run audit, diagnose and rotation over the nodes of an inventory.

* :func:`audit` and :func:`diagnose` probe every node in parallel, at most ``parallel`` at a
  time (a thread pool), with the one-server code: :func:`runbook.checks.run_audit` and
  :func:`runbook.diagnose.diagnose_endpoint`. A node that fails the TLS handshake in the audit
  is diagnosed too, so its row names the cause and the fix.
* :func:`rotate` is rolling (:mod:`runbook.fleet.plan`): it first reads every node's role and
  TLS files (``CONFIG GET``, read-only), refuses to start when a node is unreachable, unreadable
  or in conflict, then calls :func:`runbook.rotation.rotate` unit by unit (wave by wave) and
  starts nothing after the first failure, which that rotation has already rolled back. Nodes
  that hide ``CONFIG`` or whose files are not visible here are external: files are staged in
  their PKI folder, the deploy commands printed and :func:`runbook.rotation.verify_served` shows
  what they serve now.

Every node ends with a status (:data:`runbook.fleet.report.STATUSES`), never a traceback: an
unexpected exception on one node becomes that node's ``error`` status.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import redis

from runbook import checks, diagnose, files, pki, rotation
from runbook.checks.links import link_check
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError
from runbook.fleet import plan as _plan
from runbook.fleet.report import FleetReport, NodeResult
from runbook.inventory import FleetNode
from runbook.results import CheckResult

T = TypeVar("T")
DEFAULT_PARALLEL = 8


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def unreadable(node: FleetNode) -> NodeResult | None:
    """The ``unreadable`` result when this user cannot read one of the node's client files."""
    tls = node.endpoint.files
    found = files.first_unreadable((("ca", tls.ca), ("cert", tls.cert or ""), ("key", tls.key or "")))
    if found is None:
        return None
    label, path, why = found
    return NodeResult.of(
        node,
        "unreadable",
        f"{label} file {path} cannot be read: {why}",
        f"let uid {os.getuid()} read it (or fix the path in the inventory)",
    )


def _map(
    parallel: int, work: Callable[[FleetNode], NodeResult], nodes: Sequence[FleetNode]
) -> list[NodeResult]:
    """``work`` over ``nodes`` with at most ``parallel`` at once; results in inventory order."""
    if parallel < 1:
        raise RunbookError(f"--parallel must be 1 or more, got {parallel}")

    def guarded(node: FleetNode) -> NodeResult:
        t0 = time.perf_counter()
        try:
            result = unreadable(node) or work(node)
        except RunbookError as exc:
            result = NodeResult.of(node, "error", _one_line(exc), "fix the cause named here and re-run")
        except Exception as exc:  # one node's surprise must not hide the others: report it as its status
            result = NodeResult.of(node, "error", f"{type(exc).__name__}: {_one_line(exc)}", "report this")
        result.seconds = round(time.perf_counter() - t0, 3)
        return result

    if parallel == 1 or len(nodes) == 1:
        return [guarded(n) for n in nodes]
    with ThreadPoolExecutor(max_workers=min(parallel, len(nodes)), thread_name_prefix="fleet") as pool:
        return list(pool.map(guarded, nodes))


def _new_report(action: str, inventory: str, limit: str | None, parallel: int) -> FleetReport:
    return FleetReport(action, inventory, limit, parallel, started=files.utc_stamp())


# --------------------------------------------------------------------------- audit / diagnose


def _warm_sslyze() -> None:
    """Import what the cipher scan imports once, before threads race to import it."""
    for module in (
        "sslyze.plugins.openssl_cipher_suites._test_cipher_suite",
        "sslyze.plugins.openssl_cipher_suites.cipher_suites",
        "sslyze.server_connectivity",
        "sslyze.server_setting",
    ):
        importlib.import_module(module)


def audit(
    nodes: Sequence[FleetNode],
    *,
    parallel: int = DEFAULT_PARALLEL,
    warn_days: int = 30,
    timeout: float = 3.0,
    scan_ciphers: bool = True,
    inventory: str = "",
    limit: str | None = None,
) -> tuple[FleetReport, list[checks.AuditReport]]:
    """The live TLS audit of every node (connects only). Returns the report and the audits."""
    if scan_ciphers:
        _warm_sslyze()
    audits: dict[str, checks.AuditReport] = {}

    def one(node: FleetNode) -> NodeResult:
        found = checks.run_audit(
            node.endpoint,
            warn_days=warn_days, timeout=timeout, scan_ciphers=scan_ciphers,
        )  # fmt: skip
        found.target = node.target
        audits[node.name] = found
        server = next((c for c in found.certificates if c.get("role") == "server"), {})
        result = NodeResult.of(
            node,
            "pass" if found.ok else "fail",
            f"{sum(c.status == 'pass' for c in found.checks)} of {len(found.checks)} checks pass",
            checks=list(found.checks),
            not_after=server.get("not_after"),
            serial=str(server.get("serial", "")),
            evidence={k: found.evidence.get(k) for k in ("mutual_tls_enforced", "plaintext_refused")},
        )
        if found.status("tls-handshake") == "fail":
            why = _diagnosis(node, timeout)
            result.cause, result.fix = why.cause, why.fix
            result.status = "unreachable" if why.cause == "server-unreachable" else "fail"
            result.detail = why.summary
            return result
        link = link_check(node.endpoint, timeout)  # a replica with its link down is not healthy
        result.checks.append(link)
        if link.status == "fail":
            result.status, result.cause = "fail", "replica-link-down"
            result.detail = f"{result.detail}; {link.detail}"
        result.fix = next((c.fix for c in result.checks if c.status == "fail"), "")
        return result

    report = _new_report("audit", inventory, limit, parallel)
    t0 = time.perf_counter()
    report.nodes = _map(parallel, one, nodes)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report, [audits[n.name] for n in nodes if n.name in audits]


def _diagnosis(node: FleetNode, timeout: float) -> diagnose.Diagnosis:
    return diagnose.diagnose_endpoint(node.endpoint, timeout=timeout, settle=2.0)


def diagnose_fleet(
    nodes: Sequence[FleetNode],
    *,
    parallel: int = DEFAULT_PARALLEL,
    timeout: float = 3.0,
    inventory: str = "",
    limit: str | None = None,
) -> FleetReport:
    """Connect to every node like a client and say why it fails (or ``ok``). Read-only."""

    def one(node: FleetNode) -> NodeResult:
        why = _diagnosis(node, timeout)
        status = "pass" if why.ok else ("unreachable" if why.cause == "server-unreachable" else "fail")
        check = CheckResult(
            why.cause, "pass" if why.ok else "fail", "; ".join([why.summary, *why.evidence]), why.fix
        )
        return NodeResult.of(
            node, status, why.summary, "" if why.ok else why.fix, cause=why.cause, checks=[check]
        )

    report = _new_report("diagnose", inventory, limit, parallel)
    t0 = time.perf_counter()
    report.nodes = _map(parallel, one, nodes)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


# --------------------------------------------------------------------------- rotate


@dataclass(frozen=True)
class Material:
    """The operator's files for a fleet rotation (``--ca-key``, ``--new-cert``/``--new-key``): what
    signs, or what is installed, on nodes without a PKI folder. Empty: every node needs its PKI folder."""

    ca_key: Path | None = None
    new_cert: Path | None = None
    new_key: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.ca_key or self.new_cert)


@dataclass
class _Discovered:
    node: FleetNode
    pki_dir: Path | None  # None: the deployment's own files (Material), staged in the work dir
    target: rotation.NodeTarget | None = None
    managed: bool = False
    problem: NodeResult | None = None

    @property
    def paths(self) -> pki.PkiPaths:
        """Where this node's rotation keeps its files (its PKI folder, or the operator's files)."""
        return rotation.layout(self.pki_dir, self.node.endpoint.files, None)


def _pki_for(node: FleetNode, default: Path | str | None, material: Material) -> Path | None:
    chosen = node.pki_dir or (str(default) if default else "")
    if not chosen and material:
        return None  # the deployment's own files: --ca-key signs, or --new-cert/--new-key is installed
    if not chosen:
        raise RunbookError(
            f"host {node.name}: no PKI folder and no operator files to rotate with: give --ca-key (the key of the CA that issues its "
            "certificate) or --new-cert/--new-key, or --dir / pki_dir (redis_pki_dir) in the inventory"
        )
    folder = Path(chosen).resolve()
    if not pki.PkiPaths(folder).ca_cert.is_file():
        raise RunbookError(
            f"host {node.name}: {folder} has no ca.crt: give the PKI folder (ca.crt, ca.key) of notebook 01"
        )
    return folder


def _discover(node: FleetNode, pki_dir: Path | None) -> _Discovered:
    found = _Discovered(node, pki_dir)
    found.problem = unreadable(node)
    if found.problem is not None:
        return found
    if node.role == "sentinel":
        found.problem = NodeResult.of(node, "unsupported", "Redis Sentinel cannot reload TLS files at runtime",
                                      "restart each Sentinel in turn (procedure in commands)")  # fmt: skip
        found.problem.commands = rotation.sentinel_procedure(rotation.NodeTarget(node.endpoint), found.paths)
        return found
    try:  # the handshake first: it fails with one clear line when nothing answers
        served = rotation.served_certificate(
            node.endpoint.host, node.endpoint.port, node.endpoint.files, node.endpoint.server_name
        )
        target = rotation.discover_node(
            node.endpoint.host, node.endpoint.port, node.endpoint.files, node.name, node.endpoint.server_name
        )
    except (RunbookError, redis.RedisError, OSError) as exc:
        found.problem = NodeResult.of(
            node, "unreachable", _one_line(exc), "start it, or leave it out with --limit '!NAME'"
        )
        return found
    except Exception as exc:  # any surprise while reading one node's role is that node's status
        found.problem = NodeResult.of(node, "error", f"{type(exc).__name__}: {_one_line(exc)}", "report this")
        return found
    found.target, found.managed = target, rotation.serves_visible_files(target, served)
    found.problem = None
    return found


def _share_keys(found: Sequence[_Discovered]) -> tuple[dict[str, str], list[NodeResult]]:
    """Which nodes write the same files (one unit), and the conflicts that forbid a safe plan."""
    shares: dict[str, str] = {}
    for d in found:
        assert d.target is not None
        if d.managed:
            shares[d.node.name] = "file:" + str(d.target.local(d.target.cert_file).resolve())
        else:
            shares[d.node.name] = "stage:" + str(d.paths.root)
    conflicts: list[NodeResult] = []
    by_key: dict[str, list[_Discovered]] = {}
    for d in found:
        by_key.setdefault(shares[d.node.name], []).append(d)
    for key, members in by_key.items():
        if len(members) < 2:
            continue
        names = ", ".join(m.node.name for m in members)
        if key.startswith("stage:"):
            why = f"{names} are external and would stage their new certificates in the same folder {key[6:]}"
            fix = (
                "give each external node its own pki_dir (redis_pki_dir), or rotate one per run with --limit"
            )
        elif len({(m.node.endpoint.server_name, m.node.endpoint.files, m.pki_dir) for m in members}) > 1:
            why = f"{names} share one certificate file but differ in server_name, client files or pki_dir"
            fix = "give nodes that share files the same server_name, client files and pki_dir"
        else:
            continue
        conflicts += [NodeResult.of(m.node, "conflict", why, fix) for m in members]
    return shares, conflicts


def plan_rotation(
    nodes: Sequence[FleetNode],
    *,
    pki_dir: Path | str | None = None,
    parallel: int = 1,
    skip_without_pki: bool = False,
    material: Material = Material(),
) -> tuple[list[list[_plan.Unit]], dict[str, _Discovered], list[NodeResult], list[NodeResult]]:
    """Read every node (read-only) and plan the rolling rotation: (waves, discovered, blockers, skipped).

    A node without a PKI folder is a RunbookError, or ``skipped`` with ``skip_without_pki``.
    """
    ordered = _plan.rolling_order(nodes)
    pkis: dict[str, Path | None] = {}
    skipped: list[NodeResult] = []
    for n in ordered:
        try:
            pkis[n.name] = _pki_for(n, pki_dir, material)
        except RunbookError as exc:
            if not skip_without_pki:
                raise
            skipped.append(
                NodeResult.of(n, "skipped", str(exc), "rotate it where its CA (ca.crt + ca.key) is")
            )
    ordered = [n for n in ordered if n.name in pkis]
    work_parallel = max(1, min(DEFAULT_PARALLEL, len(ordered)))
    with ThreadPoolExecutor(max_workers=work_parallel, thread_name_prefix="fleet-discover") as pool:
        found = list(pool.map(lambda n: _discover(n, pkis[n.name]), ordered))
    blockers = [d.problem for d in found if d.problem is not None and d.problem.status != "unsupported"]
    usable = [d for d in found if d.problem is None]
    shares, conflicts = _share_keys(usable)
    blockers += conflicts
    plan_units = _plan.units(
        [d.node for d in usable], shares, {d.node.name: str(d.paths.root) for d in usable}
    )
    return _plan.waves(plan_units, parallel), {d.node.name: d for d in found}, blockers, skipped


def rotate(
    nodes: Sequence[FleetNode],
    *,
    pki_dir: Path | str | None = None,
    parallel: int = 1,
    dry_run: bool = False,
    if_expiring_within: int | None = None,
    days: int = 365,
    inventory: str = "",
    limit: str | None = None,
    fault: dict[str, rotation.Fault] | None = None,
    skip_without_pki: bool = False,
    material: Material = Material(),
    client_files: TlsClientFiles | None = None,
) -> FleetReport:
    """Rolling server-certificate rotation over ``nodes``. Writes files and reloads servers (not with ``dry_run``).

    ``fault`` maps a node name to a rotation drill (``"reload"``: the real server refuses the
    reload and the rotation rolls back), to see the run stop there. ``skip_without_pki``: a node
    with no PKI folder to issue from is ``skipped`` instead of a RunbookError (notebook 07, external).
    ``material``: the operator's ``--ca-key`` or ``--new-cert``/``--new-key`` for nodes without a PKI
    folder (their own files are rotated, backups in the work dir's ``rotation/backups``);
    ``client_files``: the connection identity (``--ca --cert --key``) instead of the inventory's.
    """
    if client_files is not None:
        nodes = [with_identity(n, client_files) for n in nodes]
    report = _new_report("rotate", inventory, limit, parallel)
    report.dry_run = dry_run
    t0 = time.perf_counter()
    scheduled, found, blockers, skipped = plan_rotation(
        nodes, pki_dir=pki_dir, parallel=parallel, skip_without_pki=skip_without_pki, material=material
    )
    report.plan = [[list(u.nodes) for u in wave] for wave in scheduled]
    results: dict[str, NodeResult] = {r.name: r for r in [*blockers, *skipped]}
    results.update(
        {name: d.problem for name, d in found.items() if d.problem and d.problem.status == "unsupported"}
    )
    if blockers:
        report.stopped_at = blockers[0].name
    else:
        for wave in scheduled:
            with ThreadPoolExecutor(max_workers=max(1, len(wave)), thread_name_prefix="fleet-rotate") as pool:
                outcomes = list(
                    pool.map(
                        lambda u: _rotate_unit(
                            u, found, dry_run, if_expiring_within, days, fault or {}, material
                        ),
                        wave,
                    )
                )
            for unit_results in outcomes:
                results.update({r.name: r for r in unit_results})
            failed = [
                r
                for rs in outcomes
                for r in rs
                if r.status not in ("rotated", "pending", "planned", "not-due")
            ]
            if failed:
                report.stopped_at = failed[0].name
                break
    for name in [n.name for n in _plan.rolling_order(nodes)]:
        report.nodes.append(results.get(name) or _not_started(found[name].node, report.stopped_at))
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def with_identity(node: FleetNode, client_files: TlsClientFiles) -> FleetNode:
    """``node`` reached with ``client_files`` (``--ca --cert --key``) instead of the inventory's files."""
    return dataclasses.replace(node, endpoint=dataclasses.replace(node.endpoint, files=client_files))


def _not_started(node: FleetNode, stopped_at: str | None) -> NodeResult:
    why = f"the run stopped at {stopped_at}" if stopped_at else "not reached"
    return NodeResult.of(
        node, "not-started", f"{why}: nothing written or reloaded here", "fix that node, then re-run"
    )


def _rotate_unit(
    unit: _plan.Unit,
    found: dict[str, _Discovered],
    dry_run: bool,
    if_expiring_within: int | None,
    days: int,
    fault: dict[str, rotation.Fault],
    material: Material,
) -> list[NodeResult]:
    members = [found[name] for name in unit.nodes]
    first = members[0]
    targets = [m.target for m in members if m.target is not None]
    t0 = time.perf_counter()
    try:
        got = rotation.rotate(
            "server", first.pki_dir, targets, client_files=first.node.endpoint.files, server_hostname=first.node.endpoint.server_name,
            dry_run=dry_run, if_expiring_within=if_expiring_within, days=days,
            fault=next((fault[n] for n in unit.nodes if n in fault), None),
            ca_key=material.ca_key if first.pki_dir is None else None,
            new_cert=material.new_cert, new_key=material.new_key,
        )  # fmt: skip
    except Exception as exc:  # the rotation rolls back what it touched; the node reports why it stopped
        fix = "fix the cause named here and re-run" if isinstance(exc, RunbookError) else "report this"
        return [NodeResult.of(m.node, "failed", _one_line(exc), fix) for m in members]
    seconds = round(time.perf_counter() - t0, 3)
    out = []
    for m in members:
        mine = [
            s
            for s in got.steps
            if _step_of(s.id, m.node.name) or not any(_step_of(s.id, o) for o in unit.nodes)
        ]
        bad = next((s for s in mine if s.status == "fail"), None)
        result = NodeResult.of(
            m.node, got.status, bad.detail if bad else _status_detail(got), bad.fix if bad else "",
            serial=got.old_serial, new_serial=got.new_serial, seconds=seconds, checks=mine,
        )  # fmt: skip
        if got.status == "pending" and not m.managed:
            result.commands = list(got.commands)
            result.checks += _verify_now(m)
        out.append(result)
    return out


def _step_of(step_id: str, name: str) -> bool:
    """True for rotation step ids naming ``name`` (``reload:NAME``, ``verify:NAME:serial``, ...)."""
    return f":{name}:" in step_id + ":"


def _status_detail(got: rotation.RotationReport) -> str:
    return {
        "rotated": f"serial {got.old_serial} -> {got.new_serial}, verified",
        "planned": f"planned and preflighted: serial {got.old_serial} would be replaced",
        "pending": "external: new files staged, deploy them with the commands, then `runbook rotate verify`",
        "not-due": f"{got.days_left} days left: not due",
    }.get(got.status, got.status)


def _verify_now(m: _Discovered) -> list[CheckResult]:
    """``rotate verify`` right after staging: what the external node presents now (not deployed yet)."""
    try:
        paths = m.paths
        found = rotation.verify_served(
            m.node.endpoint.host, m.node.endpoint.port, m.pki_dir, server_hostname=m.node.endpoint.server_name,
            tls=None if paths.own else m.node.endpoint.files, expected=None if paths.own else paths.server_cert,
        )  # fmt: skip
    except Exception as exc:  # the node is external: its state is information, not a failure of the run
        return [CheckResult("verify", "warn", _one_line(exc), "deploy, then run `runbook rotate verify`")]
    return [
        CheckResult(f"verify:{c.id}", "warn" if c.status == "fail" else c.status, c.detail, c.fix)
        for c in found
    ]
