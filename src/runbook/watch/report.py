"""What the watcher saw and did: per-node status and a list of events (plain data, JSON-ready)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# node states; the first ones are healthy
HEALTHY = ("ok", "settling")
STATES = (*HEALTHY, "refused", "missing", "rolled-back", "failed", "unreachable", "unreadable", "external")


@dataclass
class NodeStatus:
    """One node as the watcher last saw it (no secret material)."""

    node: str
    group: str
    target: str = ""  # host:port (the node's label unless it was given a name)
    role: str = ""
    state: str = "ok"
    served_serial: str = ""
    not_after: float = 0.0  # served certificate's notAfter, Unix time
    chain_not_after: float = 0.0  # earliest notAfter of the served leaf and the intermediates served with it
    last_reload: float = 0.0  # Unix time of the last reload attempt
    last_result: str = ""  # reloaded | rolled-back | failed
    reloads: dict[str, int] = field(default_factory=lambda: {"reloaded": 0, "rolled-back": 0, "failed": 0})
    warnings: int = 0  # warning-level checks of renewed sets that were still loaded (each one an event)
    detail: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.state in HEALTHY


@dataclass(frozen=True)
class WatchEvent:
    """Something that happened to one node: a reload, a refusal, files missing, ..."""

    time: float
    node: str
    kind: (
        str  # watching | warning | reloaded | rolled-back | failed | refused | missing | restored | held
        # | unreachable | unreadable | external (the node cannot be watched now: retried every interval)
    )
    status: str  # pass | warn | fail
    detail: str
    fix: str = ""
    old_serial: str = ""
    new_serial: str = ""
    seconds_from_change: float | None = None

    def line(self) -> str:
        fix = f": {self.fix}" if self.fix else ""
        return f"{self.node} {self.kind}: {self.detail}{fix}"


@dataclass
class WatchReport:
    """The run: every node's status, every event, which backend watched the files."""

    nodes: list[NodeStatus] = field(default_factory=list)
    events: list[WatchEvent] = field(default_factory=list)
    backend: str = ""
    passes: int = 0

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.nodes)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def table(self) -> Any:
        """One row per node: name, address, role, group, state, served serial, why and the fix."""
        from runbook.display import Table, mark

        rows = [
            [n.node, n.target, n.role, n.group, mark("pass" if n.ok else "fail") + f" {n.state}",
             n.served_serial, n.detail, n.fix]
            for n in self.nodes
        ]  # fmt: skip
        header = ["node", "target", "role", "group", "state", "serial", "why", "fix"]
        return Table(header, rows, f"watch: {len(rows)} node(s), {self.passes} pass(es)")
