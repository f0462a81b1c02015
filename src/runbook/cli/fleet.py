"""``python -m runbook fleet audit|diagnose|rotate|watch``: the fleet subcommands (argparse).

Registered in :data:`runbook.cli.COMMAND_GROUPS`. Exit codes as everywhere: 0 every node
succeeded, 1 some node did not (its status says why), 2 usage or a bad inventory (one line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from runbook import display
from runbook.cli import watch as watch_cli
from runbook.cli.common import Subparsers, connection_identity, print_json


def add_selection_options(p: argparse.ArgumentParser) -> None:
    """The inventory and ``--limit``: which nodes (every fleet subcommand)."""
    p.add_argument("--inventory", required=True, help="runbook fleet YAML or Ansible inventory (YAML or INI)")
    p.add_argument(
        "--limit", metavar="PATTERN", help="hosts/groups, globs, !exclude, &intersect (comma-separated)"
    )


def add_inventory_options(p: argparse.ArgumentParser, parallel_default: int) -> None:
    """The options audit, diagnose and rotate share (inventory, selection, bound, outputs)."""
    add_selection_options(p)
    p.add_argument(
        "--parallel", type=int, default=parallel_default, metavar="N",
        help=f"at most N nodes at once (default {parallel_default})",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the run's summary.json on stdout")
    p.add_argument("--summary", metavar="FILE", help="write the run's summary.json to FILE (atomic)")
    p.add_argument(
        "--prometheus", metavar="FILE", help="write node_exporter textfile metrics per target (atomic)"
    )
    p.add_argument(
        "--details", action="store_true", help="print every node's own table (default: failed nodes)"
    )


def register(subparsers: Subparsers) -> Any:
    """Add ``fleet`` and its subcommands to the CLI's subparsers; returns the ``fleet`` subcommand set.

    Further fleet subcommands are added to the returned set with :func:`add_inventory_options`
    (or :func:`add_selection_options`) and read their nodes with :func:`selected_nodes`.
    """
    DEFAULT_PARALLEL = 8  # runbook.fleet.run.DEFAULT_PARALLEL (not imported: keeps the CLI's start light)

    p = subparsers.add_parser("fleet", help="audit, diagnose or rotate every server of an inventory")
    s = p.add_subparsers(dest="fleet_command", required=True)
    a = s.add_parser("audit", help="the live TLS audit of every node, in parallel")
    add_inventory_options(a, DEFAULT_PARALLEL)
    a.add_argument("--warn-days", type=int, default=30, help="warn when a certificate expires sooner")
    a.add_argument("--timeout", type=float, default=3.0, help="seconds per connection (default 3)")
    a.add_argument("--no-cipher-scan", action="store_true", help="skip the sslyze TLS 1.2 cipher enumeration")
    a.set_defaults(func=_cmd_audit)
    d = s.add_parser("diagnose", help="why TLS to each node fails (cause and fix), in parallel")
    add_inventory_options(d, DEFAULT_PARALLEL)
    d.add_argument("--timeout", type=float, default=3.0, help="seconds per connection (default 3)")
    d.set_defaults(func=_cmd_diagnose)
    r = s.add_parser("rotate", help="rolling server-certificate rotation; stops at the first failure")
    add_inventory_options(r, 1)
    r.add_argument(
        "--dir", help="the runbook's own layout (ca.crt, ca.key, clients/) for nodes without pki_dir"
    )
    r.add_argument(
        "--ca", help="CA file the clients trust (redis-cli --cacert), instead of the inventory's ca"
    )
    r.add_argument(
        "--cert", help="client certificate to connect with (mutual TLS), instead of the inventory's"
    )
    r.add_argument("--key", help="its private key")
    r.add_argument(
        "--ca-key",
        help="key of the CA that issues the server certificates (any file name), for nodes without pki_dir",
    )
    r.add_argument(
        "--new-cert",
        help="install this renewed certificate (leaf, then intermediates) instead of issuing one",
    )
    r.add_argument("--new-key", help="the renewed certificate's private key (unencrypted PEM)")
    r.add_argument("--dry-run", action="store_true", help="plan and preflight every node: nothing written")
    r.add_argument(
        "--if-expiring-within", type=int, metavar="DAYS", help="rotate only nodes expiring within DAYS"
    )
    r.add_argument(
        "--days", type=int, default=365, help="validity of the re-issued certificates (default 365)"
    )
    r.set_defaults(func=_cmd_rotate)
    w = s.add_parser(
        "watch",
        help="reload every node when its renewed certificate files appear (runbook watch over the inventory)",
        description="runbook watch over the inventory's nodes: one node at a time, replicas first; a node "
        "that cannot be watched gets its status and is retried. No --parallel: reloads are never parallel.",
    )
    add_selection_options(w)
    watch_cli.add_watch_options(w)
    w.set_defaults(func=_cmd_watch)
    return s


def selected_nodes(a: argparse.Namespace) -> tuple[str, list[Any]]:
    """(inventory path, the nodes ``--limit`` selects) for parsed fleet options; RunbookError when bad."""
    from runbook import inventory

    inv = inventory.load(a.inventory)
    return inv.path, inv.limit(a.limit)


def _finish(a: argparse.Namespace, report: Any, audits: list[Any] | None = None) -> int:
    from runbook.fleet import report as reports

    if a.summary:
        reports.write_summary(report, a.summary)
    if a.prometheus:
        reports.write_prometheus(report, a.prometheus, audits or [])
    if a.json:
        print_json(report.to_dict())
        return report.exit_code  # type: ignore[no-any-return]
    if report.plan:
        print(report.plan_table().text(display.TERMINAL_WIDTH), end="\n\n")
    good = reports.OK_STATUSES[report.action]
    for node in report.nodes:
        if (a.details or node.status not in good or node.commands) and node.checks:
            print(node.table().text(display.TERMINAL_WIDTH), end="\n\n")
        for line in node.commands:
            print(line)
        if node.commands:
            print()
    print(report.verdict_table().text(display.TERMINAL_WIDTH))
    if report.stopped_at:
        print(f"\nstopped at {report.stopped_at}: later nodes were not started", file=sys.stderr)
    return report.exit_code  # type: ignore[no-any-return]


def _cmd_audit(a: argparse.Namespace) -> int:
    from runbook.errors import RunbookError
    from runbook.fleet import run

    if a.warn_days < 0:
        raise RunbookError(f"--warn-days must be 0 or more, got {a.warn_days}")
    path, nodes = selected_nodes(a)
    report, audits = run.audit(
        nodes, parallel=a.parallel, warn_days=a.warn_days, timeout=a.timeout,
        scan_ciphers=not a.no_cipher_scan, inventory=path, limit=a.limit,
    )  # fmt: skip
    return _finish(a, report, audits)


def _cmd_diagnose(a: argparse.Namespace) -> int:
    from runbook.fleet import run

    path, nodes = selected_nodes(a)
    return _finish(
        a, run.diagnose_fleet(nodes, parallel=a.parallel, timeout=a.timeout, inventory=path, limit=a.limit)
    )


def _cmd_rotate(a: argparse.Namespace) -> int:
    from runbook.fleet import run

    identity = connection_identity(a)
    material = run.Material(*(Path(f) if f else None for f in (a.ca_key, a.new_cert, a.new_key)))
    _check_material(a, identity)
    path, nodes = selected_nodes(a)
    report = run.rotate(
        nodes, pki_dir=a.dir, parallel=a.parallel, dry_run=a.dry_run,
        if_expiring_within=a.if_expiring_within, days=a.days, inventory=path, limit=a.limit,
        material=material, client_files=identity,
    )  # fmt: skip
    return _finish(a, report)


def _check_material(a: argparse.Namespace, identity: Any) -> None:
    """Every file named on the command line is there, and pairs come together: one line otherwise."""
    from runbook.errors import RunbookError

    if bool(a.new_cert) != bool(a.new_key):
        raise RunbookError("pass --new-cert and --new-key together (the new certificate and its key)")
    named = [("--ca-key", a.ca_key), ("--new-cert", a.new_cert), ("--new-key", a.new_key)]
    if identity is not None:
        named = [("--ca", identity.ca), ("--cert", identity.cert), ("--key", identity.key), *named]
    for flag, value in named:
        if value and not Path(value).is_file():
            raise RunbookError(f"{flag} {value} not found: pass the file the deployment uses")


def _cmd_watch(a: argparse.Namespace) -> int:
    """`runbook watch` over the inventory: each node's endpoint, grouped by its replication group."""
    from runbook.watch.target import WatchTarget

    path, nodes = selected_nodes(a)
    targets = [WatchTarget(n.endpoint, group=n.group) for n in nodes]
    return watch_cli.run_watch(a, targets, fleet={"inventory": path, "limit": a.limit})
