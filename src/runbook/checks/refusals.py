"""For trainees: three deliberately wrong clients, live, and the real error each one meets."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from runbook.checks.probes import WRONG_NAME, probe_context
from runbook.client import Endpoint, wire
from runbook.client.probe import handshake


@dataclass(frozen=True)
class Refusal:
    """One deliberately wrong client attempt and what the server (or client) said."""

    attempt: str
    refused: bool
    error: str
    meaning: str


def explain_refusals(endpoint: Endpoint, timeout: float = 3.0) -> list[Refusal]:
    """Three wrong clients, live, against ``endpoint``: no client certificate, TLS 1.1 only, a wrong
    server name. Each should be refused; ``error`` is the real OpenSSL message a trainee will meet in logs.
    """
    files = endpoint.files
    no_cert = handshake(
        endpoint,
        probe_context(files, client_cert=False),
        timeout=timeout,
        send=wire.INLINE_PING,
        settle=1.0,
    )
    tls11 = handshake(endpoint, probe_context(files, version=ssl.TLSVersion.TLSv1_1), timeout=timeout)
    wrong = handshake(
        endpoint, probe_context(files, check_hostname=True), server_name=WRONG_NAME, timeout=timeout
    )
    return [
        Refusal(
            "client without a certificate",
            not (no_cert.ok and no_cert.reply),
            no_cert.error or "connection closed",
            "tls-auth-clients yes: the server demands a certificate signed by its tls-ca-cert-file",
        ),
        Refusal(
            "client limited to TLS 1.1",
            not tls11.ok,
            tls11.error,
            'tls-protocols "TLSv1.2 TLSv1.3": the server answers the protocol_version alert',
        ),
        Refusal(
            f"client expecting {WRONG_NAME}",
            not wrong.ok,
            wrong.error,
            "the certificate's subjectAltName does not list that name: the client refuses the server",
        ),
    ]
