"""The same workloads under the runbook's settings and under the guide's settings."""

from __future__ import annotations

from runbook.bench.pooling import measure_per_command, measure_pooled
from runbook.bench.profiles import Profile
from runbook.bench.report import BenchReport
from runbook.bench.results import ComparisonResult
from runbook.bench.sampling import median, median_opt, per_op
from runbook.bench.servers import BenchServer, BenchServers
from runbook.bench.settings import GUIDE_KEY, RUNBOOK_KEY, SSL_ARGS_CLIENT
from runbook.bench.throughput import measure_throughput, run_redis_benchmark


def measure_comparison(servers: BenchServers, prof: Profile, report: BenchReport) -> list[ComparisonResult]:
    """The same workloads under the runbook's settings and the guide's settings.

    redis-benchmark workloads run back to back (runbook, then guide) so both see the same machine
    load; the redis-py workload reuses the pooled row ``report`` already holds.
    """
    runbook, guide = servers.tls[RUNBOOK_KEY], servers.tls[GUIDE_KEY]
    out = []
    clients = max(prof.clients)
    steady = measure_throughput(runbook, "tls", "get", clients, 1, prof)
    guide_steady = measure_throughput(guide, "tls", "get", clients, 1, prof)
    out.append(
        ComparisonResult(
            f"redis-benchmark GET c={clients}, keep-alive (incl. {clients} handshakes)",
            steady.rps,
            guide_steady.rps,
            steady.server_us_per_op,
            guide_steady.server_us_per_op,
        )
    )

    def churn(target: BenchServer) -> tuple[float, float | None]:
        found, cpu, _client = run_redis_benchmark(
            target,
            test="ping_inline",
            requests=prof.churn_requests,
            clients=4,
            keepalive=False,
            timeout=prof.timeout,
        )
        return found["rps"], per_op(cpu, prof.churn_requests, 1e6)

    pairs = [(churn(runbook), churn(guide)) for _ in range(prof.repeats)]
    out.append(
        ComparisonResult(
            "redis-benchmark PING c=4, new connection per request",
            median([p[0][0] for p in pairs]),
            median([p[1][0] for p in pairs]),
            median_opt([p[0][1] for p in pairs]),
            median_opt([p[1][1] for p in pairs]),
        )
    )
    pooled = next((p for p in report.pooling if p.mode == "pooled" and p.key_type == RUNBOOK_KEY), None)
    pooled = pooled or measure_pooled(runbook, RUNBOOK_KEY, prof)
    per_command = measure_per_command(guide, GUIDE_KEY, prof, SSL_ARGS_CLIENT)
    out.append(
        ComparisonResult(
            "redis-py GET (runbook: shared pool; guide: new redis.Redis(ssl=True, ssl_*=...) per command)",
            pooled.per_second,
            per_command.per_second,
            pooled.server_us_per_op,
            per_command.server_us_per_op,
        )
    )
    return out
