"""What a fleet notebook or CLI run works on: the sandbox fleet, or the operator's inventory.

:func:`prepare` is the one place that knows the difference. ``sandbox``: it starts a small fleet
on loopback with :mod:`runbook.sandbox` (a replica group, primary + replica, and a 3-node
cluster, each in its own subfolder of ``<work>/fleet/`` with its own PKI) and writes an
inventory for it; :meth:`FleetTarget.stop` stops exactly what it started (and so does the
interpreter's exit, as a safety net). ``external``: it reads the operator's inventory (or makes a
one-node fleet of the ``redis_host``/``redis_port``/... parameters) and starts nothing; rotation
is then a dry run unless ``apply_external``.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook import display, pki, sandbox, workdir
from runbook.book import rotation_external
from runbook.book.summaries import Summary
from runbook.client import Endpoint, target_endpoint
from runbook.errors import RunbookError
from runbook.fleet import report
from runbook.fleet.report import FleetReport
from runbook.inventory import FleetNode, Inventory, load, select

TARGETS = ("sandbox", "external")
#: The sandbox fleet: (subfolder, topology, certificate validity in days). The replica group's
#: certificates are issued for 90 days so the expiry timeline has a clear first-to-expire.
SANDBOX_FLEET: tuple[tuple[str, str, int], ...] = (("cache", "replica", 90), ("cluster", "cluster", 365))


@dataclass
class FleetTarget:
    """The nodes to work on, where their PKI is, and what was started for them."""

    kind: str
    inventory: Inventory
    nodes: list[FleetNode]
    rotation_dry_run: bool
    started: list[str] = field(default_factory=list)  # sandbox work dirs this process started

    @property
    def label(self) -> str:
        return "sandbox fleet" if self.kind == "sandbox" else Path(self.inventory.path).name

    def table(self) -> display.Table:
        """The nodes as the run sees them: name, host:port, role, group, the name in the certificate."""
        rows = [[n.name, n.target, n.role, n.group, n.endpoint.server_name] for n in self.nodes]
        return display.Table(
            ["node", "target", "role", "group", "server name"], rows, f"{self.label}: {len(rows)} nodes"
        )

    def rotate(self, *, dry_run: bool | None = None, parallel: int = 1) -> FleetReport:
        """The rolling rotation of the nodes (:func:`runbook.fleet.run.rotate`). Writes files, reloads servers.

        A dry run when ``dry_run``, or by default when the target only plans (external without
        ``apply_external``). Under the external target a node with no PKI folder to issue from is
        ``skipped`` (the operator's CA key is elsewhere), not an error.
        """
        from runbook.fleet import run

        return run.rotate(
            self.nodes,
            parallel=parallel,
            dry_run=self.rotation_dry_run if dry_run is None else dry_run,
            inventory=self.inventory.path,
            skip_without_pki=self.kind == "external",
        )

    def audit(self, parallel: int = 4) -> tuple[FleetReport, list[Any]]:
        """The live TLS audit of every node, at most ``parallel`` at once (connects only): the report and
        the per-node audits (:func:`runbook.fleet.run.audit`)."""
        from runbook.fleet import run

        return run.audit(self.nodes, parallel=parallel)

    def stop(self) -> list[int]:
        """Stop the sandboxes :func:`prepare` started (none for ``external``). Idempotent."""
        return _stop(self.started)


@dataclass(frozen=True)
class FleetParams:
    """Notebook 07's parameters, checked and resolved (the work dir; an external single node as its
    :class:`~runbook.client.Endpoint`); :meth:`prepare` makes the fleet."""

    target: str
    work: Path
    inventory: str = ""
    limit: str = ""
    apply_external: bool = False
    endpoint: Endpoint | None = None  # target external without an inventory: the one node
    backend: str = ""

    def prepare(self) -> FleetTarget:
        """The fleet (:func:`prepare`). Sandbox: starts processes (idempotently) and writes an inventory."""
        return _prepare(self)


def from_params(
    work_dir: str | Path | None,
    target: str = "sandbox",
    inventory: str = "",
    limit: str = "",
    apply_external: bool = False,
    redis_host: str = "",
    redis_port: int = 0,
    server_name: str = "",
    ca_file: str = "",
    client_cert: str = "",
    client_key: str = "",
    *,
    backend: str = "",
) -> FleetParams:
    """Notebook 07's parameters checked before anything runs (one RunbookError line naming the fix);
    the work dir resolved (empty: ``$RUNBOOK_WORK_DIR``, else ``build/work``). Starts nothing."""
    _check_params(target, inventory, redis_host)
    endpoint = None
    if target == "external" and not inventory:
        endpoint = target_endpoint(
            "external", redis_host, redis_port, server_name, ca_file, client_cert, client_key
        )
    return FleetParams(
        target, workdir.work_dir(work_dir or None), str(inventory), limit, apply_external, endpoint, backend
    )


def _check_params(target: str, inventory: str | Path, redis_host: str) -> None:
    if target not in TARGETS:
        raise RunbookError(f"unknown target {target!r}: set target to sandbox or external")
    if target == "sandbox" and inventory:
        raise RunbookError("inventory applies to target=external: the sandbox writes its own inventory")
    if target == "external" and not inventory and not redis_host:
        raise RunbookError("target external needs inventory (an inventory file) or redis_host and redis_port")


def expiry_timeline(audit: FleetReport) -> Any:
    """A figure: one bar per node from now to its certificate's notAfter, soonest on top."""
    return report.expiry_timeline(audit)


def write_prometheus(audit: FleetReport, audits: list[Any], work: Path) -> str:
    """Write the fleet audit as a Prometheus textfile to ``<work>/metrics/redis_tls_fleet.prom`` (atomic;
    writes a file) and return its ``redis_tls_fleet_node_ok`` lines."""
    (work / "metrics").mkdir(exist_ok=True)
    prom = report.write_prometheus(audit, work / "metrics" / "redis_tls_fleet.prom", audits)
    return "\n".join(
        line for line in prom.read_text().splitlines() if line.startswith("redis_tls_fleet_node_ok")
    )


def write_run_summary(audit: FleetReport, plan: FleetReport, rotation: FleetReport, work: Path) -> Summary:
    """Notebook 07's verdict (audit, plan, rotation) and record; writes the fleet run's own
    ``<work>/fleet/summary.json`` (the same file ``runbook fleet rotate --summary`` writes)."""
    report.write_summary(rotation, work / "fleet" / "summary.json")
    return Summary("07_fleet", report.verdict(audit, plan, rotation), report.evidence(audit, rotation))


def _stop(dirs: list[str]) -> list[int]:
    stopped: list[int] = []
    for folder in dirs:
        stopped += sandbox.stop(folder)
    return stopped


def prepare(
    *,
    target: str = "sandbox",
    inventory: str | Path = "",
    work_dir: str | Path | None = None,
    limit: str = "",
    apply_external: bool = False,
    redis_host: str = "",
    redis_port: int = 0,
    server_name: str = "",
    ca_file: str = "",
    client_cert: str = "",
    client_key: str = "",
    backend: str = "",
) -> FleetTarget:
    """The fleet for ``target``. Sandbox: starts processes (idempotently) and writes an inventory."""
    return _prepare(
        from_params(
            work_dir, target, str(inventory), limit, apply_external, redis_host, redis_port, server_name,
            ca_file, client_cert, client_key, backend=backend,
        )
    )  # fmt: skip


def _prepare(params: FleetParams) -> FleetTarget:
    limit = params.limit or None
    if params.target == "sandbox":
        path, started = start_sandbox_fleet(params.work, params.backend)
        inv = load(path)
        return FleetTarget("sandbox", inv, select(inv.nodes, limit), False, started)
    one = params.endpoint
    inv = load(params.inventory) if one is None else _single_node(params.work, one)
    return FleetTarget("external", inv, select(inv.nodes, limit), not params.apply_external)


def _single_node(work: Path, endpoint: Endpoint) -> Inventory:
    """A one-node inventory of the notebook's external connection parameters (written to the work dir)."""
    issuing = rotation_external.issuing_pki(endpoint.files.ca)
    cert, key = endpoint.files.cert, endpoint.files.key
    node = {
        "name": endpoint.address,
        "host": endpoint.host,
        "port": endpoint.port,
        "server_name": endpoint.server_name,
        "ca": str(Path(endpoint.files.ca).resolve()),
        **({"cert": str(Path(cert).resolve()), "key": str(Path(key or "").resolve())} if cert else {}),
        **({"pki_dir": str(issuing)} if issuing else {}),
    }
    folder = work / "fleet"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "inventory-external.yml"
    path.write_text(yaml.safe_dump({"nodes": [node]}, sort_keys=False))
    return load(path)


def start_sandbox_fleet(work: Path | str, backend: str = "") -> tuple[Path, list[str]]:
    """Start (or reuse) the sandbox fleet under ``<work>/fleet/`` and write its inventory. Starts processes.

    Returns the inventory path and the sandbox work dirs (one per topology), which the caller stops.
    """
    folder = Path(work) / "fleet"
    started: list[str] = []
    nodes: list[dict[str, object]] = []
    try:
        for sub, topology, days in SANDBOX_FLEET:
            sub_work = folder / sub
            pki_root = workdir.pki_dir(sub_work)
            pki.create_pki(pki_root, pki.PkiSpec(days=days))
            box = sandbox.ensure(sub_work, topology, backend)
            started.append(str(sub_work))
            nodes += _inventory_nodes(sub, box, pki_root, folder)
    except BaseException:
        _stop(started)
        raise
    atexit.register(_stop, list(started))
    path = folder / "inventory.yml"
    header = "# written by runbook.book.fleet.prepare: the sandbox fleet (paths relative to this file)\n"
    path.write_text(header + yaml.safe_dump({"nodes": nodes}, sort_keys=False))
    return path, started


def _inventory_nodes(sub: str, box: sandbox.Sandbox, pki_root: Path, folder: Path) -> list[dict[str, object]]:
    def rel(p: Path) -> str:
        return os.path.relpath(p, folder)

    paths = pki.PkiPaths(pki_root)
    common = {
        "server_name": "localhost",
        "ca": rel(paths.ca_cert),
        "cert": rel(paths.client_cert(pki.DEFAULT_CLIENT)),
        "key": rel(paths.client_key(pki.DEFAULT_CLIENT)),
        "pki_dir": rel(pki_root),
    }
    found: list[dict[str, object]] = []
    for i, node in enumerate(box.nodes, 1):
        if box.topology == "cluster":
            name, role, group = f"{sub}-{i}", "cluster-primary", f"shard-{i}"
        else:
            name, role, group = f"{sub}-{node.name}", node.role, sub
        found.append(
            {"name": name, "host": node.host, "port": node.port, "role": role, "group": group, **common}
        )
    return found
