"""Handshake cost: full mutual-TLS handshakes per key type, and session resumption (full vs
resumed, with ``tls-session-caching`` on and off)."""

from __future__ import annotations

import ssl
import time

from runbook.bench.connection import client_ctx, tls_ping
from runbook.bench.profiles import Profile
from runbook.bench.results import HandshakeResult, ResumptionResult
from runbook.bench.sampling import bounded, cpu_delta, median, median_opt, per_op, server_cpu_seconds
from runbook.bench.servers import BenchServer
from runbook.errors import RunbookError


def measure_handshakes(target: BenchServer, key_type: str, prof: Profile) -> HandshakeResult:
    """Full mutual-TLS handshakes, one connection after another, with a Python client."""
    assert target.files is not None
    ctx, endpoint = client_ctx(target.files), target.endpoint

    def once() -> None:
        if tls_ping(ctx, endpoint).reused:
            raise RunbookError("a connection without a session was resumed: report this as a bug")

    protocol = tls_ping(ctx, endpoint).protocol  # warm-up, and the protocol negotiated
    runs = []
    for _ in range(prof.repeats):
        before, cpu0 = server_cpu_seconds(target.node.pid), time.process_time()
        done, elapsed = bounded(once, prof.handshakes, prof.max_seconds)
        runs.append(
            (
                done,
                done / elapsed,
                per_op(cpu_delta(target.node.pid, before), done, 1e3),
                (time.process_time() - cpu0) / done * 1e3,
            )
        )
    return HandshakeResult(
        key_type=key_type,
        protocol=protocol,
        connections=sum(r[0] for r in runs),
        per_second=median([r[1] for r in runs]),
        server_ms=median_opt([r[2] for r in runs]),
        client_ms=median([r[3] for r in runs]),
    )


def measure_resumption(
    target: BenchServer, key_type: str, caching: bool, protocol: str, prof: Profile
) -> list[ResumptionResult]:
    """Full handshakes, then resumed ones (each reusing the newest ``SSLSession``)."""
    assert target.files is not None
    ctx, endpoint = client_ctx(target.files, protocol), target.endpoint
    results = []
    for kind in ("full", "resumed"):
        reused = 0
        error = ""
        session: ssl.SSLSession | None = None

        def once(kind: str = kind) -> None:
            nonlocal reused, session
            ping = tls_ping(ctx, endpoint, session if kind == "resumed" else None)
            reused += ping.reused
            if kind == "resumed":
                session = ping.session

        try:
            if kind == "resumed":
                session = tls_ping(ctx, endpoint).session  # a first full handshake yields it
            before = server_cpu_seconds(target.node.pid)
            done, elapsed = bounded(once, prof.handshakes, prof.max_seconds)
            per_second = done / elapsed
            server_ms = per_op(cpu_delta(target.node.pid, before), done, 1e3)
        except (ssl.SSLError, OSError) as exc:
            done, per_second, server_ms = 0, 0.0, None
            error = " ".join(str(exc).split())
        results.append(
            ResumptionResult(
                key_type, caching, protocol, kind, prof.handshakes, done, reused, per_second, server_ms, error
            )
        )
    return results
