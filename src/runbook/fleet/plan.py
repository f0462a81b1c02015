"""The order of a rolling rotation: rotation units, then waves (pure data, no I/O).

Rules, in this order:

1. **Units.** Nodes whose rotation writes the same files (a replica and its primary reading one
   ``redis-server.crt``, the sandbox's cluster nodes) are one unit: one call of
   :func:`runbook.rotation.rotate` over them, node by node, rolled back together.
2. **Inside a group** (a replication group or a cluster shard, ``group`` in the inventory)
   replicas go before primaries, so a failure stops the run before the primary is touched.
3. **Never two nodes of the same group at once**, and never two units that back up into the
   same PKI folder at once (their ``backups/<UTC stamp>/`` folders would mix).
4. **Waves.** Each unit goes into the first wave after every wave holding a unit it conflicts
   with (rule 3), and a wave holds at most ``parallel`` units. With ``parallel=1`` the waves are
   the units one by one, in order. A run executes wave after wave and starts no further wave
   after a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runbook.inventory import FleetNode

#: Rotation rank inside a group: lower goes first.
ROLE_RANK: dict[str, int] = {
    "replica": 0,
    "cluster-replica": 0,
    "standalone": 1,
    "cluster-primary": 1,
    "primary": 2,
    "sentinel": 3,
}


@dataclass(frozen=True)
class Unit:
    """Nodes rotated by one ``rotation.rotate`` call, in order; ``lock`` is the PKI folder it backs up into."""

    nodes: tuple[str, ...]
    groups: frozenset[str]
    lock: str

    def conflicts(self, other: Unit) -> bool:
        return bool(self.groups & other.groups) or self.lock == other.lock


def rolling_order(nodes: Sequence[FleetNode]) -> list[FleetNode]:
    """Groups in inventory order (first appearance); inside a group replicas first, primary last."""
    first_seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        first_seen.setdefault(node.group, i)
    index = {n.name: i for i, n in enumerate(nodes)}
    return sorted(nodes, key=lambda n: (first_seen[n.group], ROLE_RANK.get(n.role, 1), index[n.name]))


def units(ordered: Sequence[FleetNode], shares: Mapping[str, str], locks: Mapping[str, str]) -> list[Unit]:
    """Rotation units from nodes in rolling order.

    ``shares`` maps a node name to the key of the files its rotation writes (nodes with the same
    key form one unit, in the order given); ``locks`` maps a node name to its PKI folder.
    """
    by_key: dict[str, list[FleetNode]] = {}
    for node in ordered:
        by_key.setdefault(shares.get(node.name, f"node:{node.name}"), []).append(node)
    found: list[Unit] = []
    for members in by_key.values():
        found.append(
            Unit(
                tuple(n.name for n in members),
                frozenset(n.group for n in members),
                locks.get(members[0].name, ""),
            )
        )
    return found


def waves(plan_units: Sequence[Unit], parallel: int = 1) -> list[list[Unit]]:
    """Schedule units into waves (rules 3 and 4 of the module docstring). ``parallel`` >= 1."""
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    scheduled: list[list[Unit]] = []
    for unit in plan_units:
        start = 0
        for i, wave in enumerate(scheduled):
            if any(unit.conflicts(other) for other in wave):
                start = i + 1
        while start < len(scheduled) and len(scheduled[start]) >= parallel:
            start += 1
        if start == len(scheduled):
            scheduled.append([])
        scheduled[start].append(unit)
    return scheduled
