"""One connection to an :class:`~runbook.client.Endpoint` that reports what happened and never raises.

The probes the audit, the diagnosis, the sandbox's readiness and verification and the benchmarks
share: a handshake with a given context (optionally sending bytes and reading the answer), a
plaintext ``PING``, the chain a server presents, one command over TLS verified for the endpoint's
server name (even when the address is not that name), and the server's version. Each returns a
:class:`Probe` (or a plain value) instead of raising for TLS, socket or protocol errors; the caller
judges. Protocol bytes go through :mod:`runbook.client.wire`, contexts come from
:mod:`runbook.client.contexts`. Side effects: the connections only.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field

from cryptography import x509

from runbook.client import wire
from runbook.client.contexts import LENIENT_CIPHERS, Mode, tls_context
from runbook.client.endpoint import Endpoint
from runbook.pki import cert_info


@dataclass(frozen=True)
class Probe:
    """What one probe connection did.

    ``ok``: the handshake completed (for :func:`plaintext_ping`: a RESP reply came back); ``error``:
    why not, one line; ``protocol``/``cipher``: what the handshake negotiated; ``chain``: the DER
    certificates the server presented, leaf first; ``reply``: the raw bytes read after sending
    (``session``/``reused``: the TLS session, for resumption); ``value``: the parsed reply of
    :func:`command`."""

    ok: bool
    error: str = ""
    protocol: str = ""
    cipher: str = ""
    chain: tuple[bytes, ...] = ()
    reply: bytes = b""
    value: wire.Reply = None
    session: ssl.SSLSession | None = None
    reused: bool = False


@dataclass(frozen=True)
class Handshake:
    """What a completed handshake negotiated and what each side presented, as ``openssl s_client``
    shows it: the one handshake result type (notebook 02's verified handshake, notebook 04's
    handshake plus ``PING``, the in-memory handshake of :mod:`runbook.client.handshake`).

    ``server_*`` describe the certificate the server presented (subject and issuer as RFC 4514
    strings, serial in hex, ``not_after`` ISO 8601, SANs as ``DNS:``/``IP:``); ``client_subject`` the
    client certificate the server received ("" when none or not seen); ``reply`` the first reply
    line when a command was sent ("" otherwise)."""

    protocol: str
    cipher: str
    server_subject: str = ""
    server_issuer: str = ""
    server_serial: str = ""
    server_not_after: str = ""
    server_sans: list[str] = field(default_factory=list)
    client_subject: str = ""
    reply: str = ""

    @classmethod
    def of(
        cls,
        protocol: str,
        cipher: str,
        server_der: bytes | None,
        *,
        client_der: bytes | None = None,
        reply: str = "",
    ) -> Handshake:
        """The result from what a handshake returned: the presented certificates as DER (or None)."""
        server = cert_info(x509.load_der_x509_certificate(server_der)) if server_der else None
        client = cert_info(x509.load_der_x509_certificate(client_der)) if client_der else None
        return cls(
            protocol,
            cipher,
            server.subject if server else "",
            server.issuer if server else "",
            server.serial if server else "",
            server.not_after if server else "",
            server.sans if server else [],
            client.subject if client else "",
            reply,
        )


def one_line(exc: BaseException) -> str:
    """An exception as one line; OpenSSL's ``(_ssl.c:NNN)`` source location dropped."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.replace(" (_ssl.c:", " (").split(" (", 1)[0] if "_ssl.c" in text else text


def is_ip(name: str) -> bool:
    """True for an IPv4 or IPv6 address (brackets allowed): such names are never sent as SNI."""
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _presented(tls: ssl.SSLSocket) -> tuple[bytes, ...]:
    """The whole chain the server sent (leaf first), or just the leaf where Python cannot tell."""
    getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    chain: tuple[bytes, ...] = ()
    if getter is not None:
        chain = tuple(c.public_bytes(ssl._ssl.ENCODING_DER) for c in (getter() or []))  # type: ignore[attr-defined]
    if not chain:
        leaf = tls.getpeercert(binary_form=True)
        chain = (leaf,) if leaf else ()
    return chain


def handshake(
    endpoint: Endpoint,
    ctx: ssl.SSLContext,
    *,
    server_name: str | None = None,
    timeout: float = 3.0,
    send: bytes = b"",
    settle: float = 0.0,
    lines: int = 1,
    session: ssl.SSLSession | None = None,
    read_chain: bool = True,
) -> Probe:
    """Connect, handshake with ``ctx``, optionally send ``send`` and read ``lines`` reply lines.

    ``server_name`` (default: ``endpoint.hostname``) is verified when ``ctx`` checks host names and
    sent as SNI unless it is an IP address. ``settle`` waits that long for a post-handshake alert
    before sending: in TLS 1.3 a server that rejects the client's certificate says so only after the
    client's handshake completed, and sending at once races the alert against a TCP reset (the error
    would read "EOF"); bytes that arrive in that time are the reply. ``session`` resumes a TLS
    session; ``read_chain=False`` skips copying the presented chain (the benchmarks' hot loop).
    """
    name = endpoint.hostname if server_name is None else server_name
    sni = None if not name or is_ip(name) else name
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            hostname = name if ctx.check_hostname else sni
            with ctx.wrap_socket(raw, server_hostname=hostname, session=session) as tls:
                chain = _presented(tls) if read_chain else ()
                cipher = tls.cipher()
                reply = b""
                if send and settle:
                    tls.settimeout(settle)
                    try:
                        reply = tls.recv(4096)
                    except TimeoutError:
                        reply = b""
                    tls.settimeout(timeout)
                if send and not reply:
                    tls.sendall(send)
                    reply = wire.read_lines(tls, lines)
                return Probe(
                    True,
                    "",
                    tls.version() or "",
                    cipher[0] if cipher else "",
                    chain,
                    reply,
                    session=tls.session,
                    reused=bool(tls.session_reused),
                )
    except (OSError, ValueError) as exc:
        return Probe(False, one_line(exc))


def presented_chain(endpoint: Endpoint, timeout: float = 3.0, *, server_name: str | None = None) -> Probe:
    """The chain the server presents, read without any verification (any cipher, our client
    certificate presented): certificate facts when trust fails."""
    ctx = tls_context(endpoint.files, mode="none", ciphers=LENIENT_CIPHERS, common_name=False)
    return handshake(endpoint, ctx, server_name=server_name, timeout=timeout)


def plaintext_ping(endpoint: Endpoint, timeout: float = 3.0, *, port: int | None = None) -> Probe:
    """A plaintext inline ``PING`` on the endpoint's port (or ``port``): ``ok`` when a RESP reply came
    back (``reply`` holds it); else ``error`` says how it was refused. No TLS."""
    try:
        with socket.create_connection((endpoint.host, port or endpoint.port), timeout=timeout) as s:
            s.sendall(wire.INLINE_PING)
            reply = wire.read_lines(s)
    except ConnectionRefusedError:
        return Probe(False, "connection refused")
    except TimeoutError:
        return Probe(False, "no RESP reply (timed out)")
    except OSError:
        return Probe(False, "no RESP reply")  # reset or closed: the TLS port dropped the plaintext bytes
    if wire.looks_like_resp(reply):
        return Probe(True, reply=reply)
    return Probe(False, "no RESP reply")


def command(
    endpoint: Endpoint,
    *args: str,
    ctx: ssl.SSLContext | None = None,
    auth: tuple[str, ...] = (),
    timeout: float = 5.0,
) -> Probe:
    """One command over TLS, the certificate verified for ``endpoint.hostname`` (sent as SNI) even when
    the endpoint's address is not that name (redis-py verifies the host it connects to).

    ``ctx`` defaults to the strict context of ``endpoint.files`` (mutual TLS when they name a client
    certificate); ``auth`` is sent first as a command (``("AUTH", user, password)``), and an error
    reply to it is the probe's ``value``. ``ok`` is False when the connection, the handshake or the
    reply failed (``error`` says why); a Redis error reply is ``ok`` with a
    :class:`~runbook.client.wire.ReplyError` ``value``."""
    try:
        ctx = ctx or tls_context(endpoint.files)
        with (
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=endpoint.hostname) as tls,
        ):
            reader = wire.Reader(tls)
            cipher = tls.cipher()
            value = reader.command(*auth) if auth else None
            if not isinstance(value, wire.ReplyError):
                value = reader.command(*args)
            return Probe(True, "", tls.version() or "", cipher[0] if cipher else "", value=value)
    except (OSError, ValueError) as exc:
        return Probe(False, one_line(exc))


def answers_ping(endpoint: Endpoint, timeout: float = 3.0, mode: Mode = "strict") -> bool:
    """True when a TLS ``PING`` with ``endpoint.files`` (with or without a client certificate, verified
    for ``endpoint.hostname`` in ``mode``) gets ``PONG``."""
    got = ping(endpoint, timeout, mode)
    return got.ok and got.value == b"PONG"


def ping(endpoint: Endpoint, timeout: float = 3.0, mode: Mode = "strict") -> Probe:
    """A TLS ``PING`` with ``endpoint.files``, verified in ``mode`` (see :func:`command`); never raises."""
    try:
        ctx = tls_context(endpoint.files, mode=mode)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Probe(False, error=one_line(exc))
    return command(endpoint, "PING", ctx=ctx, timeout=timeout)


def server_version(endpoint: Endpoint, timeout: float = 3.0, *, ctx: ssl.SSLContext | None = None) -> str:
    """``redis_version`` from ``INFO server`` over TLS (see :func:`command`); "" when it cannot be read."""
    got = command(endpoint, "INFO", "server", ctx=ctx, timeout=timeout)
    return wire.info_field(got.value, "redis_version") if isinstance(got.value, bytes) else ""
