"""One new TLS connection to a bench server (handshake, ``PING``, close), and the client context."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from runbook.bench.settings import HOSTNAME, LOOPBACK, PROTOCOLS
from runbook.client import TlsClientFiles, tls_context
from runbook.errors import RunbookError


@dataclass(frozen=True)
class Ping:
    """What one new TLS connection did."""

    session: ssl.SSLSession | None
    reused: bool
    protocol: str


def tls_ping(ctx: ssl.SSLContext, port: int, session: ssl.SSLSession | None = None) -> Ping:
    """One new TLS connection: handshake, PING, read +PONG, close.

    Reading the reply matters: TLS 1.3 servers send their session tickets after the handshake,
    so ``SSLSocket.session`` only holds a resumable session once data has been read.
    """
    with socket.create_connection((LOOPBACK, port), timeout=10.0) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname=HOSTNAME, session=session) as conn:
            conn.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = conn.recv(64)
                if not chunk:
                    break
                reply += chunk
            if reply != b"+PONG\r\n":
                raise RunbookError(f"unexpected reply {reply!r} to PING: read the server log")
            return Ping(conn.session, bool(conn.session_reused), conn.version() or "")


def client_ctx(files: TlsClientFiles, protocol: str | None = None) -> ssl.SSLContext:
    return tls_context(files, maximum=PROTOCOLS[protocol] if protocol else None)
