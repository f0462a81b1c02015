"""One new TLS connection to a bench server (handshake, ``PING``, close), and the client context."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from runbook.bench.settings import PROTOCOLS
from runbook.client import Endpoint, TlsClientFiles, tls_context, wire
from runbook.client.probe import handshake
from runbook.errors import RunbookError


@dataclass(frozen=True)
class Ping:
    """What one new TLS connection did."""

    session: ssl.SSLSession | None
    reused: bool
    protocol: str


def tls_ping(ctx: ssl.SSLContext, endpoint: Endpoint, session: ssl.SSLSession | None = None) -> Ping:
    """One new TLS connection to ``endpoint``: handshake (resuming ``session``), PING, read +PONG, close.

    Reading the reply matters: TLS 1.3 servers send their session tickets after the handshake,
    so ``SSLSocket.session`` only holds a resumable session once data has been read. Raises
    ``ConnectionError`` (an ``OSError``: the handshake's one-line error, e.g. a server without a
    session cache refusing a resumption) when the connection fails, :class:`RunbookError` when the
    reply is not PONG.
    """
    got = handshake(endpoint, ctx, timeout=10.0, send=wire.INLINE_PING, session=session, read_chain=False)
    if not got.ok:
        raise ConnectionError(got.error)
    if got.reply.rstrip() != b"+PONG":
        raise RunbookError(f"unexpected reply {got.reply!r} to PING: read the server log")
    return Ping(got.session, got.reused, got.protocol)


def client_ctx(files: TlsClientFiles, protocol: str | None = None) -> ssl.SSLContext:
    """The bench client's context (strict, mutual TLS), capped at ``protocol`` when given."""
    return tls_context(files, maximum=PROTOCOLS[protocol] if protocol else None)
