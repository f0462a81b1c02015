"""Many Redis servers at once: audit and diagnose in parallel, rotate rolling (``runbook fleet``).

Modules, one concept each: :mod:`~runbook.fleet.plan` (rolling order: units and waves),
:mod:`~runbook.fleet.run` (the executor over the one-server code), :mod:`~runbook.fleet.report`
(per-node results, summary.json, Prometheus, the expiry timeline) (notebook 07's sandbox fleet or
the operator's inventory is :mod:`runbook.book.fleet`) (the subcommand is :mod:`runbook.cli.fleet`).
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
from runbook.fleet.run import audit, diagnose_fleet, plan_rotation, rotate

__all__ = [
    "STATUSES",
    "FleetReport",
    "NodeResult",
    "Unit",
    "audit",
    "diagnose_fleet",
    "evidence",
    "expiry_timeline",
    "plan_rotation",
    "rolling_order",
    "rotate",
    "units",
    "verdict",
    "waves",
    "write_prometheus",
    "write_summary",
]
