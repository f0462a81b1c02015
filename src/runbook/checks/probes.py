"""Low-level probes of a TLS endpoint: handshakes, a plaintext PING, the presented chain.

Every probe context runs at OpenSSL security level 0 and ignores certificate dates (each check
owns one concern: ``cert-expiry`` owns dates, ``key-strength`` key sizes); other knobs are explicit.
Probes never raise for TLS or socket errors: they return a :class:`_Probe` saying what happened.
Side effects: network connections to the target only.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass

from runbook.client import LENIENT_CIPHERS, TlsClientFiles, tls_context

WRONG_NAME = "wrong-name.invalid"


@dataclass(frozen=True)
class _Probe:
    ok: bool
    error: str = ""
    protocol: str = ""
    cipher: str = ""
    chain: tuple[bytes, ...] = ()
    reply: bytes = b""


@dataclass(frozen=True)
class ProbeTarget:
    """Where the audit connects and as whom: ``name`` is the server name to verify (and send as SNI),
    ``auth`` the RESP AUTH command sent before a command (empty without a password)."""

    host: str
    port: int
    files: TlsClientFiles
    name: str
    timeout: float
    auth: bytes = b""

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets), as reports and evidence spell the target."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def probe(
        self,
        ctx: ssl.SSLContext,
        send: bytes = b"",
        *,
        server_name: str | None = None,
        settle: float = 0.0,
        lines: int = 1,
    ) -> _Probe:
        """:func:`_handshake` to this target for ``server_name`` (default: :attr:`name`)."""
        name = self.name if server_name is None else server_name
        return _handshake(self.host, self.port, ctx, name, self.timeout, send, settle, lines)


def _context(
    files: TlsClientFiles | None,
    *,
    verify: bool = True,
    check_hostname: bool = False,
    strict: bool = False,
    client_cert: bool = True,
    version: ssl.TLSVersion | None = None,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """A probe context: security level 0, dates ignored, other knobs explicit."""
    verifying = verify and files is not None
    return tls_context(
        files,
        mode=("strict" if strict else "compatible") if verifying else "none",
        check_hostname=check_hostname,
        minimum=version or minimum,
        maximum=version,
        ciphers=LENIENT_CIPHERS,
        ignore_dates=True,
        client_cert=client_cert,
        common_name=False,  # RFC 6125: names live in subjectAltName only
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.replace(" (_ssl.c:", " (").split(" (", 1)[0] if "_ssl.c" in text else text


def _handshake(
    host: str,
    port: int,
    ctx: ssl.SSLContext,
    server_name: str | None,
    timeout: float,
    send: bytes = b"",
    settle: float = 0.0,
    lines: int = 1,
) -> _Probe:
    """Connect, handshake, optionally send ``send`` and read one reply. Never raises for TLS errors.

    ``settle`` waits that long for a post-handshake alert before sending: in TLS 1.3 a server that
    rejects the client's certificate says so only after the client's handshake completed, and
    sending at once races the alert against a TCP reset (the error would read "EOF").
    """
    sni = None if server_name is None or _is_ip(server_name) else server_name
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_name if ctx.check_hostname else sni) as tls,
        ):
            chain: tuple[bytes, ...] = ()
            getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
            if getter is not None:
                chain = tuple(c.public_bytes(ssl._ssl.ENCODING_DER) for c in (getter() or []))  # type: ignore[attr-defined]
            if not chain:
                leaf = tls.getpeercert(binary_form=True)
                chain = (leaf,) if leaf else ()
            cipher = tls.cipher()
            reply = b""
            if send:
                if settle:
                    tls.settimeout(settle)
                    try:
                        early = tls.recv(4096)
                    except TimeoutError:
                        early = b""
                    tls.settimeout(timeout)
                    if early:
                        return _Probe(
                            True, "", tls.version() or "", cipher[0] if cipher else "", chain, early
                        )
                tls.sendall(send)
                reply = _read_reply(tls, lines)
            return _Probe(True, "", tls.version() or "", cipher[0] if cipher else "", chain, reply)
    except (OSError, ValueError) as exc:
        return _Probe(False, _one_line(exc))


def _read_reply(sock: socket.socket, lines: int = 1) -> bytes:
    """Read until ``lines`` CRLF-terminated lines arrived (or the peer closed)."""
    data = b""
    while data.count(b"\r\n") < lines:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _plaintext_ping(host: str, port: int, timeout: float) -> tuple[str, str]:
    """("answered", reply) when a plaintext RESP PING gets a RESP reply; ("refused", why) otherwise."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            reply = _read_reply(s)
    except ConnectionRefusedError:
        return "refused", "connection refused"
    except TimeoutError:
        return "refused", "no RESP reply (timed out)"
    except OSError:
        return "refused", "no RESP reply"  # reset or closed: the TLS port dropped the plaintext bytes
    if reply[:1] in (b"+", b"-", b":", b"$", b"*"):
        return "answered", reply.decode(errors="replace").strip()
    return "refused", "no RESP reply"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _resp(*args: str) -> bytes:
    out = f"*{len(args)}\r\n"
    for a in args:
        out += f"${len(a.encode())}\r\n{a}\r\n"
    return out.encode()


def _auth(username: str | None, password: str | None) -> bytes:
    """The RESP AUTH command to send first (empty without a password)."""
    if not password:
        return b""
    return _resp("AUTH", *([username] if username else []), password)


def _fetch_chain(host: str, port: int, files: TlsClientFiles, server_name: str, timeout: float) -> _Probe:
    """The presented chain without any verification (for certificate facts when trust fails)."""
    return _handshake(host, port, _context(files, verify=False), server_name, timeout)
