"""Many Redis servers at once: audit and diagnose in parallel, rotate rolling (``runbook fleet``)."""

from runbook.fleet.report import FleetReport, expiry_timeline, verdict, write_prometheus
from runbook.fleet.run import audit, diagnose_fleet, rotate
