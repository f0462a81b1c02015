"""redis-py over TLS: GETs through one shared pool vs a new client (connection) per command.

A new client per command is measured twice, built the two ways an application builds one:

* ``RUNBOOK_CLIENT``: ``runbook.client.redis_client`` (``ContextSSLConnection``, one context that
  trusts only ``ca.crt``, built once per client), so the cost is the connection and its handshake;
* ``SSL_ARGS_CLIENT``: ``redis.Redis(host, port, ssl=True, ssl_ca_certs=..., ssl_certfile=...,
  ssl_keyfile=...)``, what the guides write: redis-py's own ``SSLConnection``, which builds a new
  ``SSLContext`` and loads the system trust store on every connect, on top of the handshake.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from runbook.bench.profiles import Profile
from runbook.bench.results import PoolingResult
from runbook.bench.sampling import bounded, cpu_delta, median, median_opt, per_op, server_cpu_seconds
from runbook.bench.servers import BenchServer
from runbook.bench.settings import CLIENTS, HOSTNAME, RUNBOOK_CLIENT, SSL_ARGS_CLIENT
from runbook.client import redis_client, redis_pool, ssl_kwargs
from runbook.errors import RunbookError


def new_client(target: BenchServer, client: str) -> redis.Redis:
    """A new redis-py client for ``target``, built as ``client`` (one of ``CLIENTS``) says.

    ``SSL_ARGS_CLIENT`` passes ``runbook.client.ssl_kwargs`` (the CA, the client certificate and
    key, hostname check, TLS 1.2+, strict verification), so both clients verify the same things and
    differ only by their connection class. Both time out after 10 s, so a loop stays bounded.
    """
    files = target.files
    if files is None:
        raise RunbookError(
            f"bench server {target.node.name} is plaintext: redis-py TLS clients need a TLS one"
        )
    if client == RUNBOOK_CLIENT:
        return redis_client(HOSTNAME, target.port, files, socket_timeout=10.0)
    if client == SSL_ARGS_CLIENT:
        return redis.Redis(
            host=HOSTNAME,
            port=target.port,
            ssl=True,
            socket_timeout=10.0,
            socket_connect_timeout=10.0,
            **ssl_kwargs(files),
        )
    raise RunbookError(f"unknown bench client {client!r}: choose one of {', '.join(CLIENTS)}")


def _redis_py_loop(
    target: BenchServer,
    mode: str,
    key_type: str,
    fn: Callable[[], Any],
    count: int,
    prof: Profile,
    client: str,
    connection_class: str,
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
        client,
        connection_class,
    )


def measure_pooled(target: BenchServer, key_type: str, prof: Profile) -> PoolingResult:
    """redis-py GETs over TLS through one shared pool (``runbook.client.redis_pool``)."""
    assert target.files is not None
    pool = redis_pool(HOSTNAME, target.port, target.files, max_connections=4)
    client = redis.Redis(connection_pool=pool)
    used = pool.connection_class.__name__
    try:
        client.get("bench:key")  # warm-up: the pool's one handshake
        runs = [
            _redis_py_loop(
                target,
                "pooled",
                key_type,
                lambda: client.get("bench:key"),
                prof.python_commands,
                prof,
                RUNBOOK_CLIENT,
                used,
            )
            for _ in range(prof.repeats)
        ]
    finally:
        pool.disconnect()
    return _median_pooling(runs)


def measure_per_command(
    target: BenchServer, key_type: str, prof: Profile, client: str = RUNBOOK_CLIENT
) -> PoolingResult:
    """redis-py GETs over TLS with a new client, so a new connection, per command.

    ``client``: how each client is built (:func:`new_client`); the result names the connection
    class the clients' pools really used.
    """
    used: set[str] = set()

    def once() -> None:
        conn = new_client(target, client)
        try:
            used.add(conn.connection_pool.connection_class.__name__)
            conn.get("bench:key")
        finally:
            conn.close()

    runs = [
        _redis_py_loop(target, "connect-per-command", key_type, once, prof.per_command, prof, client, "")
        for _ in range(prof.repeats)
    ]
    return _median_pooling(runs, ", ".join(sorted(used)))


def _median_pooling(runs: list[PoolingResult], connection_class: str = "") -> PoolingResult:
    first = runs[0]
    return PoolingResult(
        first.mode,
        first.key_type,
        sum(r.commands for r in runs),
        median([r.per_second for r in runs]),
        median_opt([r.server_us_per_op for r in runs]),
        median([r.client_us_per_op for r in runs]),
        first.client,
        connection_class or first.connection_class,
    )


def measure_pooling(target: BenchServer, key_type: str, prof: Profile) -> list[PoolingResult]:
    """redis-py over TLS: GETs through one shared pool, then a new client per command built each
    way (``CLIENTS``), back to back so all see the same machine load."""
    pooled = measure_pooled(target, key_type, prof)
    return [pooled, *(measure_per_command(target, key_type, prof, client) for client in CLIENTS)]
