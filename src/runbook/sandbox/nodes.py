"""One node, whichever backend runs it: start, wait until ready, alive?, stop."""

from __future__ import annotations

from pathlib import Path

from runbook.pki import PkiPaths
from runbook.sandbox.binary import start_process, stop_process
from runbook.sandbox.docker import container_running, start_container, stop_container, wait_container
from runbook.sandbox.readiness import pid_alive, wait_ready
from runbook.sandbox.state import Node


def start_node(
    name: str,
    role: str,
    node_dir: Path,
    directives: dict[str, str],
    pki: PkiPaths,
    *,
    timeout: float = 10.0,
    wait: bool = True,
    backend: str = "binary",
    image: str | None = None,
) -> Node:
    """Write ``redis.conf`` from ``directives`` and start redis-server on it. Starts a process.

    Waits until a mutual-TLS PING answers; if the server exits first, raises a RunbookError
    quoting the last log line (the server's own reason). ``backend="docker"`` runs ``image`` (default:
    the locally built one) instead: host network, the PKI read-only and the node folder at their host paths.
    """
    if backend == "docker":
        return start_container(name, role, node_dir, directives, pki, timeout=timeout, wait=wait, image=image)
    return start_process(name, role, node_dir, directives, pki, timeout=timeout, wait=wait)


def wait_node_ready(node: Node, pki: PkiPaths, timeout: float) -> None:
    """Block until a node started with ``wait=False`` answers a mutual-TLS PING (or raise why not)."""
    if node.container:
        wait_container(node, pki, timeout)
    else:
        wait_ready(node, pki, timeout=timeout)


def node_alive(node: Node) -> bool:
    """True while the node's process (or container) runs."""
    if node.container:
        return container_running(node)
    return pid_alive(node.pid)


def stop_node(node: Node, timeout: float = 10.0) -> None:
    """Stop a node's process (SIGTERM, then SIGKILL after ``timeout``) or container. Idempotent."""
    if node.container:
        stop_container(node, timeout)
    else:
        stop_process(node, timeout)
