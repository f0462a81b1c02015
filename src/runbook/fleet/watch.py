"""Watch every node of an inventory for renewed certificate files (``runbook fleet watch``).

Each :class:`~runbook.inventory.FleetNode` becomes a :class:`~runbook.watch.WatchTarget`
(address, the name its certificate must cover, the client files, its replication group, its
inventory name) and :func:`runbook.watch.watch` does the rest, exactly as for one server: settle,
check, one ``CONFIG SET``, verify, roll back; replicas before primaries, one node at a time, a
failure holding the rest of its group. Run with ``keep_going``: a node that cannot be watched
(down, client files unreadable, CONFIG hidden) gets its own status and is retried every
interval; it never stops the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runbook.inventory import FleetNode
from runbook.watch import WatchReport, WatchTarget, watch


def watch_target(node: FleetNode) -> WatchTarget:
    """The watch target of one inventory node (its group is the inventory's replication group)."""
    return WatchTarget(node.endpoint, group=node.group)


def watch_fleet(nodes: Sequence[FleetNode], **options: Any) -> WatchReport:
    """Watch ``nodes`` (``options`` as :func:`runbook.watch.watch`: ``once``, ``interval``, ``settle``,
    ``state_dir``, ``prometheus``, ``poll``, ``stop_event``, ``on_event``). Reloads servers, writes
    the state dir and the Prometheus textfile (labels ``target="host:port"`` and ``node=<name>``)."""
    return watch([watch_target(n) for n in nodes], keep_going=True, **options)
