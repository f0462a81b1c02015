"""The report of one run (:class:`BenchReport`) and its headline figures: TLS cost per workload,
ECDSA over RSA-4096, resumed over full handshakes, pooled over per-command, runbook over guide."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from runbook.bench.results import (
    ComparisonResult,
    HandshakeResult,
    PoolingResult,
    ResumptionResult,
    ThroughputResult,
)
from runbook.bench.settings import (
    CLAIM_HIGH,
    GUIDE_KEY,
    GUIDE_SETTINGS,
    RUNBOOK_CLIENT,
    RUNBOOK_KEY,
    RUNBOOK_SETTINGS,
    SSL_ARGS_CLIENT,
)


@dataclass
class BenchReport:
    """Everything one :func:`measure` run found."""

    profile: str
    redis_version: str
    openssl: str
    cpus: int
    seconds: float = 0.0
    throughput: list[ThroughputResult] = field(default_factory=list)
    handshakes: list[HandshakeResult] = field(default_factory=list)
    resumption: list[ResumptionResult] = field(default_factory=list)
    pooling: list[PoolingResult] = field(default_factory=list)
    comparison: list[ComparisonResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runbook_settings"] = RUNBOOK_SETTINGS
        data["guide_settings"] = GUIDE_SETTINGS
        data["figures"] = figures(self)
        return data

    def throughput_pair(
        self, test: str, clients: int, pipeline: int
    ) -> tuple[ThroughputResult, ThroughputResult]:
        rows = {
            r.transport: r
            for r in self.throughput
            if (r.test, r.clients, r.pipeline) == (test, clients, pipeline)
        }
        return rows["plaintext"], rows["tls"]

    def handshake(self, key_type: str) -> HandshakeResult | None:
        return next((h for h in self.handshakes if h.key_type == key_type), None)

    def resumption_row(
        self, key_type: str, caching: bool, protocol: str, kind: str
    ) -> ResumptionResult | None:
        return next(
            (
                r
                for r in self.resumption
                if (r.key_type, r.session_caching, r.protocol, r.kind) == (key_type, caching, protocol, kind)
            ),
            None,
        )


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def handshake_ratio(report: BenchReport, fast: str = RUNBOOK_KEY, slow: str = GUIDE_KEY) -> float | None:
    """How many times more new connections ``fast`` certificates allow than ``slow`` ones.

    Server CPU based when available (robust on a shared machine), else client-observed rates.
    """
    f, s = report.handshake(fast), report.handshake(slow)
    if f is None or s is None:
        return None
    by_cpu = _ratio(s.server_ms, f.server_ms)
    return by_cpu if by_cpu is not None else _ratio(f.per_second, s.per_second)


def resumption_ratio(report: BenchReport, key_type: str, protocol: str = "TLSv1.3") -> float | None:
    """Resumed over full handshakes (server CPU based when available), caching on."""
    full = report.resumption_row(key_type, True, protocol, "full")
    resumed = report.resumption_row(key_type, True, protocol, "resumed")
    if full is None or resumed is None or not resumed.completed:
        return None
    by_cpu = _ratio(full.server_ms, resumed.server_ms)
    return by_cpu if by_cpu is not None else _ratio(resumed.per_second, full.per_second)


def pooling_ratio(report: BenchReport, client: str = RUNBOOK_CLIENT) -> float | None:
    """Commands/s through the shared pool over those with a new client per command built as ``client``.

    With ``RUNBOOK_CLIENT`` (the default, and the ``pooling`` verdict) both sides use the same
    connection class, so the ratio is what pooling saves; with ``SSL_ARGS_CLIENT`` it is what an
    application that builds a ``redis.Redis(ssl=True, ssl_*=...)`` per command loses.
    """
    pooled = next((p for p in report.pooling if p.mode == "pooled"), None)
    per_command = next(
        (p for p in report.pooling if p.mode == "connect-per-command" and p.client == client), None
    )
    if pooled is None or per_command is None:
        return None
    return _ratio(pooled.per_second, per_command.per_second)


def tls_cost_percent(plain: ThroughputResult, tls: ThroughputResult) -> float:
    """Throughput lost with TLS, in percent of the plaintext throughput."""
    return (1.0 - tls.rps / plain.rps) * 100.0 if plain.rps else 0.0


def cost_rows(report: BenchReport) -> list[dict[str, Any]]:
    """Per workload: plaintext and TLS rps, the loss, server CPU per request, inside 5-10%?"""
    rows = []
    seen = []
    for r in report.throughput:
        key = (r.test, r.clients, r.pipeline)
        if key in seen:
            continue
        seen.append(key)
        plain, tls = report.throughput_pair(*key)
        loss = tls_cost_percent(plain, tls)
        rows.append(
            {
                "workload": plain.workload,
                "plaintext_rps": plain.rps,
                "tls_rps": tls.rps,
                "throughput_loss_pct": loss,
                "server_us_plaintext": plain.server_us_per_op,
                "server_us_tls": tls.server_us_per_op,
                "server_cpu_added_pct": (
                    (tls.server_us_per_op / plain.server_us_per_op - 1.0) * 100.0
                    if tls.server_us_per_op and plain.server_us_per_op
                    else None
                ),
                "claim_holds": loss <= CLAIM_HIGH,
            }
        )
    return rows


def figures(report: BenchReport) -> dict[str, Any]:
    """The headline figures, as plain numbers (what docs/figures.md and the summary record quote)."""
    return {
        "tls_throughput_loss_pct": {
            r["workload"]: round(r["throughput_loss_pct"], 1) for r in cost_rows(report)
        },
        "tls_server_cpu_added_pct": {
            r["workload"]: _round(r["server_cpu_added_pct"]) for r in cost_rows(report)
        },
        "ecdsa_p256_over_rsa4096_new_connections": _round(handshake_ratio(report)),
        "rsa2048_over_rsa4096_new_connections": _round(handshake_ratio(report, "rsa-2048")),
        "resumed_over_full": {kt: _round(resumption_ratio(report, kt)) for kt in (RUNBOOK_KEY, GUIDE_KEY)},
        "pooled_over_connect_per_command": _round(pooling_ratio(report)),
        "pooled_over_connect_per_command_ssl_args": _round(pooling_ratio(report, SSL_ARGS_CLIENT)),
        "runbook_over_guide": {c.workload: _round(c.speedup) for c in report.comparison},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
