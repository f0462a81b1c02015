"""Read-only probes of a Redis endpoint: how the client connects (:class:`ClientSpec`), one attempt
like a client's (TCP, TLS, ``PING``), and the short extra connections that tell similar failures
apart (does the port speak TLS or plaintext RESP, which alert the server sends, which certificate
it presents, ``INFO``). Each opens a connection or a few and changes nothing on the server."""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass, replace
from typing import Any

from cryptography import x509

from runbook.client import Endpoint, Mode, TlsClientFiles, tls_context, wire
from runbook.client import probe as one
from runbook.diagnose.error_text import describe_error
from runbook.diagnose.results import Outcome
from runbook.errors import RunbookError

PING = wire.encode("PING")  # the command a client sends (RESP array), as redis-py sends it
TLS_ALERTS = {
    0: "close notify",
    10: "unexpected message",
    20: "bad record mac",
    40: "handshake failure",
    42: "bad certificate",
    43: "unsupported certificate",
    44: "certificate revoked",
    45: "certificate expired",
    46: "certificate unknown",
    47: "illegal parameter",
    48: "unknown ca",
    50: "decode error",
    51: "decrypt error",
    70: "protocol version",
    71: "insufficient security",
    80: "internal error",
    86: "inappropriate fallback",
    109: "missing extension",
    112: "unrecognized name",
    116: "certificate required",
    120: "no application protocol",
}


@dataclass(frozen=True)
class ClientSpec:
    """How the client connects: the :class:`~runbook.client.Endpoint` (where, the name it verifies, the
    CA it trusts, its certificate and key) plus the client's own limits (plaintext or TLS, protocol
    versions, ciphers, key passphrase, verification mode)."""

    endpoint: Endpoint
    tls: bool = True
    min_version: ssl.TLSVersion | None = None
    max_version: ssl.TLSVersion | None = None
    ciphers: str | None = None
    key_password: str | None = None
    mode: Mode = "strict"  # strict: Python 3.13's default checks; compatible: what OpenSSL/Redis accept

    @property
    def files(self) -> TlsClientFiles:
        return self.endpoint.files

    def context(self, *, verify: bool = True) -> ssl.SSLContext:
        """The client's ``SSLContext`` (:func:`runbook.client.tls_context`, in :attr:`mode`); without
        a CA it trusts the system store, as an application with no CA setting does."""
        minimum = self.min_version or ssl.TLSVersion.TLSv1_2
        if self.max_version is not None and self.max_version < minimum:
            minimum = self.max_version
        return tls_context(
            self.files,
            mode=self.mode if verify else "none",
            minimum=minimum,
            maximum=self.max_version,
            ciphers=self.ciphers,
            key_password=self.key_password.encode() if self.key_password else None,
        )

    def limited(self, version: ssl.TLSVersion, ciphers: str | None) -> ClientSpec:
        """The same client offering only ``version`` and ``ciphers`` (probes of what a server accepts)."""
        return replace(self, tls=True, min_version=version, max_version=version, ciphers=ciphers)

    def anonymous(self) -> ClientSpec:
        """The same client trusting nothing in particular (no CA): probes that read what a server presents."""
        return replace(
            self, endpoint=self.endpoint.with_files(TlsClientFiles("", self.files.cert, self.files.key))
        )


def versions_bad(spec: ClientSpec) -> bool:
    """True when the client's version range has nothing OpenSSL's default policy allows (TLS < 1.2)."""
    return spec.max_version is not None and spec.max_version < ssl.TLSVersion.TLSv1_2


def _reply_line(sock: socket.socket | ssl.SSLSocket) -> bytes:
    """The first reply line (what a client reads first); raises ``ConnectionResetError`` when the
    server closes without a byte, as a client would report it."""
    data = wire.read_lines(sock)
    if not data:
        raise ConnectionResetError("Connection closed by server")
    return data


def _text(sock: ssl.SSLSocket, *args: str) -> str:
    """One command's reply as text (arrays space-joined); "" for an error reply."""
    reply = wire.command(sock, *args)
    return "" if isinstance(reply, wire.ReplyError) else wire.text(reply)


def probe_tls(endpoint: Endpoint, timeout: float) -> bool:
    """Does the port answer a TLS ClientHello with a ServerHello? Opens one connection."""
    info = probe_hello(ClientSpec(Endpoint(endpoint.host, endpoint.port)), timeout)  # no files, SNI: the host
    return info == "server hello"


def probe_hello(spec: ClientSpec, timeout: float) -> str:
    """Send the client's ClientHello and classify the first record the server returns.

    Returns ``"server hello"``, ``"alert <description>"``, ``"plaintext"``, ``"closed"`` or ``"timeout"``.
    """
    host, port = spec.endpoint.host, spec.endpoint.port
    try:
        ctx = spec.context(verify=False)
    except (ssl.SSLError, OSError, ValueError):
        ctx = ClientSpec(Endpoint(host, port)).context(verify=False)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=spec.endpoint.hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLError as exc:
        return f"local error {describe_error(exc)}"
    hello = outgoing.read()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(hello)
            head = b""
            while len(head) < 7:
                chunk = s.recv(7 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        return "timeout"
    except OSError:
        return "closed"
    if not head:
        return "closed"
    if head[0] == 22:
        return "server hello"
    if head[0] == 21 and len(head) >= 7:
        return f"alert {TLS_ALERTS.get(head[6], str(head[6]))}"
    if wire.looks_like_resp(head):
        return "plaintext"
    return "closed"


def peer_certificate(spec: ClientSpec, timeout: float) -> x509.Certificate | None:
    """The certificate the server presents (fetched without verifying it). Opens one connection."""
    try:
        ctx = ClientSpec(spec.anonymous().endpoint, key_password=spec.key_password).context(verify=False)
    except (OSError, ValueError):
        return None
    got = one.handshake(spec.endpoint, ctx, timeout=timeout)
    return x509.load_der_x509_certificate(got.chain[0]) if got.chain else None


def listen_for_alert(spec: ClientSpec, timeout: float) -> str:
    """Handshake, then only read: TLS 1.3 servers send their verdict on our certificate now."""
    where = spec.endpoint
    try:
        with (
            socket.create_connection((where.host, where.port), timeout=timeout) as raw,
            spec.context().wrap_socket(raw, server_hostname=where.hostname) as tls,
        ):
            tls.settimeout(min(timeout, 1.5))
            tls.recv(1)
    except ssl.SSLError as exc:
        text = describe_error(exc)
        match = re.search(r"alert ([a-z ]+)", text)
        return match.group(1).strip() if match else ""
    except OSError:
        return ""
    return ""


def attempt(spec: ClientSpec, timeout: float = 3.0) -> Outcome:
    """Connect like a client: TCP, then TLS (unless ``spec.tls`` is False), then ``PING``.

    Opens one connection and closes it; records how far it got. Changes nothing on the server.
    """
    facts: dict[str, Any] = {"tls": spec.tls, "client_cert": bool(spec.files.cert)}
    where = spec.endpoint
    try:
        raw = socket.create_connection((where.host, where.port), timeout=timeout)
    except OSError as exc:
        return Outcome(exc, "connect", facts=facts)
    with raw:
        if not spec.tls:
            try:
                raw.sendall(PING)
                reply = _reply_line(raw).decode(errors="replace").strip()
            except OSError as exc:
                return Outcome(exc, "command", facts=facts)
            if reply.startswith(("+", "-NOAUTH", "-WRONGPASS")):
                return Outcome(None, "done", reply, facts=facts)
            return Outcome(ConnectionError(f"unexpected reply {reply[:60]!r}"), "command", reply, facts=facts)
        try:
            ctx = spec.context()
        except (ssl.SSLError, OSError) as exc:
            return Outcome(exc, "handshake", facts=facts)
        try:
            tls = ctx.wrap_socket(raw, server_hostname=where.hostname)
        except (ssl.SSLError, OSError) as exc:
            return Outcome(exc, "handshake", facts=facts)
        with tls:
            facts["protocol"] = tls.version() or ""
            facts["cipher"] = (tls.cipher() or ("",))[0]
            try:
                tls.sendall(PING)
                reply = _reply_line(tls).decode(errors="replace").strip()
            except (ssl.SSLError, OSError) as exc:
                return Outcome(exc, "command", facts=facts)
            if not reply.startswith(("+", "-NOAUTH", "-WRONGPASS")):
                return Outcome(
                    ConnectionError(f"unexpected reply {reply[:60]!r}"), "command", reply, facts=facts
                )
            outcome = Outcome(None, "done", reply, facts=facts)
            if reply.startswith("+"):
                _links(tls, outcome)
            return outcome


def _links(tls: ssl.SSLSocket, outcome: Outcome) -> None:
    """Replication / cluster links of a node we are connected to (read-only commands)."""
    try:
        info = _text(tls, "INFO", "replication")
        fields = dict(ln.split(":", 1) for ln in info.splitlines() if ":" in ln)
        if fields.get("role") == "slave":
            outcome.facts["role"] = "replica"
            link = "up" if fields.get("master_link_status") == "up" else "down"
            if link == "down" and fields.get("master_sync_in_progress") == "1":
                link = "syncing"  # TLS worked: the primary is transferring the data set
            outcome.facts["link"] = link
        cluster = _text(tls, "INFO", "cluster")
        if "cluster_enabled:1" in cluster:
            outcome.facts["role"] = outcome.facts.get("role", "cluster-node")
            nodes = _text(tls, "CLUSTER", "NODES")
            peers = [ln for ln in nodes.splitlines() if ln.strip() and "myself" not in ln]
            down = [ln for ln in peers if re.search(r"handshake|fail|noaddr|disconnected", ln)]
            if down:
                outcome.facts["link"] = "down"
        client_cert = _text(tls, "CONFIG", "GET", "tls-client-cert-file").split(" ")
        outcome.facts["tls_client_cert_file"] = client_cert[1] if len(client_cert) > 1 else ""
        setting = "tls-cluster" if outcome.facts.get("role") == "cluster-node" else "tls-replication"
        outcome.facts["link_tls"] = _text(tls, "CONFIG", "GET", setting).endswith(" yes")
    except (OSError, ValueError, IndexError):
        return


def server_version(spec: ClientSpec, timeout: float = 3.0) -> str:
    """``redis_version`` from ``INFO server`` over one verified TLS connection. Read-only."""
    where = spec.endpoint
    try:
        ctx = spec.context()
    except (OSError, ValueError) as exc:
        raise RunbookError(f"cannot load the client files ({exc}): check --ca/--cert/--key") from None
    got = one.command(where, "INFO", "server", ctx=ctx, timeout=timeout)
    if not got.ok:
        raise RunbookError(f"INFO server on {where.address} failed ({got.error}): check the client files")
    version = wire.info_field(got.value, "redis_version") if isinstance(got.value, bytes) else ""
    if not version:
        raise RunbookError(f"{where.address} did not report redis_version: the client must be allowed INFO")
    return version
