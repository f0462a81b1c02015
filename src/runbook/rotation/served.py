"""After an external deploy: does the server present the new certificate and serve mutual TLS?"""

from __future__ import annotations

from pathlib import Path

import redis

from runbook import pki
from runbook.client import TlsClientFiles, redis_client
from runbook.errors import RunbookError
from runbook.results import CheckResult
from runbook.rotation.targets import fingerprint, serial_of, served_certificate


def verify_served(
    host: str,
    port: int,
    pki_dir: Path | str | None = None,
    *,
    server_hostname: str | None = None,
    client: str = pki.DEFAULT_CLIENT,
    tls: TlsClientFiles | None = None,
    expected: Path | str | None = None,
) -> list[CheckResult]:
    """After an external deploy: the server presents the new certificate and serves mutual TLS. Connects.

    The new certificate is ``expected`` (``--new-cert``), else ``<pki>/redis-server.crt`` (the staged
    file); the connection identity is ``tls`` (``--ca --cert --key``), else ``<pki>``'s ``client``.
    """
    if pki_dir is None and (tls is None or expected is None):
        raise RunbookError(
            "rotate verify needs the certificate to expect and an identity: pass --new-cert (the staged "
            "certificate) with --ca --cert --key, or --dir (the staged files' folder)"
        )
    paths = pki.PkiPaths(Path(pki_dir or "."))
    tls = tls or TlsClientFiles.from_pki(paths.root, client)
    want = Path(expected) if expected else paths.server_cert
    if not want.is_file():
        flag = "--new-cert" if expected else "--dir"
        raise RunbookError(f"{flag} {want} not found: pass the certificate the deploy installed")
    expected_cert = pki.load_cert(want)
    served = served_certificate(host, port, tls, server_hostname)
    same = fingerprint(served) == fingerprint(expected_cert)
    results = [
        CheckResult(
            "served-certificate",
            "pass" if same else "fail",
            f"presents serial {serial_of(served)}"
            + ("" if same else f", expected {serial_of(expected_cert)}"),
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
