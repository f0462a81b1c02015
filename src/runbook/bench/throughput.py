"""Throughput and latency measured with ``redis-benchmark`` (plaintext vs TLS)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

from runbook.bench.profiles import Profile
from runbook.bench.results import ThroughputResult
from runbook.bench.sampling import children_cpu, cpu_delta, median, median_opt, per_op, server_cpu_seconds
from runbook.bench.servers import BenchServer
from runbook.errors import RunbookError

BENCH_HINT = "install redis-tools (apt-get install redis-tools), Redis >= 6 with TLS"


def redis_benchmark_binary() -> str:
    found = shutil.which("redis-benchmark")
    if not found:
        raise RunbookError(f"redis-benchmark not found on PATH: {BENCH_HINT}")
    return found


def parse_benchmark_csv(text: str) -> dict[str, float]:
    """The last data row of ``redis-benchmark --csv`` as floats (rps, p50_latency_ms, ...)."""
    rows = list(csv.reader(io.StringIO(text.strip())))
    if len(rows) < 2 or rows[0][:2] != ["test", "rps"]:
        raise RunbookError(f"unexpected redis-benchmark output {text.strip()[:80]!r}: {BENCH_HINT}")
    header, last = rows[0], rows[-1]
    return {name: float(value) for name, value in zip(header[1:], last[1:], strict=False)}


def run_redis_benchmark(
    target: BenchServer,
    *,
    test: str,
    requests: int,
    clients: int,
    pipeline: int = 1,
    keepalive: bool = True,
    timeout: float = 60.0,
) -> tuple[dict[str, float], float | None, float]:
    """One redis-benchmark run. Returns (csv figures, server CPU seconds, client CPU seconds)."""
    cmd = [redis_benchmark_binary(), *target.benchmark_args(), "-t", test, "-n", str(requests)]
    cmd += ["-c", str(clients), "-P", str(pipeline), "--csv"]
    if not keepalive:
        cmd += ["-k", "0"]
    before, children = server_cpu_seconds(target.node.pid), children_cpu()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RunbookError(
            f"redis-benchmark {test} -c {clients} -P {pipeline} took over {timeout:.0f}s: "
            "use the quick profile (--quick) or a less loaded machine"
        ) from None
    if proc.returncode != 0 or "rps" not in proc.stdout:
        tail = " ".join((proc.stderr or proc.stdout).split())[-160:]
        raise RunbookError(f"redis-benchmark failed ({tail}): {BENCH_HINT}")
    return parse_benchmark_csv(proc.stdout), cpu_delta(target.node.pid, before), children_cpu() - children


def measure_throughput(
    target: BenchServer, transport: str, test: str, clients: int, pipeline: int, prof: Profile
) -> ThroughputResult:
    """redis-benchmark against one server; the median of ``prof.repeats`` runs."""
    requests = prof.pipeline_requests if pipeline > 1 else prof.requests
    runs = [
        run_redis_benchmark(
            target, test=test, requests=requests, clients=clients, pipeline=pipeline, timeout=prof.timeout
        )
        for _ in range(prof.repeats)
    ]
    return ThroughputResult(
        test=test,
        clients=clients,
        pipeline=pipeline,
        transport=transport,
        requests=requests,
        rps=median([r[0]["rps"] for r in runs]),
        p50_ms=median([r[0]["p50_latency_ms"] for r in runs]),
        p99_ms=median([r[0]["p99_latency_ms"] for r in runs]),
        server_us_per_op=median_opt([per_op(r[1], requests, 1e6) for r in runs]),
        client_us_per_op=median_opt([per_op(r[2], requests, 1e6) for r in runs]),
    )
