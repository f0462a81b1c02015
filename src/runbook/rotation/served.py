"""After an external deploy: does the server present the new certificate and serve mutual TLS?"""

from __future__ import annotations

from pathlib import Path

import redis

from runbook import pki
from runbook.client import TlsClientFiles, redis_client
from runbook.results import CheckResult
from runbook.rotation.targets import fingerprint, serial_of, served_certificate


def verify_served(
    host: str,
    port: int,
    pki_dir: Path | str,
    *,
    server_hostname: str | None = None,
    client: str = pki.DEFAULT_CLIENT,
) -> list[CheckResult]:
    """After an external deploy: the server presents ``<pki>/redis-server.crt`` and serves mutual TLS."""
    paths = pki.PkiPaths(Path(pki_dir))
    tls = TlsClientFiles.from_pki(paths.root, client)
    expected = pki.load_cert(paths.server_cert)
    served = served_certificate(host, port, tls, server_hostname)
    same = fingerprint(served) == fingerprint(expected)
    results = [
        CheckResult(
            "served-certificate",
            "pass" if same else "fail",
            f"presents serial {serial_of(served)}" + ("" if same else f", expected {serial_of(expected)}"),
            "" if same else "deploy the files and run the CONFIG SET reload command",
        )
    ]
    try:
        c = redis_client(host, port, tls, server_hostname=server_hostname, mode="compatible")
        c.ping()
        c.close()
        results.append(CheckResult("mutual-tls-ping", "pass", "PING answered over mutual TLS"))
    except (redis.RedisError, OSError) as exc:
        results.append(
            CheckResult("mutual-tls-ping", "fail", " ".join(str(exc).split()), "check the client files")
        )
    return results
