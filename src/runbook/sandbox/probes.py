"""A verified handshake with a server as a :class:`~runbook.client.probe.Handshake` (what ``openssl
s_client`` shows) and its table rows, and redis-py's command typed.

The one-connection probes the sandbox uses (a TLS ``PING``, a plaintext ``PING``, one command
verified for a server name, the server's version) are :mod:`runbook.client.probe`'s.
"""

from __future__ import annotations

from typing import Any

import redis

from runbook.client import Endpoint, Mode, tls_context
from runbook.client.probe import Handshake
from runbook.client.probe import handshake as probe_handshake
from runbook.errors import RunbookError


def command(client: redis.Redis, *args: Any) -> Any:
    """``client.execute_command`` with a typed signature (redis-py leaves it untyped)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def handshake(endpoint: Endpoint, timeout: float = 5.0, mode: Mode = "strict") -> Handshake:
    """A real mutual-TLS handshake with ``endpoint`` (verification for ``endpoint.hostname`` in ``mode``:
    ``compatible`` for a deployment the runbook did not build, what Redis and OpenSSL accept).

    Opens a connection. Raises :class:`RunbookError` naming the failure when the handshake fails or
    the server presents no certificate."""
    try:
        ctx = tls_context(endpoint.files, mode=mode)
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
    return Handshake.of(got.protocol, got.cipher, got.chain[0])


def handshake_rows(hs: Handshake, expected_serial: str | None = None) -> list[tuple[str, object]]:
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
