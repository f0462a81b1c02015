"""``client-cert-required`` and ``plaintext-refused``: who else gets in besides a mutual-TLS client.

A TLS 1.3 server that rejects a client without a certificate says so only after the client's
handshake completed, so the no-certificate probe waits briefly for that alert before sending PING.
Plaintext is tried on the TLS port, on ``--plaintext-port`` and on the port ``CONFIG GET port``
reports (when CONFIG is allowed).
"""

from __future__ import annotations

from typing import Any

from runbook.checks.probes import Prober, probe_context
from runbook.checks.verdicts import Add
from runbook.client import wire
from runbook.client.probe import command, plaintext_ping


def client_cert_check(add: Add, evidence: dict[str, Any], t: Prober) -> None:
    """``client-cert-required``: a client without a certificate must not get a reply to PING."""
    anon = t.probe(probe_context(t.files, verify=False, client_cert=False), wire.INLINE_PING, settle=1.0)
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


def plaintext_check(
    add: Add, evidence: dict[str, Any], t: Prober, plaintext_port: int | None, connected: bool
) -> None:
    """``plaintext-refused``: a plaintext PING on the TLS port, ``plaintext_port`` and the configured
    port gets no RESP reply. ``connected``: the verified mutual-TLS handshake worked, so ``CONFIG GET port`` can be asked."""
    answered: list[str] = []
    refused: list[str] = []
    ports: list[tuple[int, str]] = [(t.endpoint.port, "TLS port")]
    if plaintext_port:
        ports.append((plaintext_port, "--plaintext-port"))
    configured = _configured_plaintext_port(t) if connected else None
    if configured and configured not in {p for p, _ in ports}:
        ports.append((configured, "CONFIG GET port"))
    for p, label in ports:
        got = plaintext_ping(t.endpoint, t.timeout, port=p)
        if got.ok:
            answered.append(f"{p} ({label}): {got.reply.decode(errors='replace').strip()}")
        else:
            refused.append(f"{p} ({label}): {got.error}")
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


def _configured_plaintext_port(t: Prober) -> int | None:
    """``CONFIG GET port`` over mutual TLS (None when CONFIG is not allowed)."""
    got = command(
        t.endpoint, "CONFIG", "GET", "port", ctx=probe_context(t.files), auth=t.auth, timeout=t.timeout
    )
    if not got.ok or not isinstance(got.value, list) or len(got.value) != 2:
        return None
    try:
        return int(wire.text(got.value[1]))
    except ValueError:
        return None
