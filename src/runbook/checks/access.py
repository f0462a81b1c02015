"""``client-cert-required`` and ``plaintext-refused``: who else gets in besides a mutual-TLS client.

A TLS 1.3 server that rejects a client without a certificate says so only after the client's
handshake completed, so the no-certificate probe waits briefly for that alert before sending PING.
Plaintext is tried on the TLS port, on ``--plaintext-port`` and on the port ``CONFIG GET port``
reports (when CONFIG is allowed).
"""

from __future__ import annotations

from typing import Any

from runbook.checks.probes import ProbeTarget, _context, _handshake, _plaintext_ping, _resp
from runbook.checks.verdicts import Add
from runbook.client import TlsClientFiles


def _client_cert_check(add: Add, evidence: dict[str, Any], t: ProbeTarget) -> None:
    anon = t.probe(_context(t.files, verify=False, client_cert=False), b"PING\r\n", settle=1.0)
    evidence["mutual_tls_enforced"] = not (anon.ok and anon.reply)
    if anon.ok and anon.reply:
        add(
            "client-cert-required",
            "fail",
            f"a client without a certificate got {anon.reply.decode(errors='replace').strip()}",
            "set tls-auth-clients yes",
        )
    else:
        why = anon.error or "connection closed before a reply"
        add("client-cert-required", "pass", f"a client without a certificate was refused: {why}")


def _plaintext_check(
    add: Add, evidence: dict[str, Any], t: ProbeTarget, plaintext_port: int | None, connected: bool
) -> None:
    """``connected``: the verified mutual-TLS handshake worked, so ``CONFIG GET port`` can be asked."""
    answered: list[str] = []
    refused: list[str] = []
    ports: list[tuple[int, str]] = [(t.port, "TLS port")]
    if plaintext_port:
        ports.append((plaintext_port, "--plaintext-port"))
    configured = (
        _configured_plaintext_port(t.host, t.port, t.files, t.name, t.timeout, t.auth) if connected else None
    )
    if configured and configured not in {p for p, _ in ports}:
        ports.append((configured, "CONFIG GET port"))
    for p, label in ports:
        kind, why = _plaintext_ping(t.host, p, t.timeout)
        (answered if kind == "answered" else refused).append(f"{p} ({label}): {why}")
    evidence["plaintext_refused"] = not answered
    if answered:
        add(
            "plaintext-refused",
            "fail",
            "plaintext PING answered on " + "; ".join(answered),
            "set port 0 so Redis speaks only TLS",
        )
    else:
        add("plaintext-refused", "pass", "plaintext PING refused on " + "; ".join(refused))


def _configured_plaintext_port(
    host: str, port: int, files: TlsClientFiles, server_name: str, timeout: float, auth: bytes = b""
) -> int | None:
    """``CONFIG GET port`` over mutual TLS (None when CONFIG is not allowed)."""
    command = auth + _resp("CONFIG", "GET", "port")
    probe = _handshake(host, port, _context(files), server_name, timeout, command, lines=5 + bool(auth))
    if not probe.ok:
        return None
    # [+OK] *2 $4 port $4 6379
    parts = probe.reply.decode(errors="replace").split("\r\n")[1 if auth else 0 :]
    try:
        return int(parts[4])
    except (IndexError, ValueError):
        return None
