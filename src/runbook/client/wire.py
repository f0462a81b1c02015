"""Raw RESP on a socket: the one place that writes and reads Redis protocol bytes by hand.

Only for probes that a redis-py client cannot make: a PING on a port that may not speak RESP at all,
a command over a TLS socket whose handshake the probe itself set up (to read the presented chain or
the negotiated cipher), a reply read while the server may drop the connection. Everything else
uses redis-py (:func:`runbook.client.redis_client`).

The reader understands RESP2 and the RESP3 types a server sends to a RESP2 client: simple strings,
errors, integers, bulk strings and (nested) arrays. Side effects: the socket's sends and receives.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

CRLF = b"\r\n"
INLINE_PING = b"PING" + CRLF  # the inline form: what `redis-cli` sends for a bare PING, any port


class ReplyError(Exception):
    """A RESP error reply (``-ERR ...``) read from the wire; the text without the leading ``-``."""


class ProtocolError(ValueError):
    """The peer's bytes are not RESP (a TLS port read in plaintext, another service)."""


def encode(*args: str | bytes | int) -> bytes:
    """One command as RESP: an array of bulk strings (``encode("AUTH", "u", "p")``)."""
    out = [b"*%d" % len(args), CRLF]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out += [b"$%d" % len(data), CRLF, data, CRLF]
    return b"".join(out)


Reply = bytes | int | None | list["Reply"] | ReplyError


@dataclass
class _Buffer:
    data: bytes = b""
    pos: int = 0


def _need(sock: socket.socket | ssl.SSLSocket, buf: _Buffer, size: int) -> None:
    while len(buf.data) - buf.pos < size:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed by the server")
        buf.data += chunk


def _line(sock: socket.socket | ssl.SSLSocket, buf: _Buffer) -> bytes:
    while True:
        end = buf.data.find(CRLF, buf.pos)
        if end >= 0:
            line, buf.pos = buf.data[buf.pos : end], end + 2
            return line
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed by the server")
        buf.data += chunk


def _reply(sock: socket.socket | ssl.SSLSocket, buf: _Buffer) -> Reply:
    line = _line(sock, buf)
    kind, rest = line[:1], line[1:]
    if kind in (b"+",):
        return rest
    if kind == b"-":
        return ReplyError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        _need(sock, buf, size + 2)
        data, buf.pos = buf.data[buf.pos : buf.pos + size], buf.pos + size + 2
        return data
    if kind in (b"*", b"%", b"~", b">"):
        count = int(rest) * (2 if kind == b"%" else 1)
        return None if count < 0 else [_reply(sock, buf) for _ in range(count)]
    if kind == b"_":
        return None
    raise ProtocolError(f"not a RESP reply: {line[:40]!r}")


class Reader:
    """Replies read one after another from one socket: bytes that arrive beyond one reply are kept for
    the next (a pipelined or early reply is never lost)."""

    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self.sock = sock
        self._buf = _Buffer()

    def reply(self) -> Reply:
        """Read one whole reply (see :func:`read_reply`)."""
        if self._buf.pos:
            self._buf = _Buffer(self._buf.data[self._buf.pos :])
        return _reply(self.sock, self._buf)

    def command(self, *args: str | bytes | int) -> Reply:
        """Send one command and read its reply."""
        self.sock.sendall(encode(*args))
        return self.reply()


def read_reply(sock: socket.socket | ssl.SSLSocket) -> Reply:
    """Read one whole reply, when it is the only one expected. Errors come back as :class:`ReplyError`
    values, not raised. Use a :class:`Reader` for several replies on one socket.

    Raises ``ConnectionResetError`` when the peer closes first, :class:`ProtocolError` on non-RESP bytes.
    """
    return Reader(sock).reply()


def command(sock: socket.socket | ssl.SSLSocket, *args: str | bytes | int) -> Reply:
    """Send one command and read its reply (one command per socket; else use a :class:`Reader`)."""
    return Reader(sock).command(*args)


def text(reply: Reply) -> str:
    """A reply as one line of text: strings decoded, arrays space-joined, errors as ``ERR ...``."""
    if isinstance(reply, bytes):
        return reply.decode(errors="replace")
    if isinstance(reply, list):
        return " ".join(text(r) for r in reply)
    if isinstance(reply, ReplyError):
        return str(reply)
    return "" if reply is None else str(reply)


def info_field(info: str | bytes, name: str) -> str:
    """One ``name:value`` field of an ``INFO`` reply ("" when absent)."""
    body = info.decode(errors="replace") if isinstance(info, bytes) else info
    for line in body.splitlines():
        key, sep, value = line.partition(":")
        if sep and key == name:
            return value.strip()
    return ""


def read_lines(sock: socket.socket | ssl.SSLSocket, lines: int = 1) -> bytes:
    """Raw bytes until ``lines`` CRLF-terminated lines arrived or the peer closed (never raises on close).

    For probes that only need to see *whether* and *what* a peer answered, e.g. a plaintext PING
    sent to a port that may speak TLS, or a reply expected after an ``AUTH``.
    """
    data = b""
    while data.count(CRLF) < lines:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def looks_like_resp(data: bytes) -> bool:
    """True when ``data`` starts like a RESP reply (what a Redis port answers, even an error)."""
    return data[:1] in (b"+", b"-", b":", b"$", b"*")
