"""Move a live deployment to the strict profile: ``runbook adopt --migrate``. Writes files, reloads servers.

The deployment keeps serving throughout; each step is backed up, swapped, reloaded with one
``CONFIG SET`` per node (replicas first) and verified through :class:`runbook.rotation.Rotation`:

``links``    a replicating node whose outgoing identity is serverAuth-only gets a clientAuth link
             certificate from the CA (``tls-client-cert-file/-key-file``); links re-handshake and
             reach ``master_link_status:up`` (first: a link down for want of clientAuth could not
             pass the link checks of the other steps);
``resign``   the CA re-signed with its own key (:func:`runbook.pki.resign_ca_cert`) into a new file
             beside the server's CA file (``ca.crt`` -> ``ca-strict.crt``);
``bundle``   every CA file that holds the old CA (the servers' ``tls-ca-cert-file``, the clients'
             ``--ca``) becomes re-signed + old, written over the same path (backed up), so the path
             Redis reads never changes; a compatible and a strict client with the client identity verify;
``leaves``   server certificates whose name is only in the CN are re-issued (same key type, the CN and
             the server name in subjectAltName, the IP for an IP host), preflighted and reloaded;
``retire``   every CA file holds the re-signed CA in place of the old one.

Before anything is written: the assessment (:func:`runbook.adopt.assess`) must show only what the
migration fixes, every node must answer ``CONFIG GET tls-*`` with files visible here, none in a
Kubernetes secret volume or behind a symlink. Afterwards a fresh assessment must be clean. A failed
step, or a final assessment that is not clean, rolls every step back (backups restored byte for byte,
every node reloaded and shown serving what it served before).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from runbook import files, pki, rotation
from runbook.adopt.assessment import Assessment, assess, check_inputs
from runbook.client import Endpoint, Mode, TlsClientFiles, probe, tls_context
from runbook.errors import RunbookError
from runbook.results import CheckResult
from runbook.rotation import NodeTarget, NodeWork, PlanStep, Rotation, RotationReport

FIXED = ("ca-not-strict", "server-name-cn-only", "replica-link-down")
STEPS: dict[str, str] = {
    "resign": "the CA re-signed with its own key under the strict profile, into a new file beside the old",
    "bundle": "every CA file = re-signed + old CA (backed up); one CONFIG SET per node, replicas first",
    "links": "a clientAuth link certificate for nodes whose replication identity is serverAuth-only",
    "leaves": "server certificates with the name only in the CN re-issued with it in subjectAltName",
    "retire": "every CA file = the re-signed CA in place of the old one; one CONFIG SET per node",
}


@dataclass
class Migration:
    """What ``adopt --migrate`` found, planned and did: the assessments before and after, the steps."""

    status: str  # nothing-to-do | planned | migrated | rolled-back
    before: Assessment
    after: Assessment | None = None
    report: RotationReport = field(default_factory=lambda: RotationReport(kind="migrate", target=""))
    resigned_ca: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("nothing-to-do", "planned", "migrated")

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def cause(self) -> str:
        """The first failed step (what stopped the migration), else empty."""
        failed = next((s for s in self.report.steps if s.status == "fail"), None)
        return f"{failed.id}: {failed.detail}" if failed else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.ok,
            "cause": self.cause,
            "resigned_ca": self.resigned_ca,
            "before": self.before.to_dict(),
            "after": self.after.to_dict() if self.after else None,
            "report": self.report.to_dict(),
        }

    def lines(self) -> list[str]:
        """The plan, each step's rows and the verdict as plain text (no key material, only paths)."""
        out = [f"plan: {p.step} {p.target}: {p.detail}" for p in self.report.plan]
        out += [
            f"{s.status:4}  {s.id}: {s.detail}" + (f" (fix: {s.fix})" if s.fix else "")
            for s in self.report.steps
        ]
        verdict = {
            "nothing-to-do": "clean: strict clients already verify every node; nothing written",
            "planned": "dry run: nothing written",
            "migrated": "migrated: strict clients verify every node; backups in "
            + (self.report.backup or "-"),
            "rolled-back": f"stopped and rolled back: {self.cause}",
        }[self.status]
        return [*out, verdict]


@dataclass
class _Plan:
    """Everything decided before the first write."""

    tls: TlsClientFiles
    server_hostname: str | None  # the name clients verify (None: each node's host)
    nodes: list[NodeTarget]  # replicas first
    signer: pki.Issued  # the old CA certificate and its key
    issuer: pki.Issued  # what signs new certificates: the re-signed CA (or the old, already strict)
    resigned_path: Path | None  # None: the CA is already strict
    ca_files: dict[Path, list[x509.Certificate]]  # files holding the old CA -> their certificates
    links: dict[str, tuple[pki.Issued, Path, Path]] = field(default_factory=dict)
    leaves: dict[str, pki.Issued] = field(default_factory=dict)  # node name -> its new leaf
    served: dict[str, x509.Certificate] = field(default_factory=dict)
    created: list[Path] = field(default_factory=list)  # files that did not exist: removed on rollback


def migrate(
    endpoints: Sequence[Endpoint],
    ca_key: Path | str,
    *,
    dry_run: bool = False,
    timeout: float = 3.0,
    fault: rotation.Fault | None = None,
) -> Migration:
    """Assess, refuse or plan, then migrate step by step (module docstring). Writes files, reloads servers.

    Raises :class:`RunbookError` (exit 2) before anything is written for input the migration cannot
    take; returns ``rolled-back`` (exit 1) when a step or the final assessment failed and everything
    was put back. ``fault="reload"`` is the rotation drill, in the ``leaves`` step (a mismatched key
    lands on disk before the first reload, the real server refuses it, and the rollback runs).
    """
    check_inputs(endpoints)
    tls = endpoints[0].files
    if not tls.cert or not tls.key:
        raise RunbookError("--migrate needs --cert and --key: the client identity the servers accept")
    before = assess(endpoints, timeout=timeout)
    result = Migration("nothing-to-do", before)
    result.report.target, result.report.nodes = before.nodes[0], list(before.nodes)
    if before.ok:  # strict clients already verify every node: no key needed, nothing written
        return result
    key_path = Path(ca_key)
    if not ca_key or not key_path.is_file():
        raise RunbookError(
            f"--ca-key {ca_key} not found: pass the key of the CA your servers' certificates chain to"
            if ca_key
            else "--migrate needs --ca-key: the key of the CA your servers' certificates chain to"
        )
    _refuse_findings(before, FIXED)
    plan = _plan(endpoints, key_path, before)
    result.report.plan = _plan_steps(plan)
    result.resigned_ca = str(plan.resigned_path or "")
    if dry_run:
        result.status = "planned"
        return result

    def final(report: RotationReport) -> bool:
        result.after = assess(endpoints, timeout=timeout)
        report.add(
            "final-assessment",
            "pass" if result.after.ok else "fail",
            "clean: every client view passes at every node"
            if result.after.ok
            else "; ".join(f"{f.id} at {f.node}: {f.detail}" for f in result.after.findings)[:300],
            "" if result.after.ok else "rolled back; fix the finding and migrate again",
        )
        return result.after.ok

    ok = _run(plan, result.report, fault, final)
    result.status = "migrated" if ok else "rolled-back"
    result.report.ok, result.report.status = ok, result.status
    return result


def _refuse_findings(before: Assessment, fixed: Sequence[str]) -> None:
    for f in before.findings:
        if f.id not in fixed:
            raise RunbookError(
                f"{f.id} at {f.node}: {f.detail}; fix that first ({f.fix}): --migrate moves a deployment "
                "clients already use, it does not repair one"
            )


# --------------------------------------------------------------------------- planning (no writes)


def _plan(endpoints: Sequence[Endpoint], key_path: Path, before: Assessment) -> _Plan:
    tls = endpoints[0].files
    nodes = [_discover(e, tls) for e in endpoints]
    nodes.sort(key=lambda n: n.role != "slave")  # replicas first
    served = {n.name: rotation.served_by(n, tls, n.endpoint.hostname) for n in nodes}
    for n in nodes:
        _refuse_node(n, served[n.name])
    server_cas = {n.local(n.ca_file).resolve(): pki.load_certs(n.local(n.ca_file)) for n in nodes}
    client_cas = pki.load_certs(Path(tls.ca))
    signer = rotation.load_signer(key_path, [*client_cas, *(c for cs in server_cas.values() for c in cs)])
    resign = "ca-not-strict" in before.finding_ids
    if resign and not pki.ca_problems(signer.cert):
        raise RunbookError(
            "ca-not-strict names another CA than the one --ca-key belongs to: pass the key of the CA strict clients refuse"
        )
    if resign and signer.cert.subject != signer.cert.issuer:
        raise RunbookError(
            "the CA of --ca-key is not self-signed: --migrate re-signs a root CA; re-issue the intermediate from its root"
        )
    issuer = pki.Issued(pki.resign_ca_cert(signer.cert, signer.key), signer.key) if resign else signer
    ca_files: dict[Path, list[x509.Certificate]] = {}
    for path, certs in [*server_cas.items(), (Path(tls.ca).resolve(), client_cas)]:
        if resign and signer.cert in certs:
            ca_files[path] = certs
    for n in nodes:
        if resign and n.local(n.ca_file).resolve() not in ca_files:
            raise RunbookError(
                f"{n.name} trusts {n.ca_file}, which does not hold the CA of --ca-key: pass that CA's key"
            )
    first_ca = nodes[0].local(nodes[0].ca_file)
    resigned_path = (
        first_ca.with_name(f"{first_ca.stem}-strict{first_ca.suffix or '.crt'}") if resign else None
    )
    server_name = endpoints[0].server_name or None
    plan = _Plan(tls, server_name, nodes, signer, issuer, resigned_path, ca_files, served=served)
    cn_only = {f.node for f in before.findings if f.id == "server-name-cn-only"}
    _plan_links(plan, before)
    _plan_leaves(plan, cn_only)
    return plan


def _discover(e: Endpoint, tls: TlsClientFiles) -> NodeTarget:
    node = rotation.discover_node(
        e.host, e.port, tls, server_hostname=e.server_name or None
    )  # named by address
    if node.mode == "sentinel":
        raise RunbookError(f"{node.name} is a Sentinel: --migrate works on Redis nodes; pass their addresses")
    if not (node.cert_file and node.key_file and node.ca_file):
        raise RunbookError(
            f"{node.name} does not answer CONFIG GET tls-* (renamed or denied): --migrate needs CONFIG GET/SET "
            "for the --cert identity (ACL +config|get +config|set), or use `runbook pki resign-ca` and reload by hand"
        )
    return node


def _refuse_node(node: NodeTarget, served: x509.Certificate) -> None:
    """A node the migration must not write for: files in a secret volume, symlinks, or not visible here."""
    named = [node.cert_file, node.key_file, node.ca_file, node.client_cert_file, node.client_key_file]
    for f in (x for x in named if x):
        volume = rotation.secret_volume(node.local(f))
        if volume is not None:
            raise RunbookError(
                f"{node.name} reads {node.local(f)} from a Kubernetes secret volume ({volume}): --migrate writes "
                "nothing there; re-sign the CA and re-issue through the renewer that feeds the Secret "
                f"(cert-manager Certificate, step), then `runbook watch --once {rotation.watch_flags(node)}`"
            )
    if not rotation.serves_visible_files(node, served) or not node.local(node.ca_file).is_file():
        raise RunbookError(
            f"{node.name} does not read its TLS files from paths visible here ({node.cert_file}): run "
            "`runbook adopt --migrate` on the Redis host"
        )
    for f in (x for x in named if x):
        if node.local(f).is_symlink():
            raise RunbookError(
                f"{node.local(f)} ({node.name}) is a symlink to {node.local(f).resolve()}: --migrate never replaces "
                "a symlink; point the server at plain files (CONFIG SET) or migrate on the files it links to"
            )


def _outgoing_identity(node: NodeTarget) -> x509.Certificate:
    return pki.load_certs(node.local(node.client_cert_file or node.cert_file))[0]


def _lacks_client_auth(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False  # no EKU: every purpose
    return ExtendedKeyUsageOID.CLIENT_AUTH not in eku


def _plan_links(plan: _Plan, before: Assessment) -> None:
    """A clientAuth link certificate for replicating nodes whose outgoing identity lacks clientAuth."""
    down = {f.node for f in before.findings if f.id == "replica-link-down"}
    for n in plan.nodes:
        if (n.role == "slave" or n.mode == "cluster") and _lacks_client_auth(_outgoing_identity(n)):
            cert_path = n.local(n.cert_file)
            key_type = pki.key_description(plan.served[n.name].public_key())[0]
            host = n.endpoint.hostname
            issued = pki.make_leaf(
                plan.issuer,
                f"{host} replication link",
                purpose="client",
                hostnames=[] if _is_ip(host) else [host],
                ips=[host] if _is_ip(host) else [],
                key_type=key_type if key_type in pki.KEY_TYPES else "ecdsa-p256",
            )
            crt = cert_path.with_name(f"{cert_path.stem}-link.crt")
            plan.links[n.name] = (issued, crt, crt.with_suffix(".key"))
            down.discard(n.endpoint.address)
    if down:
        raise RunbookError(
            f"replica-link-down at {', '.join(sorted(down))} is not a missing clientAuth identity: "
            "`runbook diagnose` on the replica names the cause; fix it first"
        )


def _plan_leaves(plan: _Plan, cn_only: set[str]) -> None:
    """Re-issue (once per file) the server certificates whose name is only in the CN, and preflight them."""
    by_path: dict[Path, pki.Issued] = {}
    checks: list[CheckResult] = []
    for n in plan.nodes:
        if n.endpoint.address not in cn_only:
            continue
        served = plan.served[n.name]
        path = n.local(n.cert_file).resolve()
        if path not in by_path:
            cn = [str(a.value) for a in served.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
            host = [n.endpoint.host] if _is_ip(n.endpoint.host) else []
            names = [c for c in cn if _dns_name(c)] + [n.endpoint.hostname] + host
            lifetime = max(1, (served.not_valid_after_utc - served.not_valid_before_utc).days)
            by_path[path] = rotation.reissue_like(
                served,
                plan.issuer,
                days=min(lifetime, 825),
                add_names=list(dict.fromkeys(names)),
                default_eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            )
        leaf = by_path[path]
        plan.leaves[n.name] = leaf
        checks += rotation.preflight_leaf(
            f"preflight:{n.name}:",
            leaf.cert,
            leaf.key,
            purpose="server",
            client_trust=rotation.ClientTrust([plan.issuer.cert]),
            server_trust=[plan.issuer.cert],
            names=[n.endpoint.hostname],
            old=served,
            needs_client_auth=(n.role == "slave" or n.mode == "cluster")
            and n.name not in plan.links
            and not n.client_cert_file,
        )
    bad = next((c for c in checks if c.status == "fail"), None)
    if bad is not None:
        raise RunbookError(
            f"the re-issued certificate fails its preflight ({bad.id}: {bad.detail}): {bad.fix}"
        )


def _plan_steps(plan: _Plan) -> list[PlanStep]:
    steps: list[PlanStep] = []
    if plan.resigned_path is not None:
        steps.append(PlanStep("resign", str(plan.resigned_path), STEPS["resign"]))
        steps += [PlanStep("bundle", str(p), STEPS["bundle"]) for p in plan.ca_files]
    steps += [PlanStep("links", f"{name}: {crt}", STEPS["links"]) for name, (_, crt, _) in plan.links.items()]
    steps += [
        PlanStep("leaves", name, STEPS["leaves"] + f" (serial {rotation.serial_of(leaf.cert)})")
        for name, leaf in plan.leaves.items()
    ]
    if plan.resigned_path is not None:
        steps += [PlanStep("retire", str(p), STEPS["retire"]) for p in plan.ca_files]
    steps.append(PlanStep("assess", "every node", "a fresh assessment must be clean for strict clients"))
    return steps


def _dns_name(name: str) -> bool:
    try:
        pki.validate_hostname(name)
    except RunbookError:
        return False
    return True


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- the steps (writes, reloads)


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _ca_writes(plan: _Plan, bundle: bool) -> list[files.PlannedWrite]:
    """Every CA file holding the old CA, with the re-signed CA before it (bundle) or in its place."""
    old, new = plan.signer.cert, plan.issuer.cert
    out = []
    for path, certs in plan.ca_files.items():
        body = [x for c in certs for x in ((new, c) if bundle and c == old else (new,) if c == old else (c,))]
        out.append(files.PlannedWrite(path, _pem(body), files.PUBLIC))
    return out


def _run(
    plan: _Plan, report: RotationReport, fault: rotation.Fault | None, final: Callable[[RotationReport], bool]
) -> bool:
    """Each step as a rotation of its own, then ``final``; on a failure every completed step is rolled
    back (newest first) over the connections opened before it."""
    completed: list[Rotation] = []
    try:
        for name, work, verify, step_fault in _steps(plan, fault):
            if not work:
                continue
            sub = RotationReport(kind=f"migrate:{name}", target=report.target, nodes=report.nodes)
            rot = Rotation(
                sub,
                pki.PkiPaths(_backup_root(plan)),
                lambda: plan.tls,
                plan.nodes,
                plan.server_hostname,
                step_fault,
                True,
            )
            rot.open_sentinels()
            completed.append(rot)
            ok = rot.run(work) and verify(sub)
            report.phases.append(sub)
            report.steps += [CheckResult(f"{name}:{r.id}", r.status, r.detail, r.fix) for r in sub.steps]
            report.backup = sub.backup or report.backup
            if not ok:
                if not sub.rolled_back:
                    rot.rollback(rot.done, rot.backup_dir, rot.root)
                _rollback(completed[:-1], plan, report)
                return False
        if not final(report):
            _rollback(completed, plan, report)
            return False
        return True
    except (OSError, RunbookError) as exc:
        report.add("error", "fail", " ".join(str(exc).split())[:200], "rolled back; fix the cause and retry")
        _rollback(completed, plan, report)
        return False
    finally:
        for rot in completed:
            rot.close()


def _rollback(done: Sequence[Rotation], plan: _Plan, report: RotationReport) -> None:
    report.rolled_back = True
    for rot in reversed(done):
        if rot.done:
            rot.rollback(rot.done, rot.backup_dir, rot.root)
            report.steps += [
                CheckResult(f"{rot.report.kind.split(':')[-1]}:{r.id}", r.status, r.detail, r.fix)
                for r in rot.report.steps
                if r.id.startswith("rollback")
            ]
    for path in plan.created:
        path.unlink(missing_ok=True)
    report.add(
        "rollback", "pass", f"{len(done)} completed step(s) undone, {len(plan.created)} new file(s) removed"
    )


def _backup_root(plan: _Plan) -> Path:
    return plan.nodes[0].local(plan.nodes[0].ca_file).resolve().parent


_Step = tuple[str, list[NodeWork], Callable[[RotationReport], bool], "rotation.Fault | None"]


def _steps(plan: _Plan, fault: rotation.Fault | None) -> list[_Step]:
    """The steps in order, each with its node work and its own verification (run after the step)."""
    steps: list[_Step] = []
    links = [
        NodeWork(
            n,
            plan.links[n.name][0].planned_writes(plan.links[n.name][1], plan.links[n.name][2]),
            _settings(plan, n),
            None,
            None,
            relink=True,
            restore_settings=rotation.tls_settings(n),
        )
        for n in plan.nodes
        if n.name in plan.links
    ]
    plan.created += [w.path for nw in links for w in nw.writes if not w.path.exists()]
    steps.append(("links", links, lambda sub: True, None))  # first: a down link cannot pass later checks
    if plan.resigned_path is not None:
        _write_resigned(plan)
        bundle = _ca_writes(plan, bundle=True)
        steps.append(
            ("bundle", _per_node(plan, bundle), lambda sub: _verify_clients(plan, sub, final=False), None)
        )
    steps.append(("leaves", _leaf_work(plan), lambda sub: True, fault))
    if plan.resigned_path is not None:
        retire = _ca_writes(plan, bundle=False)
        steps.append(
            ("retire", _per_node(plan, retire), lambda sub: _verify_clients(plan, sub, final=True), None)
        )
    return steps


def _write_resigned(plan: _Plan) -> None:
    """Step ``resign``: the re-signed CA into its own new file (an existing one backed up first)."""
    assert plan.resigned_path is not None
    path = plan.resigned_path
    if path.exists():
        files.backup([path], path.parent)
    else:
        plan.created.append(path)
    files.write_file(path, _pem([plan.issuer.cert]))


def _settings(plan: _Plan, n: NodeTarget) -> list[tuple[str, str]]:
    """Every TLS file of ``n`` as ``CONFIG SET`` pairs, with its new link certificate once it has one."""
    if n.name not in plan.links:
        return rotation.tls_settings(n)
    _, crt, key = plan.links[n.name]
    return rotation.tls_settings(n, tls_client_cert_file=str(crt), tls_client_key_file=str(key))


def _per_node(plan: _Plan, writes: list[files.PlannedWrite]) -> list[NodeWork]:
    """The CA files written once (with the first node), then one CONFIG SET of every TLS file per node."""
    return [
        NodeWork(n, writes if i == 0 else [], _settings(plan, n), None, None, relink=True)
        for i, n in enumerate(plan.nodes)
    ]


def _leaf_work(plan: _Plan) -> list[NodeWork]:
    work: list[NodeWork] = []
    written: set[Path] = set()
    for n in plan.nodes:
        leaf = plan.leaves.get(n.name)
        if leaf is None:
            continue
        cert_path, key_path = n.local(n.cert_file), n.local(n.key_file)
        writes = [] if cert_path.resolve() in written else leaf.planned_writes(cert_path, key_path)
        written.add(cert_path.resolve())
        work.append(NodeWork(n, writes, _settings(plan, n), leaf.cert, plan.served[n.name], relink=True))
    return work


def _verify_clients(plan: _Plan, sub: RotationReport, *, final: bool) -> bool:
    """A compatible client with the client identity, and a strict one trusting the re-signed CA, PING
    every node (after ``bundle``: the chain only where the name is still CN-only; after ``retire``:
    everything, trusting the clients' ``--ca`` as rewritten)."""
    assert plan.resigned_path is not None
    ok = True
    strict_files = plan.tls if final else TlsClientFiles(str(plan.resigned_path), plan.tls.cert, plan.tls.key)
    for n in plan.nodes:
        clients: list[tuple[Mode, TlsClientFiles, bool]] = [
            ("compatible", plan.tls, True),
            ("strict", strict_files, final or n.name not in plan.leaves),
        ]
        for mode, tls, check_names in clients:
            error = _ping(n.endpoint, tls, mode, check_names)
            what = f"a {mode} client{'' if check_names else ' (chain only: the name is re-issued next)'}"
            sub.add(
                f"verify:{n.name}:{mode}-client",
                "fail" if error else "pass",
                f"{what} with the client identity: {error or 'PONG'}",
                "rolled back; read the server log" if error else "",
            )
            ok = ok and error is None
    return ok


def _ping(e: Endpoint, tls: TlsClientFiles, mode: Mode, check_hostname: bool) -> str | None:
    try:
        ctx = tls_context(tls, mode=mode, check_hostname=check_hostname)
    except (OSError, ValueError) as exc:
        return " ".join(str(exc).split())
    got = probe.command(e, "PING", ctx=ctx, timeout=3.0)
    if not got.ok:
        return got.error
    return None if got.value == b"PONG" else f"unexpected reply {got.value!r}"[:80]
