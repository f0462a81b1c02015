"""The redis-py mistakes of common guides, proved live against a server (notebook 03)."""

from __future__ import annotations

from typing import Any

import redis

from runbook.client.clients import redis_pool
from runbook.client.contexts import Mode, TlsClientFiles, tls_context
from runbook.results import CheckResult


def common_mistakes(
    host: str, port: int, files: TlsClientFiles, *, skip_reason: str = "", mode: Mode = "strict"
) -> list[CheckResult]:
    """Prove, live, that the redis-py mistakes of common guides fail (each ``pass`` = fails as documented).

    Side effects: connections to the server, and one key ``runbook:mistakes`` written with a 60 s TTL
    (never on a replica, which is read-only: that check is a ``skip`` there). With ``skip_reason``
    (see :func:`redis_py_skip_reason`) the check that needs a verified connection is a ``skip`` and
    nothing is written. ``mode``: how the verified connection checks the server (``compatible`` for
    a deployment the runbook did not build: the mistake shown is about redis-py, not the CA).
    """
    results = []
    try:
        redis.Redis(host=host, port=port, ssl_context=tls_context(files))  # type: ignore[call-arg]
        results.append(CheckResult("ssl_context=", "fail", "accepted: this redis-py has ssl_context"))
    except TypeError as exc:
        results.append(CheckResult("ssl_context=", "pass", f"TypeError: {exc}", "use the ssl_* arguments"))
    pool = redis.ConnectionPool(host=host, port=port, ssl=True, ssl_ca_certs=files.ca, socket_timeout=5)
    try:
        redis.Redis(connection_pool=pool).ping()
        results.append(CheckResult("ConnectionPool(ssl=True)", "fail", "connected"))
    except TypeError as exc:
        results.append(
            CheckResult(
                "ConnectionPool(ssl=True)",
                "pass",
                f"created fine, first command: TypeError: {exc}",
                "connection_class=SSLConnection",
            )
        )
    finally:
        pool.disconnect()
    if skip_reason:
        results.append(CheckResult("decode_responses beside connection_pool=", "skip", skip_reason))
        return results
    raw_pool = redis_pool(host, port, files, decode_responses=False, mode=mode)
    try:
        r = redis.Redis(connection_pool=raw_pool, decode_responses=True)
        replication: dict[str, Any] = r.info("replication")  # type: ignore[assignment, unused-ignore]  # redis-py < 8 types it loosely
        if replication.get("role") == "slave":
            results.append(
                CheckResult(
                    "decode_responses beside connection_pool=",
                    "skip",
                    "the server is a read-only replica: nothing is written to it (run against its primary)",
                )
            )
            return results
        r.set("runbook:mistakes", "v", ex=60)
        value = r.get("runbook:mistakes")
        ignored = isinstance(value, bytes)
        results.append(
            CheckResult(
                "decode_responses beside connection_pool=",
                "pass" if ignored else "fail",
                f"ignored: GET returned {value!r}" if ignored else f"honoured: GET returned {value!r}",
                "set decode_responses on the pool",
            )
        )
    finally:
        raw_pool.disconnect()
    return results
