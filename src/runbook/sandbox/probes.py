"""What a handshake with a server shows (as ``openssl s_client`` would), and redis-py's command typed.

The one-connection probes the sandbox uses (a TLS ``PING``, a plaintext ``PING``, one command
verified for a server name, the server's version) are :mod:`runbook.client.probe`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from cryptography import x509

from runbook.client import Endpoint, tls_context
from runbook.client.probe import handshake as probe_handshake
from runbook.errors import RunbookError
from runbook.pki import cert_info


def command(client: redis.Redis, *args: Any) -> Any:
    """``client.execute_command`` with a typed signature (redis-py leaves it untyped)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class HandshakeDetails:
    """What ``openssl s_client`` would show about a handshake with a server."""

    protocol: str
    cipher: str
    server_subject: str
    server_issuer: str
    server_serial: str
    server_not_after: str
    server_sans: list[str]


def handshake(endpoint: Endpoint, timeout: float = 5.0) -> HandshakeDetails:
    """A real mutual-TLS handshake with ``endpoint`` (strict verification for ``endpoint.hostname``).

    Opens a connection. Raises :class:`RunbookError` naming the failure when the handshake fails or
    the server presents no certificate."""
    try:
        ctx = tls_context(endpoint.files)
    except OSError as exc:  # ssl.SSLError too: an unreadable or mismatched client certificate/key
        raise RunbookError(f"cannot load the client files ({exc}): check --ca/--cert/--key") from None
    got = probe_handshake(endpoint, ctx, timeout=timeout)
    if not got.ok:
        raise RunbookError(
            f"TLS handshake with {endpoint.address} for {endpoint.hostname} failed ({got.error}): "
            "run `runbook diagnose` with the same flags"
        )
    if not got.chain:
        raise RunbookError(f"{endpoint.address} sent no certificate: check tls-cert-file")
    info = cert_info(x509.load_der_x509_certificate(got.chain[0]))
    return HandshakeDetails(
        protocol=got.protocol,
        cipher=got.cipher,
        server_subject=info.subject,
        server_issuer=info.issuer,
        server_serial=info.serial,
        server_not_after=info.not_after,
        server_sans=info.sans,
    )


def handshake_rows(hs: HandshakeDetails, expected_serial: str | None = None) -> list[tuple[str, object]]:
    """Rows for a handshake table; the last row compares the serial with ``expected_serial`` when
    given (the sandbox's own certificate), else states that the chain and the name were verified."""
    rows: list[tuple[str, object]] = [
        ("protocol", hs.protocol),
        ("cipher", hs.cipher),
        ("server certificate", hs.server_subject),
        ("issued by", hs.server_issuer),
        ("names", ", ".join(hs.server_sans)),
    ]
    if expected_serial is not None:
        return [*rows, ("serial is redis-server.crt's", hs.server_serial == expected_serial)]
    return [*rows, ("chain and name verified (strict)", True)]
