"""Verify a server with real connections only, as check results: mutual TLS answers, a client
without a certificate is refused, plaintext is refused, the plaintext port is closed, links are up.

:func:`verify` covers every node of the sandbox; :func:`verify_external` an external server
(nothing is started, stopped or changed).
"""

from __future__ import annotations

from typing import Any

import redis

from runbook.client import Endpoint, Mode, TlsClientFiles, wire
from runbook.client.probe import answers_ping, command, ping, plaintext_ping
from runbook.results import CheckResult
from runbook.sandbox.link_checks import links
from runbook.sandbox.state import Sandbox


def verify_endpoint(
    endpoint: Endpoint, *, name: str | None = None, plaintext_port: int | None = None, mode: Mode = "strict"
) -> list[CheckResult]:
    """Real connections to one server: mutual-TLS PING answers, a client without a certificate is
    refused, plaintext is refused on the TLS port (and on ``plaintext_port`` when given).
    TLS connections verify the certificate for ``endpoint.hostname`` in ``mode`` (``compatible`` for a
    deployment the runbook did not build: what Redis and OpenSSL accept, so that a refusal without a
    certificate is really about the certificate); check ids end in ``:name`` (default: the endpoint's
    name) when there is one."""
    label = endpoint.name if name is None else name
    suffix = f":{label}" if label else ""
    ok = answers_ping(endpoint, mode=mode)
    results = [
        CheckResult(
            f"tls-ping{suffix}",
            "pass" if ok else "fail",
            "mutual-TLS PING answered PONG" if ok else "no PONG over mutual TLS",
            "" if ok else "check the TLS port, the certificates and the server log",
        )
    ]
    let_in = answers_ping(endpoint.with_files(TlsClientFiles(endpoint.files.ca)), mode=mode)
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
    plain = plaintext_ping(endpoint).ok
    results.append(
        CheckResult(
            f"plaintext-refused{suffix}",
            "fail" if plain else "pass",
            "plaintext PING answered on the TLS port" if plain else "plaintext on the TLS port is refused",
            "check tls-port" if plain else "",
        )
    )
    if plaintext_port:
        plain = plaintext_ping(endpoint, port=plaintext_port).ok
        results.append(
            CheckResult(
                f"plaintext-port{suffix}",
                "fail" if plain else "pass",
                "the plaintext port answers PING" if plain else "the plaintext port does not answer",
                "set port 0" if plain else "",
            )
        )
    return results


def plaintext_port_check(endpoint: Endpoint, *, name: str = "") -> CheckResult:
    """``CONFIG GET port`` over mutual TLS: pass when 0 (no plaintext listener). Opens one connection.

    A server that refuses ``CONFIG`` (renamed or ACL-restricted, as on managed services) gives a
    ``skip``: the plaintext port cannot be told from the client side without it.
    """
    check_id = f"plaintext-port-closed:{name}" if name else "plaintext-port-closed"
    got = command(endpoint, "CONFIG", "GET", "port")
    if not got.ok:
        return CheckResult(check_id, "skip", f"CONFIG GET port failed ({got.error}): cannot tell")
    if not isinstance(got.value, list) or len(got.value) < 2:
        why = str(got.value) if isinstance(got.value, wire.ReplyError) else "no port in the reply"
        return CheckResult(
            check_id, "skip", f"CONFIG GET port refused ({why}): cannot tell the plaintext port"
        )
    value = wire.text(got.value[1])
    if value == "0":
        return CheckResult(check_id, "pass", "CONFIG GET port is 0: no plaintext listener")
    return CheckResult(check_id, "fail", f"plaintext port {value} is open", "set port 0")


def verify_external(endpoint: Endpoint) -> list[CheckResult]:
    """Verify an external server with real connections only (nothing is started, stopped or changed):
    mutual-TLS PING, a client without a certificate refused, plaintext refused on the TLS port (each
    as Redis-compatible clients connect), the plaintext port closed when ``CONFIG GET port`` is allowed
    (else a ``skip``), and whether strict clients verify it too (a ``warn`` with the reason when not:
    strictness is a finding, never a failed verification)."""
    return [
        *verify_endpoint(endpoint, name="target", mode="compatible"),
        plaintext_port_check(endpoint, name="target"),
        strict_clients_check(endpoint, name="target"),
    ]


def strict_clients_check(endpoint: Endpoint, *, name: str = "") -> CheckResult:
    """Does a strict client (Python 3.13's default context, names in subjectAltName only) get ``PONG``
    where a Redis-compatible one does? ``warn`` with the strict client's reason when not."""
    check_id = f"strict-clients:{name}" if name else "strict-clients"
    if not answers_ping(endpoint, mode="compatible"):
        return CheckResult(check_id, "skip", "Redis-compatible clients do not connect either (see tls-ping)")
    got = ping(endpoint, mode="strict")
    if got.ok and got.value == b"PONG":
        return CheckResult(check_id, "pass", "strict clients (Python 3.13's default context) verify it too")
    return CheckResult(
        check_id,
        "warn",
        f"Redis-compatible clients connect; strict clients (Python 3.13's default context) refuse it: {got.error}",
        "`runbook adopt` names the cause and its fix (`adopt --migrate` moves to the strict profile)",
    )


def verify(box: Sandbox) -> list[CheckResult]:
    """Verify every node of the sandbox with real connections, then its TLS links."""
    files = box.client_files()
    results: list[CheckResult] = []
    for node in box.nodes:
        results += verify_endpoint(node.endpoint.with_files(files))
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
