"""Many Redis servers at once: audit and diagnose in parallel, rotate rolling (``runbook fleet``).

Modules, one concept each: :mod:`~runbook.fleet.plan` (rolling order: units and waves),
:mod:`~runbook.fleet.run` (the executor over the one-server code), :mod:`~runbook.fleet.report`
(per-node results, summary.json, Prometheus, the expiry timeline), :mod:`~runbook.fleet.target`
(the sandbox fleet or the operator's inventory) (the subcommand is :mod:`runbook.cli.fleet`).
The inventory itself is :mod:`runbook.inventory`.
"""

from __future__ import annotations

from runbook.fleet.plan import Unit, rolling_order, units, waves
from runbook.fleet.report import (
    STATUSES,
    FleetReport,
    NodeResult,
    evidence,
    expiry_timeline,
    verdict,
    write_prometheus,
    write_summary,
)
from runbook.fleet.run import audit, audit_evidence, diagnose_fleet, plan_rotation, rotate
from runbook.fleet.target import FleetTarget, prepare, start_sandbox_fleet

__all__ = [
    "STATUSES",
    "FleetReport",
    "FleetTarget",
    "NodeResult",
    "Unit",
    "audit",
    "audit_evidence",
    "diagnose_fleet",
    "evidence",
    "expiry_timeline",
    "plan_rotation",
    "prepare",
    "rolling_order",
    "rotate",
    "start_sandbox_fleet",
    "units",
    "verdict",
    "waves",
    "write_prometheus",
    "write_summary",
]
