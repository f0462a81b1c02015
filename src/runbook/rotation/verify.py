"""What "verified" means after a reload, node by node (and again after a rollback).

* a fresh strict mutual-TLS handshake presents the expected certificate;
* a connection opened before the reload still answers, with the same ``CLIENT ID``;
* replicas of the node (and the node itself as a replica) have ``master_link_status:up``,
  re-linked with the new certificates when asked;
* a cluster node reports ``cluster_state:ok``;
* after a client rotation, a fresh connection with the new client files gets PING answered.

:class:`Verifier` holds the connections opened before any reload; every check adds one row to
the report. Connects to the servers; writes nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from cryptography import x509

from runbook.client import TlsClientFiles, redis_client
from runbook.errors import RunbookError
from runbook.rotation.report import RotationReport
from runbook.rotation.targets import NodeTarget, admin_client, call, fingerprint, served_by, server_info

LINK_TIMEOUT = 20.0


class Verifier:
    """The checks that prove a node serves what it should, over connections opened before the reload."""

    def __init__(
        self,
        report: RotationReport,
        tls: Callable[[], TlsClientFiles],
        nodes: Sequence[NodeTarget],
        server_hostname: str | None,
    ) -> None:
        self.report, self.tls = report, tls
        self.nodes = list(nodes)
        self.server_hostname = server_hostname
        self.clients: dict[str, redis.Redis] = {}
        self.client_ids: dict[str, int] = {}

    def hostname(self, node: NodeTarget) -> str:
        """The name a node's certificate is verified for (the address is always the endpoint's host)."""
        return self.server_hostname or node.endpoint.host

    # -- connections opened before any reload; they must survive it
    def open_sentinels(self) -> None:
        for node in self.nodes:
            c = admin_client(node, self.tls(), self.server_hostname)
            self.clients[node.name] = c
            current: Any = c.client_id()
            self.client_ids[node.name] = int(current)

    def close(self) -> None:
        for c in self.clients.values():
            with contextlib.suppress(Exception):
                c.close()

    def check_served(self, node: NodeTarget, expect: x509.Certificate, prefix: str) -> bool:
        """A fresh strict handshake presents ``expect`` (the new certificate, or the old on rollback)."""
        try:
            served = served_by(node, self.tls(), self.hostname(node))
        except RunbookError as exc:
            self.report.add(f"{prefix}:{node.name}:handshake", "fail", str(exc), "rolled back")
            return False
        same = fingerprint(served) == fingerprint(expect)
        self.report.add(
            f"{prefix}:{node.name}:serial",
            "pass" if same else "fail",
            f"a fresh strict handshake presents the {'old' if prefix == 'rollback' else 'new'} certificate"
            if same
            else "a fresh handshake presents another certificate",
            "" if same else "rolled back; read the server log",
        )
        return same

    def check_old_connection(self, node: NodeTarget, prefix: str) -> bool:
        client = self.clients.get(node.name)
        if client is None:
            return True
        try:
            current: Any = client.client_id()
            same = bool(client.ping()) and int(current) == self.client_ids[node.name]
        except (redis.RedisError, OSError):
            same = False
        self.report.add(
            f"{prefix}:{node.name}:old-connection",
            "pass" if same else "fail",
            "a connection opened before the reload still answers (same CLIENT ID)"
            if same
            else "the connection opened before the reload was dropped",
            "" if same else "clients were disconnected: investigate before retrying",
        )
        return same

    def check_links(self, node: NodeTarget, *, relink: bool, prefix: str) -> bool:
        """Replicas of ``node`` (and ``node`` itself as a replica) re-link and reach ``up``."""
        ok = True
        for other in self.nodes:
            if other.role == "slave" and (other is node or other.master_port == node.endpoint.port):
                ok = self._check_replica_link(other, relink=relink, prefix=prefix) and ok
        if node.mode == "cluster":
            ok = self._check_cluster(node, prefix) and ok
        return ok

    def _check_replica_link(self, replica: NodeTarget, *, relink: bool, prefix: str) -> bool:
        client = self.clients[replica.name]
        try:
            if relink:
                call(client, "CLIENT", "KILL", "TYPE", "master")
            up = wait_link_up(client, LINK_TIMEOUT)
        except (redis.RedisError, OSError):
            up = False
        how = "re-linked with the new certificates, " if relink else ""
        self.report.add(
            f"{prefix}:{replica.name}:replication",
            "pass" if up else "fail",
            f"{how}master_link_status:up" if up else "master_link_status is not up",
            "" if up else "check tls-replication and the link certificates (clientAuth)",
        )
        return up

    def _check_cluster(self, node: NodeTarget, prefix: str) -> bool:
        try:
            state = str(server_info(self.clients[node.name], "cluster").get("cluster_enabled", 0))
            cluster_ok = "cluster_state:ok" in str(call(self.clients[node.name], "CLUSTER", "INFO"))
        except (redis.RedisError, OSError):
            state, cluster_ok = "?", False
        self.report.add(
            f"{prefix}:{node.name}:cluster",
            "pass" if cluster_ok else "fail",
            "cluster_state:ok" if cluster_ok else f"cluster not ok ({state})",
            "" if cluster_ok else "check tls-cluster and the bus certificates",
        )
        return cluster_ok


def wait_link_up(client: redis.Redis, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_info(client, "replication").get("master_link_status") == "up":
            return True
        time.sleep(0.1)
    return False


def client_verify(
    report: RotationReport, node: NodeTarget, tls: TlsClientFiles, server_hostname: str | None
) -> bool:
    """A fresh mutual-TLS connection with ``tls`` gets PING answered (the server accepts the client)."""
    try:
        c = redis_client(
            node.endpoint.host, node.endpoint.port, tls, server_hostname=server_hostname, mode="compatible"
        )
        c.ping()
        c.close()
        report.add(
            f"verify:{node.name}:client", "pass", "the server accepts the new client certificate (PING)"
        )
        return True
    except (redis.RedisError, OSError) as exc:
        report.add(
            f"verify:{node.name}:client",
            "fail",
            f"refused: {' '.join(str(exc).split())[:120]}",
            "rolled back",
        )
        return False
