"""What the watcher watches: a :class:`WatchTarget` (where a node listens, how to reach it) and the
TLS files the node itself reports reading (``CONFIG GET tls-*``, via :func:`runbook.rotation.discover_node`).

Nodes are handled one at a time in a fixed order: **replicas first, primaries last** (cluster
replicas before cluster primaries). A renewed set that breaks replication then fails on a replica,
whose clients are the fewest, and is rolled back before the primary, which takes the writes, is
touched; this is the order of a rolling upgrade of a Redis replica set.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from runbook import files, rotation
from runbook.client import Endpoint
from runbook.errors import RunbookError

# file roles of a node, in CONFIG SET order; each maps to the Redis parameter that names it
ROLES: tuple[str, ...] = ("cert", "key", "client_cert", "client_key", "ca")
PARAMETER: dict[str, str] = {
    "cert": "tls-cert-file",
    "key": "tls-key-file",
    "client_cert": "tls-client-cert-file",
    "client_key": "tls-client-key-file",
    "ca": "tls-ca-cert-file",
}


@dataclass(frozen=True)
class WatchTarget:
    """One node to watch: its :class:`~runbook.client.Endpoint` (address, the name its certificate
    must cover, the client files to connect with, an operator's label) and its group (nodes of one
    replica set or cluster: reloaded one at a time, a failure holds the rest of the group)."""

    endpoint: Endpoint
    group: str = "default"


@dataclass
class NodeFiles:
    """The TLS files a node reads: the parameter values it reports (for ``CONFIG SET``) and where
    they are on this machine (relative paths resolved against the server's ``dir``)."""

    node: rotation.NodeTarget
    reported: dict[str, str] = field(default_factory=dict)  # role -> value the server reported

    @property
    def roles(self) -> list[str]:
        return [r for r in ROLES if self.reported.get(r)]

    def local(self, role: str) -> Path:
        return self.node.local(self.reported[role])

    def settings(self) -> list[tuple[str, str]]:
        """``CONFIG SET`` pairs naming every file the node reads (its own paths)."""
        return [(PARAMETER[r], self.reported[r]) for r in self.roles]


def parse_node(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:6380`` for IPv6) -> (host, port), or a RunbookError naming the fix."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RunbookError(f"--node {text!r} is not HOST:PORT: e.g. --node 127.0.0.1:6380")
    return host.strip("[]"), int(port)


class NodeUnavailable(RunbookError):
    """A node the watcher cannot watch now; ``state`` says why: ``unreachable`` (nothing answers,
    or the handshake fails), ``unreadable`` (a client file cannot be read here) or ``external``
    (CONFIG hidden, or a Sentinel: its files cannot be reloaded from here)."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


def _check_client_files(target: WatchTarget) -> None:
    tls = target.endpoint.files
    found = files.first_unreadable((("ca", tls.ca), ("cert", tls.cert or ""), ("key", tls.key or "")))
    if found is not None:
        label, path, why = found
        raise NodeUnavailable(
            "unreadable",
            f"{target.endpoint.who}: client {label} file {path} cannot be read ({why}): let this user read it, or fix the path",
        )


def _check_listening(target: WatchTarget, timeout: float = 3.0) -> None:
    """One TCP connect first: a node that is down is reported at once, not after the client's retries."""
    try:
        socket.create_connection((target.endpoint.host, target.endpoint.port), timeout=timeout).close()
    except OSError as exc:
        raise NodeUnavailable(
            "unreachable",
            f"cannot reach {target.endpoint.who} ({exc.strerror or exc}): "
            "check the host and port, and that redis-server runs",
        ) from None


def discover(target: WatchTarget, origin: dict[str, str] | None = None) -> NodeFiles:
    """Ask the node which TLS files it reads. Connects; raises :class:`NodeUnavailable`.

    ``origin``: the paths recorded before a rollback pointed the server at the watcher's copies
    (the server then reports the state-dir copies; the watcher keeps watching the operator's files).
    """
    _check_client_files(target)
    _check_listening(target)
    try:
        ep = target.endpoint
        node = rotation.discover_node(
            ep.host, ep.port, ep.files, name=ep.label, server_hostname=ep.server_name or None
        )
    except (redis.RedisError, OSError) as exc:  # discover_node's client connects before its own try
        raise NodeUnavailable(
            "unreachable",
            f"cannot reach {target.endpoint.who} ({' '.join(str(exc).split())[:160]}): "
            "check --host/--port and that redis-server runs",
        ) from None
    except RunbookError as exc:  # the handshake or INFO failed
        raise NodeUnavailable("unreachable", str(exc)) from None
    if node.mode == "sentinel":
        raise NodeUnavailable(
            "external",
            f"{target.endpoint.who} is a Sentinel: it cannot reload TLS files at runtime, restart it instead "
            "(`runbook rotate server` prints the procedure)",
        )
    reported = {
        "cert": node.cert_file,
        "key": node.key_file,
        "client_cert": node.client_cert_file if node.client_cert_file and node.client_key_file else "",
        "client_key": node.client_key_file if node.client_cert_file and node.client_key_file else "",
        "ca": node.ca_file,
    }
    if origin:
        reported = {r: origin.get(r, "") for r in ROLES}
    if not reported["cert"] or not reported["key"]:
        raise NodeUnavailable(
            "external",
            f"{target.endpoint.who} is external: it does not report its TLS files (CONFIG GET tls-* denied or "
            "renamed), so it cannot be watched from here: renew it with `runbook rotate server --dir PKI "
            f"--host {target.endpoint.host} --port {target.endpoint.port}` (prints the deploy commands; `runbook fleet rotate` "
            "for an inventory), then check it with `runbook rotate verify`",
        )
    return NodeFiles(node, {r: v for r, v in reported.items() if v})


def order(pairs: Sequence[tuple[WatchTarget, NodeFiles | None]]) -> list[int]:
    """Indexes of ``pairs`` in reload order: replicas first, primaries last (stable otherwise)."""

    def rank(i: int) -> tuple[int, int]:
        files = pairs[i][1]
        return (0 if files is not None and files.node.role == "slave" else 1, i)

    return sorted(range(len(pairs)), key=rank)
