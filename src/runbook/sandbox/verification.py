"""Verify a server with real connections only, as check results: mutual TLS answers, a client
without a certificate is refused, plaintext is refused, the plaintext port is closed, links are up.

:func:`verify` covers every node of the sandbox; :func:`verify_external` an external server
(nothing is started, stopped or changed).
"""

from __future__ import annotations

from typing import Any

import redis

from runbook.client import Endpoint, TlsClientFiles
from runbook.results import CheckResult
from runbook.sandbox.link_checks import links
from runbook.sandbox.probes import plaintext_answers, tls_answers, tls_command
from runbook.sandbox.state import Sandbox


def verify_endpoint(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    name: str = "",
    plaintext_port: int | None = None,
    server_name: str = "localhost",
) -> list[CheckResult]:
    """Real connections to one server: mutual-TLS PING answers, a client without a certificate is
    refused, plaintext is refused on the TLS port (and on ``plaintext_port`` when given).
    TLS connections verify the certificate for ``server_name``."""
    suffix = f":{name}" if name else ""
    ok = tls_answers(host, port, files, server_name=server_name)
    results = [
        CheckResult(
            f"tls-ping{suffix}",
            "pass" if ok else "fail",
            "mutual-TLS PING answered PONG" if ok else "no PONG over mutual TLS",
            "" if ok else "check the TLS port, the certificates and the server log",
        )
    ]
    let_in = tls_answers(host, port, TlsClientFiles(files.ca), server_name=server_name)
    results.append(
        CheckResult(
            f"mutual-tls-enforced{suffix}",
            "fail" if let_in else "pass",
            "a TLS client without a certificate got PONG"
            if let_in
            else "a TLS client without a certificate is refused",
            "set tls-auth-clients yes" if let_in else "",
        )
    )
    plain = plaintext_answers(host, port)
    results.append(
        CheckResult(
            f"plaintext-refused{suffix}",
            "fail" if plain else "pass",
            "plaintext PING answered on the TLS port" if plain else "plaintext on the TLS port is refused",
            "check tls-port" if plain else "",
        )
    )
    if plaintext_port:
        plain = plaintext_answers(host, plaintext_port)
        results.append(
            CheckResult(
                f"plaintext-port{suffix}",
                "fail" if plain else "pass",
                "the plaintext port answers PING" if plain else "the plaintext port does not answer",
                "set port 0" if plain else "",
            )
        )
    return results


def plaintext_port_check(
    host: str, port: int, files: TlsClientFiles, *, server_name: str, name: str = ""
) -> CheckResult:
    """``CONFIG GET port`` over mutual TLS: pass when 0 (no plaintext listener). Opens one connection.

    A server that refuses ``CONFIG`` (renamed or ACL-restricted, as on managed services) gives a
    ``skip``: the plaintext port cannot be told from the client side without it.
    """
    check_id = f"plaintext-port-closed:{name}" if name else "plaintext-port-closed"
    try:
        reply = tls_command(host, port, files, "CONFIG", "GET", "port", server_name=server_name)
    except OSError as exc:
        return CheckResult(
            check_id, "skip", f"CONFIG GET port failed ({' '.join(str(exc).split())}): cannot tell"
        )
    lines = reply.split(b"\r\n")
    if reply.startswith(b"-") or len(lines) < 5:
        why = lines[0][1:].decode(errors="replace") if reply.startswith(b"-") else "no port in the reply"
        return CheckResult(
            check_id, "skip", f"CONFIG GET port refused ({why}): cannot tell the plaintext port"
        )
    value = lines[4].decode(errors="replace")
    if value == "0":
        return CheckResult(check_id, "pass", "CONFIG GET port is 0: no plaintext listener")
    return CheckResult(check_id, "fail", f"plaintext port {value} is open", "set port 0")


def verify_external(endpoint: Endpoint) -> list[CheckResult]:
    """Verify an external server with real connections only (nothing is started, stopped or changed):
    mutual-TLS PING, a client without a certificate refused, plaintext refused on the TLS port,
    and the plaintext port closed when ``CONFIG GET port`` is allowed (else a ``skip``)."""
    ep = endpoint
    results = verify_endpoint(ep.host, ep.port, ep.files, name="target", server_name=ep.server_name)
    return [
        *results,
        plaintext_port_check(ep.host, ep.port, ep.files, server_name=ep.server_name, name="target"),
    ]


def verify(box: Sandbox) -> list[CheckResult]:
    """Verify every node of the sandbox with real connections, then its TLS links."""
    files = box.client_files()
    results: list[CheckResult] = []
    for node in box.nodes:
        results += verify_endpoint("localhost", node.port, files, name=node.name)
        try:
            client = box.client(node)
            got: dict[str, Any] = client.config_get("port")  # type: ignore[assignment]
            port = str(got.get("port", "?"))
            client.close()
        except (redis.RedisError, OSError) as exc:
            port = f"unknown ({' '.join(str(exc).split())})"
        results.append(
            CheckResult(
                f"plaintext-port-closed:{node.name}",
                "pass" if port == "0" else "fail",
                "CONFIG GET port is 0: no plaintext listener"
                if port == "0"
                else f"plaintext port {port} is open",
                "" if port == "0" else "set port 0",
            )
        )
    return results + links(box)
