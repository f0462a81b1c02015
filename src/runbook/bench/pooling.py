"""redis-py over TLS: GETs through one shared pool vs a new client (connection) per command."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from runbook.bench.profiles import Profile
from runbook.bench.results import PoolingResult
from runbook.bench.sampling import bounded, cpu_delta, median, median_opt, per_op, server_cpu_seconds
from runbook.bench.servers import BenchServer
from runbook.bench.settings import HOSTNAME
from runbook.client import redis_client, redis_pool


def _redis_py_loop(
    target: BenchServer, mode: str, key_type: str, fn: Callable[[], Any], count: int, prof: Profile
) -> PoolingResult:
    before, cpu0 = server_cpu_seconds(target.node.pid), time.process_time()
    done, elapsed = bounded(fn, count, prof.max_seconds)
    return PoolingResult(
        mode,
        key_type,
        done,
        done / elapsed,
        per_op(cpu_delta(target.node.pid, before), done, 1e6),
        (time.process_time() - cpu0) / done * 1e6,
    )


def measure_pooled(target: BenchServer, key_type: str, prof: Profile) -> PoolingResult:
    """redis-py GETs over TLS through one shared pool (``runbook.client.redis_pool``)."""
    assert target.files is not None
    pool = redis_pool(HOSTNAME, target.port, target.files, max_connections=4)
    client = redis.Redis(connection_pool=pool)
    try:
        client.get("bench:key")  # warm-up: the pool's one handshake
        runs = [
            _redis_py_loop(
                target, "pooled", key_type, lambda: client.get("bench:key"), prof.python_commands, prof
            )
            for _ in range(prof.repeats)
        ]
    finally:
        pool.disconnect()
    return _median_pooling(runs)


def measure_per_command(target: BenchServer, key_type: str, prof: Profile) -> PoolingResult:
    """redis-py GETs over TLS with a new client, so a new connection, per command."""
    files = target.files
    assert files is not None

    def once() -> None:
        client = redis_client(HOSTNAME, target.port, files)
        try:
            client.get("bench:key")
        finally:
            client.close()

    runs = [
        _redis_py_loop(target, "connect-per-command", key_type, once, prof.per_command, prof)
        for _ in range(prof.repeats)
    ]
    return _median_pooling(runs)


def _median_pooling(runs: list[PoolingResult]) -> PoolingResult:
    first = runs[0]
    return PoolingResult(
        first.mode,
        first.key_type,
        sum(r.commands for r in runs),
        median([r.per_second for r in runs]),
        median_opt([r.server_us_per_op for r in runs]),
        median([r.client_us_per_op for r in runs]),
    )


def measure_pooling(target: BenchServer, key_type: str, prof: Profile) -> list[PoolingResult]:
    """redis-py over TLS: GETs through one shared pool vs a new client per command."""
    return [measure_pooled(target, key_type, prof), measure_per_command(target, key_type, prof)]
