"""A node's links as an audit sees them: ``INFO replication`` (and ``CLUSTER INFO`` where cluster is on).

A replica whose ``master_link_status`` is not ``up`` answers PING and passes every TLS check, yet serves
stale data and takes no part in failover: an audit that stops at the handshake reports it green. This
module reads the link state over an admin connection made as Redis and OpenSSL accept it (``compatible``
mode: strictness is the other checks' finding, never a reason not to look) and turns it into one result.
Side effects: one connection to the node.
"""

from __future__ import annotations

from typing import Any

import redis

from runbook.client import Endpoint, redis_client
from runbook.results import CheckResult

CHECK_ID = "replication-link"


def admin_info(endpoint: Endpoint, *sections: str, timeout: float = 3.0) -> list[dict[str, Any]]:
    """``INFO <section>`` for each section (``"cluster-info"``: the parsed ``CLUSTER INFO``) over one
    admin connection made as Redis/OpenSSL accept it (compatible mode, no retries). Connects once;
    raises ``redis.RedisError``/``OSError`` when the server cannot be asked."""
    client = redis_client(
        endpoint.host,
        endpoint.port,
        endpoint.files,
        server_hostname=endpoint.hostname,
        socket_timeout=timeout,
        single_connection_client=True,
        mode="compatible",
        retry=None,
    )
    try:
        out: list[dict[str, Any]] = []
        for section in sections:
            if section == "cluster-info":
                reply = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call, unused-ignore]
                out.append(reply if isinstance(reply, dict) else _fields(str(reply)))
            else:
                out.append(client.info(section))  # type: ignore[arg-type, unused-ignore]  # redis-py < 8 types it loosely
        return out
    finally:
        client.close()


def _fields(text: str) -> dict[str, Any]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def link_check(endpoint: Endpoint, timeout: float = 3.0) -> CheckResult:
    """``pass`` for a primary (with its replicas' states) or a replica whose link is up; ``fail`` for a
    replica whose link is down, or a cluster node whose ``cluster_state`` is not ``ok``; ``skip`` when
    ``INFO`` cannot be read (the TLS checks say why)."""
    try:
        info, cluster_section = admin_info(endpoint, "replication", "cluster", timeout=timeout)
        cluster = cluster_section.get("cluster_enabled") in (1, "1")
        state = (
            str(admin_info(endpoint, "cluster-info", timeout=timeout)[0].get("cluster_state", ""))
            if cluster
            else ""
        )
    except (redis.RedisError, OSError, IndexError) as exc:
        return CheckResult(CHECK_ID, "skip", f"INFO not readable: {' '.join(str(exc).split())}")
    if cluster and state != "ok":
        return CheckResult(
            CHECK_ID,
            "fail",
            f"cluster_state:{state or 'unknown'}",
            f"`runbook diagnose --host {endpoint.host} --port {endpoint.port}` on this node and its peers: "
            "the cluster bus needs tls-cluster yes and certificates the peers trust for clientAuth",
        )
    if info.get("role") == "slave":
        link = str(info.get("master_link_status", "down"))
        primary = f"{info.get('master_host')}:{info.get('master_port')}"
        if link == "up":
            return CheckResult(CHECK_ID, "pass", f"replica of {primary}: master_link_status up")
        return CheckResult(
            CHECK_ID,
            "fail",
            f"replica of {primary}: master_link_status {link} (it serves stale data)",
            "the link needs tls-replication yes and a certificate its primary trusts for clientAuth "
            "(tls-client-cert-file); the replica's log names the refusal",
        )
    replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    states = ", ".join(f"{r.get('ip')}:{r.get('port')} {r.get('state')}" for r in replicas)
    detail = f"primary, {len(replicas)} replica(s)" + (f": {states}" if states else "")
    return CheckResult(CHECK_ID, "pass", detail + (", cluster_state:ok" if cluster else ""))
