"""Notebook 05's steps, for either target: the nodes (with the files each one reads), the plan, the
rotation (under a live load on the sandbox; a plan or an ``apply_external`` rotation on an external
server: :mod:`runbook.book.rotation_external`) and the two drills."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from runbook import loadgen, pki, rotation, workdir
from runbook.book import rotation_external as ext
from runbook.book.target import ExternalTarget, Target
from runbook.client import Endpoint, TlsClientFiles
from runbook.results import CheckResult
from runbook.rotation import NodeTarget, RotationReport


@dataclass
class RotationSetup:
    """What notebook 05 rotates: the nodes (with the files each one reads), how to connect, who issues."""

    target: Target
    nodes: list[NodeTarget]
    files: TlsClientFiles
    issuer: Path | None  # the PKI folder holding ca.key; None: a new certificate cannot be issued here
    server_hostname: str | None = None  # the name to verify (external target); None: the node's host

    @property
    def node(self) -> NodeTarget:
        return self.nodes[0]

    @property
    def external(self) -> bool:
        return not self.target.may_start_servers

    def node_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(node, role, certificate, key, CA) as each server reads them (file names only)."""
        return [
            (n.name, n.role, Path(n.cert_file).name, Path(n.key_file).name, Path(n.ca_file).name)
            for n in self.nodes
        ]

    def plan(self, days: int = 365) -> RotationReport:
        """Step 1: the dry run (plan + preflight; reads, never writes), or why it cannot be planned."""
        if self.issuer is None:
            return ext.unplanned(self.node.endpoint.address, self.files.ca)
        return rotation.rotate(
            "server", self.issuer, self.nodes, dry_run=True, days=days,
            client_files=self.files, server_hostname=self.server_hostname,
        )  # fmt: skip

    def plan_rows(self, plan: RotationReport) -> list[tuple[str, str, str]]:
        """The plan as table rows, paths relative to the PKI folder (stable in committed outputs)."""
        return rotation.plan_rows(plan, self.issuer or self.target.work)

    def served(self) -> x509.Certificate:
        """The certificate a fresh handshake to the first node is presented. Connects."""
        return rotation.served_by(self.node, self.files, self.server_hostname)

    def served_serial(self) -> str:
        return rotation.serial_of(self.served())


def rotation_setup(target: Target) -> RotationSetup:
    """Notebook 05's prerequisites: ask each node which TLS files it reads (``CONFIG GET tls-*``).

    Sandbox: the PKI and the sandbox are ensured first (idempotent). External: nothing is started;
    the CA key beside ``ca_file`` (the runbook PKI layout) issues, when it is there.
    """
    if isinstance(target, ExternalTarget):
        ep = target.endpoint()
        node = rotation.discover_node(ep.host, ep.port, ep.files, server_hostname=ep.server_name)
        return RotationSetup(target, [node], ep.files, ext.issuing_pki(ep.files.ca), ep.server_name)
    target.ensure()
    files = target.endpoint().files
    return RotationSetup(target, rotation.nodes_from_sandbox(target.sandbox(), files), files, target.pki_dir)


@dataclass
class RotationOutcome:
    """Step 3 and "what the clients saw": the rotation, the live load (sandbox), the served certificate."""

    report: RotationReport
    served: x509.Certificate
    load_facts: list[CheckResult]
    commands_text: str
    external: bool
    window: loadgen.LoadStats | None = None

    @property
    def shown(self) -> list[CheckResult]:
        """The rotation's steps after the preflight (step 2 showed that)."""
        return [s for s in self.report.steps if not s.id.startswith("preflight")]

    @property
    def done(self) -> bool:
        """True when step 3 ended as it should for the target (see :func:`runbook.ext.rotation_done`)."""
        return ext.rotation_done(self.report, "external" if self.external else "sandbox")

    @property
    def errors(self) -> list[str]:
        return self.window.errors[:3] if self.window else []


def load_facts(
    window: loadgen.LoadStats, report: RotationReport, served_serial: str, min_commands: int
) -> list[CheckResult]:
    """What the clients saw during the rotation window, as verdicts (no counts: those vary)."""

    def check(check_id: str, ok: bool, detail: str) -> CheckResult:
        return CheckResult(check_id, "pass" if ok else "fail", detail)

    return [
        check("load-commands", window.commands >= min_commands,
              f"at least {min_commands} commands completed during the rotation window"),
        check("load-failed-commands", window.failed_commands == 0, "no command failed"),
        check("load-failed-reconnects", window.failed_reconnects == 0, "no reconnect failed"),
        check("load-new-serial", report.new_serial in window.serials,
              "new connections were presented the new certificate"),
        check("served-now", served_serial == report.new_serial, "the server presents the new certificate"),
    ]  # fmt: skip


def rotate_server(
    setup: RotationSetup,
    plan: RotationReport,
    *,
    days: int = 365,
    soak_seconds: float = 1.0,
    min_commands: int = 20000,
    apply_external: bool = False,
) -> RotationOutcome:
    """Step 3. Sandbox: rotate under a live load (pooled and reconnecting clients) until at least
    ``min_commands`` ran. External: the plan with the deploy and reload commands, or with
    ``apply_external`` a real rotation (:func:`runbook.ext.external_rotation`); no load.
    Writes files and reloads servers (sandbox, or external with ``apply_external``).
    """
    if setup.external:
        report = ext.external_rotation(
            plan, setup.issuer, setup.nodes, apply=apply_external, client_files=setup.files,
            server_hostname=setup.server_hostname, days=days, soak_seconds=soak_seconds,
        )  # fmt: skip
        facts = [CheckResult("live-load", "skip", ext.LIVE_LOAD_NEEDS_SANDBOX)]
        return RotationOutcome(report, setup.served(), facts, "\n".join(report.commands), True)
    node, root = setup.node, setup.target.pki_dir
    with loadgen.running(
        Endpoint(node.endpoint.host, node.endpoint.port, files=setup.files),
        pooled=2,
        reconnecting=2,
        batch=100,
        max_seconds=120,
    ) as load:
        mark = load.mark()
        report = rotation.rotate(
            "server", root, setup.nodes, days=days, soak_seconds=soak_seconds,
            soak_until=lambda: load.window(mark).commands >= min_commands,
        )  # fmt: skip
        window = load.window(mark)
    served = setup.served()
    facts = load_facts(window, report, rotation.serial_of(served), min_commands)
    text = (
        "\n".join(report.commands)
        or "# the same from a shell: python -m runbook rotate server --dir $WORK/pki --host localhost --port $PORT"
    )
    return RotationOutcome(report, served, facts, text, False, window)


@dataclass
class DrillOutcome:
    """A rotation drill: the report, the facts that must hold, and whether they all did."""

    report: RotationReport
    shown: list[CheckResult]
    facts: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(holds for _, holds in self.facts) if self.report.status != "skipped" else True

    @property
    def ran(self) -> bool:
        return self.report.status != "skipped"


def _skipped_drill(setup: RotationSetup) -> DrillOutcome:
    report = ext.skipped_drill(setup.node.endpoint.address)
    return DrillOutcome(report, [s for s in report.steps if s.status == "skip"], [("drill run", False)])


def _watched(setup: RotationSetup) -> list[Path]:
    paths = pki.PkiPaths(setup.target.pki_dir)
    return [paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key]


def drill_bad_certificate(setup: RotationSetup, kind: str = "other-ca") -> DrillOutcome:
    """Drill 1: a bad certificate (``kind``, see :data:`runbook.rotation.DRILLS`) must be refused at
    preflight, every file intact and the old certificate still served. Sandbox only (else skipped)."""
    if setup.external:
        return _skipped_drill(setup)
    watched = _watched(setup)
    before, serial_before = rotation.file_digests(watched), setup.served_serial()
    bad_cert, bad_key = rotation.drill_material(kind, setup.target.pki_dir, setup.target.work / "drills")
    report = rotation.rotate("server", setup.target.pki_dir, setup.nodes, new_cert=bad_cert, new_key=bad_key)
    facts = [
        ("refused at preflight", report.status == "refused"),
        ("files intact byte for byte", rotation.file_digests(watched) == before),
        ("old certificate still served", setup.served_serial() == serial_before),
    ]
    return DrillOutcome(report, [s for s in report.steps if s.status == "fail"], facts)


def drill_failed_reload(setup: RotationSetup, days: int = 365) -> DrillOutcome:
    """Drill 2: a key that does not match reaches the disk; the real server refuses the reload and
    the rotation rolls back byte for byte. Sandbox only (else skipped)."""
    if setup.external:
        return _skipped_drill(setup)
    watched = _watched(setup)
    before, serial_before = rotation.file_digests(watched), setup.served_serial()
    report = rotation.rotate("server", setup.target.pki_dir, setup.nodes, days=days, fault="reload")
    facts = [
        ("rolled back", report.rolled_back and report.status == "rolled-back"),
        ("files restored byte for byte", rotation.file_digests(watched) == before),
        ("old certificate still served", setup.served_serial() == serial_before),
    ]
    return DrillOutcome(report, [s for s in report.steps if not s.id.startswith("preflight")], facts)


def form_choices(work_dir: str | Path | None, connect_as: str) -> dict[str, list[str]]:
    """The form's dropdowns: the preflight drill kinds, and the client identities of the work dir's PKI
    (``connect_as`` alone when it has none yet). Reads only; creates the work dir if missing."""
    clients = pki.PkiPaths(workdir.pki_dir(workdir.work_dir(work_dir or None))).client_names()
    return {"drill_kind": list(rotation.DRILLS), "connect_as": clients or [connect_as]}


def check_params(drill_kind: str, soak_seconds: float = 0.0, min_commands: int = 1) -> None:
    """Notebook 05's inputs, checked before anything runs: a bad one raises one line naming the fix."""
    rotation.check_params(drill_kind, soak_seconds, min_commands)
