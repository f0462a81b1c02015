"""The TLS links between nodes: replication (``master_link_status``) and the cluster bus (``CLUSTER INFO``)."""

from __future__ import annotations

import time
from typing import Any

import redis

from runbook.errors import RunbookError
from runbook.results import CheckResult
from runbook.sandbox.probes import command
from runbook.sandbox.state import CLUSTER_SLOTS, Node, Sandbox


def links(box: Sandbox) -> list[CheckResult]:
    """The state of the TLS links between nodes: replication (replica) or cluster bus (cluster)."""
    results: list[CheckResult] = []
    try:  # a node that stops answering midway keeps the results of the ones before it
        if box.topology == "replica":
            for node in box.nodes[1:]:
                results.append(_replication_link(box, node))
        elif box.topology == "cluster":
            for node in box.nodes:
                results.append(_cluster_state(box, node))
    except (redis.RedisError, OSError) as exc:
        results.append(CheckResult("links", "fail", " ".join(str(exc).split()), "restart the sandbox"))
    return results


def _replication_link(box: Sandbox, node: Node) -> CheckResult:
    info = _info(box, node, "replication")
    status = str(info.get("master_link_status", "down"))
    return CheckResult(
        f"replication-link:{node.name}",
        "pass" if status == "up" else "fail",
        f"master_link_status:{status} (replica of {box.primary.name}, over TLS)",
        "" if status == "up" else f"read {node.log_path}",
    )


def _cluster_state(box: Sandbox, node: Node) -> CheckResult:
    ci = cluster_info(box, node)
    ok = (
        ci.get("cluster_state") == "ok"
        and ci.get("cluster_slots_assigned") == str(CLUSTER_SLOTS)
        and ci.get("cluster_known_nodes") == str(len(box.nodes))
    )
    return CheckResult(
        f"cluster-state:{node.name}",
        "pass" if ok else "fail",
        f"cluster_state:{ci.get('cluster_state')}, slots {ci.get('cluster_slots_assigned')}"
        f"/{CLUSTER_SLOTS}, {ci.get('cluster_known_nodes')} nodes (tls-cluster yes)",
        "" if ok else f"read {node.log_path}",
    )


def _info(box: Sandbox, node: Node, section: str) -> dict[str, Any]:
    client = box.client(node)
    try:
        info: dict[str, Any] = command(client, "INFO", section)
        return info
    finally:
        client.close()


def cluster_info(box: Sandbox, node: Node) -> dict[str, str]:
    """``CLUSTER INFO`` of ``node`` as a dict (one mutual-TLS connection)."""
    client = box.client(node)
    try:
        text = str(command(client, "CLUSTER", "INFO"))
    finally:
        client.close()
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


def wait_links(box: Sandbox, timeout: float) -> None:
    """Poll until every link check passes; raise with the failing checks and the fix."""
    deadline = time.monotonic() + timeout
    results: list[CheckResult] = []
    while time.monotonic() < deadline:
        results = links(box)
        if results and all(r.ok for r in results):
            return
        time.sleep(0.1)
    bad = "; ".join(f"{r.id}: {r.detail}" for r in results if not r.ok)
    hint = next((r.fix for r in results if r.fix), "read the node logs")
    raise RunbookError(f"{box.topology} links not up over TLS within {timeout:.0f}s ({bad}): {hint}")
