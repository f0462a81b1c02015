"""One-connection probes of a server: does it answer over TLS or plaintext, what does it present.

Each probe opens one real connection (raw sockets where redis-py would retry or verify the wrong
name) and returns plain data; :mod:`.verification` turns them into check results.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any

import redis
from cryptography import x509

from runbook.client import TlsClientFiles, redis_client, tls_context
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


def handshake(
    host: str, port: int, files: TlsClientFiles, server_hostname: str = "localhost"
) -> HandshakeDetails:
    """A real mutual-TLS handshake with ``host:port`` (strict verification). Opens a connection."""
    ctx = tls_context(files)
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        cipher = tls.cipher()
        protocol = tls.version() or ""
    if der is None:
        raise RunbookError(f"{host}:{port} sent no certificate: check tls-cert-file")
    info = cert_info(x509.load_der_x509_certificate(der))
    return HandshakeDetails(
        protocol=protocol,
        cipher=cipher[0] if cipher else "",
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


def server_version(host: str, port: int, files: TlsClientFiles, *, server_name: str | None = None) -> str:
    """``redis_version`` from INFO server over mutual TLS ("" when it cannot be read).

    With ``server_name`` the certificate is verified for that name (SNI), not for ``host``.
    """
    if server_name is not None:
        try:
            reply = tls_command(host, port, files, "INFO", "server", server_name=server_name)
        except OSError:
            return ""
        found = re.search(rb"redis_version:([^\r\n]+)", reply)
        return found.group(1).decode() if found else ""
    try:
        client = redis_client(host, port, files, socket_timeout=3.0)
        info: dict[str, Any] = command(client, "INFO", "server")
        client.close()
    except (redis.RedisError, OSError):
        return ""
    return str(info.get("redis_version", ""))


def plaintext_answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """True when a plaintext ``PING`` on ``host:port`` gets a Redis reply. Opens a connection."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH", b"-"))


def tls_answers(
    host: str, port: int, files: TlsClientFiles, timeout: float = 3.0, *, server_name: str = "localhost"
) -> bool:
    """True when a TLS ``PING`` with ``files`` (with or without a client certificate) gets PONG.

    The server's certificate is verified for ``server_name`` (sent as SNI)."""
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            tls_context(files).wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            tls.sendall(b"PING\r\n")
            reply = tls.recv(64)
    except OSError:  # ssl.SSLError is an OSError: a refused handshake or an alert after it
        return False
    return reply.startswith(b"+PONG")


def tls_command(
    host: str, port: int, files: TlsClientFiles, *args: str, server_name: str, timeout: float = 5.0
) -> bytes:
    """Send one command over mutual TLS, verified for ``server_name`` (SNI); the raw RESP reply.

    For a server reached by an address its certificate does not name (redis-py verifies the host it
    connects to). Opens one connection; raises OSError (ssl.SSLError) when the handshake fails.
    """
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    chunks: list[bytes] = []
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        tls_context(files).wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        tls.sendall(payload)
        while True:
            chunk = tls.recv(65536)
            chunks.append(chunk)
            data = b"".join(chunks)
            if not chunk or _resp_complete(data):
                return data


def _resp_complete(data: bytes) -> bool:
    """True when ``data`` holds one whole RESP reply (simple, error, integer, bulk, flat array)."""
    if not data.endswith(b"\r\n"):
        return False
    if data[:1] in (b"+", b"-", b":"):
        return True
    if data[:1] == b"$":
        head, _, rest = data.partition(b"\r\n")
        size = int(head[1:])
        return size < 0 or len(rest) >= size + 2
    if data[:1] == b"*":
        head, _, rest = data.partition(b"\r\n")
        count = int(head[1:])
        return count <= 0 or rest.count(b"\r\n") >= 2 * count
    return True
