"""Results of a fleet run: one :class:`NodeResult` per node, one :class:`FleetReport` per run.

Renders as tables (per-node verdicts, the rotation plan, each node's own table), serialises to
the run's ``summary.json`` and to a node_exporter textfile with per-target series (label
``target="host:port"``), and draws the expiry timeline. Pure data in, data out (plus the
explicit writers :func:`write_summary` and :func:`write_prometheus`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook import display
from runbook import files as _files
from runbook.errors import RunbookError
from runbook.inventory import FleetNode
from runbook.results import CheckResult

#: Per-node statuses that count as success, per action.
OK_STATUSES: dict[str, frozenset[str]] = {
    "audit": frozenset({"pass"}),
    "diagnose": frozenset({"pass"}),
    "rotate": frozenset({"rotated", "pending", "planned", "not-due", "skipped"}),
}
#: Every per-node status, with its meaning (docs/fleet.md has the same list).
STATUSES: dict[str, str] = {
    "pass": "audit: no check failed; diagnose: the TLS connection works (cause ok)",
    "fail": "audit: a check failed; diagnose: the connection fails (see cause)",
    "unreachable": "nothing answers at host:port (or the TLS handshake to read its role failed)",
    "unreadable": "a client file of the node (ca, cert, key) cannot be read by this user",
    "error": "the probe stopped with an error on this node (message in detail)",
    "rotated": "rotated, reloaded and verified",
    "pending": "external node (CONFIG hidden or files not visible here): files staged, deploy commands printed",
    "planned": "dry run: planned and preflighted, nothing written",
    "not-due": "--if-expiring-within: more days left than asked, nothing done",
    "refused": "preflight refused the new certificate: nothing touched",
    "rolled-back": "the reload or verification failed: backup restored, old certificate served again",
    "failed": "the rotation stopped with an error before or during the swap (rolled back by the rotation)",
    "skipped": "not rotated here: no PKI folder (ca.crt + ca.key) to issue from (notebook 07, external target)",
    "not-started": "not rotated because the run stopped (an earlier failure or a node that blocks the plan)",
    "conflict": "cannot be rotated safely with the others as given (shared staging folder, mixed settings)",
    "unsupported": "Sentinel: cannot reload TLS at runtime; restart procedure printed",
}
_MARK = {
    "pass": "pass",
    "rotated": "pass",
    "planned": "pass",
    "not-due": "skip",
    "pending": "warn",
    "not-started": "skip",
    "skipped": "skip",
}


@dataclass
class NodeResult:
    """What the run did on one node."""

    name: str
    target: str
    role: str
    group: str
    status: str
    detail: str = ""
    fix: str = ""
    cause: str = ""
    not_after: str | None = None
    serial: str = ""
    new_serial: str = ""
    seconds: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, node: FleetNode, status: str, detail: str = "", fix: str = "", **more: Any) -> NodeResult:
        return cls(node.name, node.target, node.role, node.group, status, detail, fix, **more)

    @property
    def days_left(self) -> int | None:
        if not self.not_after:
            return None
        return (dt.datetime.fromisoformat(self.not_after) - dt.datetime.now(dt.UTC)).days

    def table(self) -> display.Table:
        """This node's own result table (audit checks, rotation steps or the diagnosis)."""
        return display.checks_table(self.checks, f"{self.name} ({self.target}): {self.status}")


@dataclass
class FleetReport:
    """One fleet run: the action, what was selected, the plan (rotate) and every node's result."""

    action: str
    inventory: str
    limit: str | None
    parallel: int
    nodes: list[NodeResult] = field(default_factory=list)
    plan: list[list[list[str]]] = field(default_factory=list)  # waves -> units -> node names
    dry_run: bool = False
    started: str = ""
    seconds: float = 0.0
    stopped_at: str | None = None  # rotate: the node whose failure stopped the run

    @property
    def ok(self) -> bool:
        good = OK_STATUSES[self.action]
        return bool(self.nodes) and all(n.status in good for n in self.nodes)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        return dict(Counter(n.status for n in self.nodes))

    def node(self, name: str) -> NodeResult:
        return next(n for n in self.nodes if n.name == name)

    def first_to_expire(self) -> list[NodeResult]:
        """The nodes whose server certificate expires first (several when they share it)."""
        dated = [n for n in self.nodes if n.not_after]
        if not dated:
            return []
        soonest = min(dt.datetime.fromisoformat(str(n.not_after)) for n in dated)
        return [n for n in dated if dt.datetime.fromisoformat(str(n.not_after)) == soonest]

    def to_dict(self) -> dict[str, Any]:
        """summary.json of the run (fields: docs/fleet.md); public facts only, never key material."""
        data = asdict(self)
        data["ok"] = self.ok
        data["counts"] = self.counts()
        for entry in data["nodes"]:
            entry["days_left"] = self.node(entry["name"]).days_left
        return data

    def verdict_table(self) -> display.Table:
        """One row per node: status, role, group, expiry, the cause or failed checks, and the fix."""
        rows = []
        for n in self.nodes:
            failed = [c.id for c in n.checks if c.status == "fail"]
            why = n.cause or (", ".join(failed[:3]) if self.action == "audit" else "") or n.detail
            rows.append(
                [
                    n.name,
                    n.target,
                    n.role,
                    n.group,
                    display.mark(
                        _MARK.get(n.status, "fail" if n.status not in OK_STATUSES[self.action] else "pass")
                    )
                    + ("" if n.status in ("pass", "fail") else f" ({n.status})"),
                    "" if n.days_left is None else str(n.days_left),
                    why if n.status not in OK_STATUSES[self.action] else "",
                    n.fix if n.status not in OK_STATUSES[self.action] else "",
                ]
            )
        header = ["node", "target", "role", "group", "status", "days left", "why", "fix"]
        return display.Table(header, rows, f"fleet {self.action}: {self.summary_line()}")

    def plan_table(self) -> display.Table:
        """The rolling plan: wave, the nodes rotated together (one unit), and their outcome."""
        rows = []
        for w, wave in enumerate(self.plan, 1):
            for unit in wave:
                statuses = sorted({self.node(n).status for n in unit})
                rows.append([str(w), " -> ".join(unit), ", ".join(statuses)])
        return display.Table(
            ["wave", "nodes (in order, one rotation)", "status"], rows, "rolling rotation plan"
        )

    def summary_line(self) -> str:
        parts = [f"{count} {status}" for status, count in sorted(self.counts().items())]
        return f"{len(self.nodes)} nodes: " + ", ".join(parts)


def write_summary(report: FleetReport, path: Path | str) -> Path:
    """Write the run's summary.json atomically. Writes a file."""
    target = Path(path)
    if not target.parent.is_dir():
        raise RunbookError(f"directory {target.parent} does not exist: create it or give another --summary")
    text = json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    _files.write_file(target, text.encode(), _files.PUBLIC)
    return target


# --------------------------------------------------------------------------- Prometheus


class _Merged:
    """A collector that merges the metric families of several registries (one family per name)."""

    def __init__(self, registries: Iterable[Any]) -> None:
        self.registries = list(registries)

    def collect(self) -> Iterable[Any]:
        families: dict[str, Any] = {}
        for registry in self.registries:
            for metric in registry.collect():
                if metric.name in families:
                    families[metric.name].samples.extend(metric.samples)
                else:
                    families[metric.name] = metric
        return list(families.values())


def prometheus_registry(report: FleetReport, audits: Sequence[Any] = ()) -> Any:
    """Per-target series: each audit's own series (runbook.checks) plus one node status per target."""
    from prometheus_client import CollectorRegistry, Gauge

    from runbook import checks

    registry = CollectorRegistry()
    if audits:
        registry.register(_Merged(checks.prometheus_registry(a) for a in audits))
    status = Gauge(
        "redis_tls_fleet_node_ok",
        "1 when the fleet action succeeded on the node, 0 otherwise (status label: the per-node status)",
        ["action", "target", "node", "role", "group", "status"],
        registry=registry,
    )
    for n in report.nodes:
        good = n.status in OK_STATUSES[report.action]
        status.labels(report.action, n.target, n.name, n.role, n.group, n.status).set(1 if good else 0)
    expiry = Gauge(
        "redis_tls_fleet_cert_expiry_timestamp_seconds",
        "notAfter of the certificate the node presents, as a Unix timestamp",
        ["target", "node"],
        registry=registry,
    )
    for n in report.nodes:
        if n.not_after:
            expiry.labels(n.target, n.name).set(dt.datetime.fromisoformat(n.not_after).timestamp())
    last = Gauge(
        "redis_tls_fleet_run_timestamp_seconds", "When the fleet run ended", ["action"], registry=registry
    )
    last.labels(report.action).set(time.time())
    return registry


def write_prometheus(report: FleetReport, path: Path | str, audits: Sequence[Any] = ()) -> Path:
    """Write the textfile atomically (temp file + rename, mode 0644). Writes a file; idempotent."""
    return _files.write_prometheus_textfile(prometheus_registry(report, audits), path)


# --------------------------------------------------------------------------- the expiry timeline


def expiry_timeline(report: FleetReport, *, now: dt.datetime | None = None) -> Any:
    """A matplotlib Figure: one bar per node from now to its certificate's notAfter, soonest on top."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    moment = now or dt.datetime.now(dt.UTC)
    dated = sorted(
        (n for n in report.nodes if n.not_after), key=lambda n: (str(n.not_after), n.name), reverse=True
    )
    first = {n.name for n in report.first_to_expire()}
    fig = Figure(figsize=(8, 0.5 + 0.45 * max(1, len(dated))))
    ax = fig.add_subplot()
    days = [(dt.datetime.fromisoformat(str(n.not_after)) - moment).total_seconds() / 86400 for n in dated]
    colours = ["#cf222e" if n.name in first else "#1a7f37" for n in dated]
    ax.barh([n.name for n in dated], days, color=colours)
    for y, d in enumerate(days):
        ax.text(d, y, f" {int(d)} d", va="center", fontsize=8)
    ax.set_xlabel("days until the server certificate expires")
    ax.set_title("certificate expiry by node (red: expires first)")
    ax.axvline(0, color="black", linewidth=0.8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- the notebook's summary


def verdict(audit: FleetReport, plan: FleetReport, rotation: FleetReport) -> list[CheckResult]:
    """Notebook 07's verdict: the audit, the rolling plan, and the rotation (``skip`` when only planned)."""
    units = sum(len(w) for w in plan.plan)
    rotated = CheckResult(
        "rolling-rotation",
        "pass" if rotation.ok else "fail",
        rotation.summary_line(),
        ""
        if rotation.ok
        else f"the run stopped at {rotation.stopped_at}: read its table (it was rolled back)",
    )
    if rotation.ok and rotation.nodes and all(n.status == "skipped" for n in rotation.nodes):
        rotated = CheckResult("rolling-rotation", "skip", rotation.nodes[0].detail, rotation.nodes[0].fix)
    elif rotation.dry_run and rotation.ok:
        rotated = CheckResult(
            "rolling-rotation", "skip", "planned and preflighted only (external target, apply_external=False)"
        )
    return [
        CheckResult(
            "fleet-audit",
            "pass" if audit.ok else "fail",
            audit.summary_line(),
            "" if audit.ok else "each failing row names its fix; the node's own table has the details",
        ),
        CheckResult(
            "rolling-plan",
            "pass" if plan.ok else "fail",
            f"{units} rotation units in {len(plan.plan)} waves, replicas before primaries, one node per group at a time",
            "" if plan.ok else "fix the nodes that block the plan (their status says why)",
        ),
        rotated,
    ]


def evidence(audit: FleetReport, rotation: FleetReport) -> dict[str, Any]:
    """Summary-record evidence (docs/summary-json.md): per-node facts and the rotations done."""
    flags = [n.evidence for n in audit.nodes if n.evidence]
    found: dict[str, Any] = {
        "fleet_nodes": [
            {
                "node": n.name,
                "target": n.target,
                "role": n.role,
                "group": n.group,
                "status": n.status,
                "serial": n.serial,
                "not_after": n.not_after,
            }
            for n in audit.nodes
        ],
        "fleet_rotation": [
            {
                "node": n.name,
                "target": n.target,
                "status": n.status,
                "old_serial": n.serial,
                "new_serial": n.new_serial,
            }
            for n in rotation.nodes
        ],
        "rotation": [
            {
                "kind": "server",
                "old_serial": n.serial,
                "new_serial": n.new_serial,
                "ok": True,
                "rolled_back": False,
                "status": n.status,
                "node": n.name,
            }
            for n in rotation.nodes
            if n.status == "rotated"
        ],
    }
    if flags:
        found["mutual_tls_enforced"] = all(bool(f.get("mutual_tls_enforced")) for f in flags)
        found["plaintext_refused"] = all(bool(f.get("plaintext_refused")) for f in flags)
    return found
