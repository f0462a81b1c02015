"""The three sandbox topologies and how each is brought up.

``standalone``: one TLS-only primary. ``replica``: a primary and a replica replicating over TLS
(``master_link_status:up`` verified). ``cluster``: three primaries with ``tls-cluster yes``, all
16384 slots assigned, ``cluster_state:ok`` verified on every node. Nodes are appended to the
sandbox as they start, so the caller can stop them all when a later one fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from runbook import workdir
from runbook.errors import RunbookError
from runbook.pki import PkiPaths
from runbook.sandbox.link_checks import wait_links
from runbook.sandbox.node_config import base_conf
from runbook.sandbox.nodes import start_node, wait_node_ready
from runbook.sandbox.ports import cluster_ports, free_port
from runbook.sandbox.probes import command
from runbook.sandbox.state import CLUSTER_SLOTS, LOOPBACK, Node, Sandbox


def start_topology(box: Sandbox, wd: Path, pki: PkiPaths, version: tuple[int, int, int]) -> None:
    """Start the nodes of ``box.topology`` into ``box.nodes`` and wait for their links. Starts processes."""
    if box.topology == "standalone":
        _start_standalone(box, wd, pki)
    elif box.topology == "replica":
        _start_replica(box, wd, pki)
    else:
        _start_cluster(box, wd, pki, version)


def _start_standalone(box: Sandbox, wd: Path, pki: PkiPaths) -> None:
    node_dir = _node_dir(wd, "primary")
    conf = base_conf(node_dir, pki, free_port())
    box.nodes.append(_start(box, "primary", "primary", node_dir, conf, pki))


def _start_replica(box: Sandbox, wd: Path, pki: PkiPaths, timeout: float = 20.0) -> None:
    primary_dir = _node_dir(wd, "primary")
    conf = base_conf(primary_dir, pki, free_port(), replication=True)
    conf["repl-diskless-sync-delay"] = "0"  # the default 5 s would delay the first sync
    primary = _start(box, "primary", "primary", primary_dir, conf, pki)
    box.nodes.append(primary)
    replica_dir = _node_dir(wd, "replica")
    conf = base_conf(replica_dir, pki, free_port(), replication=True)
    conf["replicaof"] = f"{LOOPBACK} {primary.port}"
    box.nodes.append(_start(box, "replica", "replica", replica_dir, conf, pki))
    wait_links(box, timeout)


def _start_cluster(box: Sandbox, wd: Path, pki: PkiPaths, version: tuple[int, int, int]) -> None:
    """Start three cluster nodes in parallel (then wait for each), and form the cluster."""
    for i in range(3):
        name = f"node-{i + 1}"
        node_dir = _node_dir(wd, name)
        port, bus = cluster_ports(version)
        conf = base_conf(node_dir, pki, port, cluster=True)
        conf.update(
            {
                "cluster-enabled": "yes",
                "cluster-config-file": str(node_dir / "nodes.conf"),
                "cluster-node-timeout": "3000",
                "repl-diskless-sync-delay": "0",
            }
        )
        if version >= (7, 0, 0):
            conf["cluster-port"] = str(bus)
        node = start_node(
            name, "primary", node_dir, conf, pki, backend=box.backend, wait=False, image=box.image or None
        )
        node.bus_port = bus
        box.nodes.append(node)
    for node in box.nodes:
        wait_node_ready(node, pki, 30.0)
    form_cluster(box, version)


def form_cluster(box: Sandbox, version: tuple[int, int, int] = (7, 0, 0), timeout: float = 30.0) -> None:
    """Assign the 16384 slots evenly, join the nodes (CLUSTER MEET over TLS), wait for cluster_state:ok."""
    count = len(box.nodes)
    bounds = [round(i * CLUSTER_SLOTS / count) for i in range(count + 1)]
    for i, node in enumerate(box.nodes):
        client = box.client(node)
        try:
            command(client, "CLUSTER", "SET-CONFIG-EPOCH", i + 1)
            first, last = bounds[i], bounds[i + 1] - 1
            if version >= (7, 0, 0):
                command(client, "CLUSTER", "ADDSLOTSRANGE", first, last)
            else:
                command(client, "CLUSTER", "ADDSLOTS", *range(first, last + 1))
        finally:
            client.close()
    for i, node in enumerate(box.nodes[:-1]):  # a full mesh of MEETs: no waiting for gossip
        client = box.client(node)
        try:
            for other in box.nodes[i + 1 :]:
                command(client, "CLUSTER", "MEET", LOOPBACK, other.port, other.bus_port or other.port + 10000)
        finally:
            client.close()
    wait_links(box, timeout)


def _start(box: Sandbox, name: str, role: str, node_dir: Path, conf: dict[str, str], pki: PkiPaths) -> Node:
    """Start one node and wait; a TLS failure of the binary hints at `runbook doctor`."""
    try:
        return start_node(name, role, node_dir, conf, pki, backend=box.backend, image=box.image or None)
    except RunbookError as exc:
        if box.backend == "binary" and "tls" in str(exc).lower():
            raise RunbookError(f"{exc} (is redis-server built with TLS? run `runbook doctor`)") from None
        raise


def _node_dir(wd: Path, name: str) -> Path:
    folder = workdir.sandbox_dir(wd) / name
    if folder.exists():  # a previous run's cluster nodes.conf or RDB must not leak into this one
        shutil.rmtree(folder)
    return folder
