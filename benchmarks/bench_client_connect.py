"""What a new redis-py TLS client costs: redis-py's ``ssl_*`` arguments vs ``runbook.client.redis_client``.

redis-py's ``SSLConnection`` builds a context per connect with ``ssl.create_default_context()`` (it
loads the system CA store each time); ``redis_client`` builds one ``tls_context`` (``ca.crt`` only) per
client. Both do a new client, one mutual-TLS connect and one GET per iteration against a throwaway
sandbox. Prints wall and client CPU time per iteration (median of 3 rounds).
Run: ``.venv/bin/python benchmarks/bench_client_connect.py``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from runbook import client, pki, sandbox, workdir

ROUNDS = 3
PER_ROUND = 50


def per_call(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, client CPU ms) per call, median of ROUNDS rounds of PER_ROUND calls."""
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(ROUNDS):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(PER_ROUND):
            fn()
        walls.append((time.perf_counter() - wall) / PER_ROUND * 1000)
        cpus.append((time.process_time() - cpu) / PER_ROUND * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        work = Path(tmp)
        pki.create_pki(workdir.pki_dir(work), pki.PkiSpec())
        box = sandbox.start(work)
        try:
            files, port = box.client_files(), box.primary.port

            def redis_py_ssl_args() -> None:
                r = redis.Redis(host="localhost", port=port, ssl=True, **client.ssl_kwargs(files))
                r.get("bench:key")
                r.close()

            def runbook_client() -> None:
                r = client.redis_client("localhost", port, files)
                r.get("bench:key")
                r.close()

            print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            for label, fn in (
                ("redis-py ssl_* arguments (SSLConnection)", redis_py_ssl_args),
                ("runbook.client.redis_client (ContextSSLConnection)", runbook_client),
            ):
                wall, cpu = per_call(fn)
                print(f"new client + connect + GET, {label}: {wall:.1f} ms wall, {cpu:.1f} ms client CPU")
        finally:
            sandbox.stop(work)


if __name__ == "__main__":
    main()
