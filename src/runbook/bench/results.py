"""One row type per measurement: throughput, new connections, resumption, pooling, and the
runbook-vs-guide comparison. Plain data."""

from __future__ import annotations

from dataclasses import dataclass

from runbook.bench.settings import RUNBOOK_CLIENT


@dataclass(frozen=True)
class ThroughputResult:
    """One redis-benchmark run (median of the repeats) against one transport."""

    test: str
    clients: int
    pipeline: int
    transport: str  # plaintext | tls
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_us_per_op: float | None
    client_us_per_op: float | None

    @property
    def workload(self) -> str:
        return f"{self.test.upper()} c={self.clients} P={self.pipeline}"


@dataclass(frozen=True)
class HandshakeResult:
    """New mutual-TLS connections (handshake + PING + close), one after another, one key type."""

    key_type: str
    protocol: str
    connections: int
    per_second: float  # client-observed
    server_ms: float | None  # server CPU per new connection
    client_ms: float  # Python client CPU per new connection

    @property
    def server_capacity(self) -> float | None:
        """New connections per second one server core could accept (1 / server CPU)."""
        return 1000.0 / self.server_ms if self.server_ms else None


@dataclass(frozen=True)
class ResumptionResult:
    """Full or resumed handshakes against a server with ``tls-session-caching`` on or off."""

    key_type: str
    session_caching: bool
    protocol: str
    kind: str  # full | resumed
    attempts: int
    completed: int
    reused: int  # connections whose SSLSocket.session_reused was True
    per_second: float
    server_ms: float | None
    error: str = ""


@dataclass(frozen=True)
class PoolingResult:
    """redis-py GETs over TLS: a shared pool vs a new client (connection) per command.

    ``client`` says how the clients were built (``RUNBOOK_CLIENT`` or ``SSL_ARGS_CLIENT``) and
    ``connection_class`` names the redis-py connection class their pool really used.
    """

    mode: str  # pooled | connect-per-command
    key_type: str
    commands: int
    per_second: float
    server_us_per_op: float | None
    client_us_per_op: float
    client: str = RUNBOOK_CLIENT
    connection_class: str = ""


@dataclass(frozen=True)
class ComparisonResult:
    """One workload under the runbook's settings and under the guide's settings."""

    workload: str
    runbook_ops: float
    guide_ops: float
    runbook_server_us: float | None
    guide_server_us: float | None

    @property
    def speedup(self) -> float:
        """Runbook ops/s divided by guide ops/s (> 1: the runbook is faster)."""
        return self.runbook_ops / self.guide_ops if self.guide_ops else float("inf")

    @property
    def cpu_saving(self) -> float | None:
        """Guide server CPU per op divided by the runbook's (> 1: the runbook is cheaper)."""
        if not self.runbook_server_us or not self.guide_server_us:
            return None
        return self.guide_server_us / self.runbook_server_us
