"""Free loopback ports for sandbox nodes (a TLS port, and a cluster bus port beside it)."""

from __future__ import annotations

import socket

from runbook.errors import RunbookError
from runbook.sandbox.state import LOOPBACK


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def cluster_ports(version: tuple[int, int, int]) -> tuple[int, int]:
    """(TLS port, cluster bus port). Before Redis 7 the bus is always port + 10000."""
    for _ in range(200):
        port = free_port()
        bus = free_port() if version >= (7, 0, 0) else port + 10000
        if bus != port and bus <= 65535 and port_free(bus):
            return port, bus
    raise RunbookError("no free pair of loopback ports for a cluster node: free some ports and retry")
