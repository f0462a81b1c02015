"""Why a TLS connection to Redis fails, in one line, and how to fix it.

:func:`diagnose` maps an exception (or an :class:`Outcome`) plus what we know about the attempt
(the ``context``: was TLS used, did the client present a certificate, the server log lines, facts
from probes) to a :class:`Diagnosis` with a stable ``cause`` id. The knowledge lives in ONE table,
:data:`SIGNATURES`: ordered rows of OpenSSL reason strings / alerts, redis-py exception texts,
server-log patterns and facts. The first row whose conditions all hold names the cause.

:func:`diagnose_endpoint` connects the way a client would (TCP, then TLS with the project's
``client.tls_context``, then a RESP ``PING``), runs a few read-only probes when the attempt fails
(does the port speak TLS or plaintext RESP, what alert does the server send, what certificate
does it present), reads the server log when it can (the sandbox's, or ``log_file``) and diagnoses.
It never changes the server; it opens a handful of short-lived connections.

Server-side lines keep the direction straight: ``alert unknown ca`` in the *server* log means the
client rejected the server's certificate, while the same alert received by the *client* means the
server rejected the client's certificate. Rows therefore say which side the text comes from.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from runbook import pki
from runbook.client import Endpoint, TlsClientFiles, tls_context
from runbook.errors import RunbookError
from runbook.results import CheckResult

# Where to go back to; the names of the runbook's notebooks by number and topic.
NB_CERTS = "01_certificates"
NB_SERVER = "02 server configuration"
NB_CLIENTS = "03 clients and verification"
NB_TROUBLE = "04_troubleshooting"
NB_ROTATION = "05 rotation"

PING = b"*1\r\n$4\r\nPING\r\n"
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


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Diagnosis:
    """One-line verdict on a connection attempt. ``cause`` is a stable id (see :data:`CAUSES`)."""

    cause: str
    summary: str
    evidence: list[str]
    fix: str
    notebook: str = ""

    @property
    def ok(self) -> bool:
        return self.cause == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    """What one attempt produced: an error (or none), how far it got, and facts from probes."""

    error: BaseException | None = None
    stage: str = ""  # connect | handshake | command | replication | "" (unknown)
    reply: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Cause:
    """What a cause id means: one-line summary, the fix, and the notebook to revisit."""

    summary: str
    fix: str
    notebook: str


CAUSE_INFO: dict[str, Cause] = {
    "ok": Cause("the TLS handshake succeeds and Redis answers", "nothing to fix", ""),
    "server-unreachable": Cause(
        "nothing accepts TCP connections at this host and port",
        "start redis-server (its log says why it stopped) or correct host/port; check bind and firewalls",
        NB_SERVER,
    ),
    "untrusted-ca": Cause(
        "the client does not trust the CA that issued the server certificate",
        "give the client the CA that issued the server certificate (--cacert / ssl_ca_certs = that ca.crt)",
        NB_CLIENTS,
    ),
    "hostname-mismatch": Cause(
        "the server certificate does not name the host the client connects to",
        "connect with a name the certificate lists (see its SANs) or re-issue it with that name (--hostname/--ip)",
        NB_CERTS,
    ),
    "cert-expired": Cause(
        "a certificate in the handshake has expired",
        "rotate the expired certificate (notebook 05) and check the clocks of both hosts",
        NB_ROTATION,
    ),
    "cert-not-yet-valid": Cause(
        "a certificate in the handshake is not valid yet (issued in the future, or a clock is behind)",
        "fix the clock (NTP) of the host that rejects it, or re-issue the certificate with a past notBefore",
        NB_CERTS,
    ),
    "server-cert-wrong-usage": Cause(
        "the server certificate lacks the serverAuth extended key usage",
        "re-issue the server certificate with extendedKeyUsage serverAuth (runbook pki create --force)",
        NB_CERTS,
    ),
    "client-cert-missing": Cause(
        "the server requires a client certificate (tls-auth-clients yes) and the client sent none",
        "give the client a certificate and key from the server's CA (--cert/--key; ssl_certfile/ssl_keyfile)",
        NB_CLIENTS,
    ),
    "client-cert-untrusted": Cause(
        "the server does not trust the CA that issued the client certificate",
        "issue the client certificate from the CA in the server's tls-ca-cert-file (or add its CA there)",
        NB_CERTS,
    ),
    "client-cert-wrong-usage": Cause(
        "the client certificate lacks the clientAuth extended key usage",
        "re-issue the client certificate with extendedKeyUsage clientAuth (runbook pki create --client NAME)",
        NB_CERTS,
    ),
    "plaintext-to-tls-port": Cause(
        "the client speaks plaintext to a port that only speaks TLS",
        "enable TLS in the client (redis-cli --tls --cacert ...; redis-py ssl=True with the ssl_* arguments)",
        NB_CLIENTS,
    ),
    "tls-to-plaintext-port": Cause(
        "the client speaks TLS to a port that speaks plaintext RESP",
        "connect to the server's tls-port, or enable tls-port on the server (notebook 02)",
        NB_SERVER,
    ),
    "protocol-mismatch": Cause(
        "client and server share no TLS protocol version",
        'allow TLS 1.2 and/or 1.3 on both sides (tls-protocols "TLSv1.2 TLSv1.3"; client minimum TLS 1.2)',
        NB_SERVER,
    ),
    "no-shared-cipher": Cause(
        "client and server share no cipher suite",
        "align tls-ciphers (TLS 1.2) / tls-ciphersuites (TLS 1.3) with what clients offer (ECDHE + AES-GCM)",
        NB_SERVER,
    ),
    "server-key-mismatch": Cause(
        "redis-server's tls-key-file does not belong to its tls-cert-file, so it does not start",
        "point tls-key-file at the key issued with tls-cert-file (or re-issue both together), then restart",
        NB_SERVER,
    ),
    "server-file-unreadable": Cause(
        "redis-server cannot read one of its TLS files (missing, no permission, or not PEM), so it does not start",
        "fix the paths/permissions of tls-cert-file, tls-key-file, tls-ca-cert-file (readable by redis), then restart",
        NB_SERVER,
    ),
    "server-key-passphrase": Cause(
        "redis-server cannot decrypt its private key (passphrase missing or wrong), so it does not start",
        "set tls-key-file-pass to the key's passphrase (or keep the key unencrypted, mode 0600), then restart",
        NB_SERVER,
    ),
    "outgoing-cert-wrong-usage": Cause(
        "the certificate this node presents to its primary or peers lacks clientAuth, so the link stays down",
        "issue the node a certificate with serverAuth and clientAuth, or set tls-client-cert-file/-key-file",
        NB_CERTS,
    ),
    "replication-link-down": Cause(
        "the node answers, but its link to its primary or cluster peers is down",
        "read the node's log for the link error (tls-replication / tls-cluster, CA, certificates)",
        NB_SERVER,
    ),
    "unknown": Cause(
        "the failure matches no known signature",
        "read the server log; retry with `openssl s_client -connect HOST:PORT` and the same CA and client files",
        NB_TROUBLE,
    ),
}


@dataclass(frozen=True)
class Signature:
    """One row of the table. Every non-empty condition must hold; the first matching row wins.

    ``client``: regexes searched in the client-side error text (the exception chain, plus the
    alert a probe received). ``log``: regexes searched in the server log lines (each must match
    some line). ``facts``: exact values the context must carry (a missing fact never matches).
    """

    cause: str
    client: tuple[str, ...] = ()
    log: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)


def _sig(cause: str, client: str = "", log: Sequence[str] = (), **facts: Any) -> Signature:
    return Signature(cause, (client,) if client else (), tuple(log), facts)


_REFUSED = (
    r"Connection refused|Errno 111|No route to host|Name or service not known|nodename nor servname"
    r"|Temporary failure in name resolution|Network is unreachable|Timeout connecting|connect timed out"
)
_RESET = (
    r"Connection reset|Connection closed by server|Errno 104|EOF occurred|UNEXPECTED_EOF|unexpected eof"
    r"|closed the connection|Broken pipe"
)
_PLAINTEXT_REPLY = r"WRONG_VERSION_NUMBER|wrong version number|handshake operation timed out|PACKET_LENGTH_TOO_LONG|record layer failure|unknown protocol"
_VERIFY_CA = (
    r"self[- ]signed certificate|unable to get local issuer|unable to get issuer|unable to verify the first"
    r"|certificate signature failure|CERTIFICATE_VERIFY_FAILED|certificate verify failed"
)
_PROTOCOL = (
    r"alert protocol version|PROTOCOL_VERSION|unsupported protocol|UNSUPPORTED_PROTOCOL|no protocols available"
    r"|NO_PROTOCOLS_AVAILABLE|version too low|VERSION_TOO_LOW|inappropriate fallback"
)
_CIPHER = r"no shared cipher|NO_SHARED_CIPHER|no cipher match|NO_CIPHER_MATCH|no ciphers available|alert insufficient security"
_HANDSHAKE_FAILURE = r"alert handshake failure|HANDSHAKE_FAILURE"

# Ordered: the first row whose conditions all hold names the cause.
SIGNATURES: tuple[Signature, ...] = (
    _sig("ok", healthy=True),
    # the server did not start: its own log at start-up says why
    _sig(
        "server-key-passphrase",
        log=[
            r"Failed to load private key.*(bad decrypt|interrupted or cancelled|bad password|wrong password|decryption failed)"
        ],
    ),
    # a wrong passphrase that decoded to garbage (about 1 in 256): the key file is an encrypted PEM
    _sig(
        "server-key-passphrase",
        log=[r"Failed to load private key.*DECODER routines"],
        server_key_encrypted=True,
    ),
    _sig("server-key-mismatch", log=[r"key values mismatch|private key does not match|KEY_VALUES_MISMATCH"]),
    _sig(
        "server-file-unreadable",
        log=[
            r"Failed to (load certificate|load private key|configure CA certificate|load DH|load client certificate)",
            r"No such file|Permission denied|Is a directory|no start line|DECODER routines::unsupported",
        ],
    ),
    # nothing answers
    _sig("server-unreachable", stage="connect"),
    # a TLS handshake that times out or reads non-TLS bytes: TCP worked, the port speaks something else
    _sig("tls-to-plaintext-port", _PLAINTEXT_REPLY),
    _sig("server-unreachable", _REFUSED),
    # TLS where there is none, and the reverse: probe facts first, then the client's texts
    _sig("tls-to-plaintext-port", tls=True, server_speaks="resp"),
    _sig("plaintext-to-tls-port", tls=False, server_speaks="tls"),
    _sig(
        "plaintext-to-tls-port",
        log=[
            r"SSL routines::(wrong version number|http request|packet length too long|record layer failure)"
        ],
        tls=False,
    ),
    _sig("plaintext-to-tls-port", _RESET, tls=False),
    # the client rejects the server's certificate (verify errors, client side)
    _sig(
        "hostname-mismatch",
        r"Hostname mismatch|IP address mismatch|doesn't match|not valid for|HOSTNAME_MISMATCH",
    ),
    _sig("cert-expired", r"certificate has expired|CERTIFICATE_EXPIRED|alert certificate expired"),
    _sig("cert-not-yet-valid", r"certificate is not yet valid|CERTIFICATE_NOT_YET_VALID"),
    _sig(
        "server-cert-wrong-usage",
        r"unsupported certificate purpose|unsuitable certificate purpose|INVALID_PURPOSE",
    ),
    _sig("untrusted-ca", _VERIFY_CA),
    # the server rejects the client's certificate: the alert the client receives, or the server log
    _sig("client-cert-missing", r"alert certificate required|CERTIFICATE_REQUIRED"),
    _sig("client-cert-missing", log=[r"peer did not return a certificate"]),
    _sig("client-cert-untrusted", r"alert unknown ca|UNKNOWN_CA"),
    _sig("client-cert-wrong-usage", r"alert unsupported certificate|UNSUPPORTED_CERTIFICATE"),
    _sig("client-cert-wrong-usage", log=[r"certificate verify failed"], client_cert_client_auth=False),
    _sig("cert-expired", log=[r"certificate verify failed"], client_cert_validity="expired"),
    _sig("cert-not-yet-valid", log=[r"certificate verify failed"], client_cert_validity="not-yet-valid"),
    _sig("client-cert-untrusted", log=[r"certificate verify failed"]),
    # protocol versions and ciphers
    _sig("protocol-mismatch", _PROTOCOL),
    _sig("protocol-mismatch", log=[r"SSL routines::(unsupported protocol|version too low)"]),
    _sig("no-shared-cipher", _CIPHER),
    _sig("no-shared-cipher", log=[r"no shared cipher"]),
    _sig("no-shared-cipher", hello_alert="handshake failure"),
    # a handshake failure after the hello, or a reset after the handshake: what the client sent decides
    _sig("client-cert-missing", _HANDSHAKE_FAILURE + "|" + _RESET, client_cert=False),
    _sig("client-cert-wrong-usage", _RESET, client_cert_client_auth=False),
    _sig("cert-expired", _RESET, client_cert_validity="expired"),
    _sig("cert-not-yet-valid", _RESET, client_cert_validity="not-yet-valid"),
    _sig("client-cert-untrusted", _RESET, client_cert=True, stage="command"),
    _sig("no-shared-cipher", _HANDSHAKE_FAILURE),
    # replicas and cluster nodes: the certificate a node presents to its primary or peers
    _sig("outgoing-cert-wrong-usage", log=[r"alert unsupported certificate"], link="down"),
    _sig("outgoing-cert-wrong-usage", link="down", outgoing_client_auth=False),
    _sig("replication-link-down", link="down"),
)

CAUSES: tuple[str, ...] = tuple(CAUSE_INFO)


# --------------------------------------------------------------------------- diagnose


def error_chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first (no cycles)."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def describe_error(exc: BaseException) -> str:
    """``"SSLCertVerificationError: [SSL: ...] certificate verify failed: ... "`` on one line."""
    parts = [str(a) for a in exc.args if isinstance(a, str)] or [str(exc)]
    text = " ".join(" ".join(parts).split())
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _text_of(exc: BaseException | None) -> list[str]:
    out = []
    for e in error_chain(exc):
        out.append(describe_error(e))
        reason = getattr(e, "reason", None)
        if isinstance(reason, str):
            out.append(reason)
        verify = getattr(e, "verify_message", None)
        if isinstance(verify, str) and verify:
            out.append(f"certificate verify failed: {verify}")
    return out


def _matches(sig: Signature, client_text: str, log_lines: Sequence[str], facts: Mapping[str, Any]) -> bool:
    if not (sig.client or sig.log or sig.facts):
        return False
    if any(not re.search(p, client_text, re.IGNORECASE) for p in sig.client):
        return False
    for pattern in sig.log:
        if not any(re.search(pattern, line, re.IGNORECASE) for line in log_lines):
            return False
    return all(k in facts and facts[k] == v for k, v in sig.facts.items())


def diagnose(
    exc_or_outcome: BaseException | Outcome | None, context: Mapping[str, Any] | None = None
) -> Diagnosis:
    """Name the cause of a failed (or successful) connection attempt. Pure: no I/O.

    ``exc_or_outcome``: the exception the client raised (redis-py or ``ssl``), an :class:`Outcome`,
    or ``None`` for a success. ``context`` (all optional) may carry ``tls`` (bool: the client used
    TLS), ``client_cert`` (bool: it presented a certificate), ``log`` (server log lines), ``stage``,
    ``server_speaks`` ("tls"/"resp"/"nothing"), ``hello_alert``, ``server_alert``, ``link``
    ("up"/"down"), ``outgoing_client_auth``, ``client_cert_client_auth``, ``client_cert_validity``
    and ``evidence`` (extra lines to show).
    """
    ctx = _normalise(context)
    if isinstance(exc_or_outcome, Outcome):
        outcome = exc_or_outcome
        ctx = {**ctx, **outcome.facts}
        if outcome.stage:
            ctx.setdefault("stage", outcome.stage)
        exc = outcome.error
        evidence = [*outcome.evidence]
    else:
        exc = exc_or_outcome
        evidence = []
    if exc is None and "stage" not in ctx:
        ctx["stage"] = "done"
    # derived fact: the attempt completed and no replication/cluster link is down
    ctx["healthy"] = exc is None and ctx.get("stage") == "done" and ctx.get("link") != "down"
    texts = _text_of(exc)
    shown_texts = [t for t in texts if " " in t]  # the bare OpenSSL reason codes only serve matching
    if ctx.get("server_alert"):
        texts.append(f"alert {ctx['server_alert']}")
    log_lines = [str(line) for line in ctx.get("log", []) or []]
    extra = [str(e) for e in ctx.get("evidence", []) or []]
    evidence = list(dict.fromkeys([*shown_texts, *evidence, *extra]))
    client_text = " | ".join(texts)
    for sig in SIGNATURES:
        if _matches(sig, client_text, log_lines, ctx):
            relevant = [ln for ln in log_lines if any(re.search(p, ln, re.IGNORECASE) for p in sig.log)] or [
                ln for ln in log_lines if "SSL routines" in ln and _is_interesting(ln)
            ]
            shown = relevant or [ln for ln in log_lines if _is_interesting(ln)][-3:]
            return _verdict(sig.cause, [*evidence, *(f"server log: {ln}" for ln in shown[-3:])])
    shown = [f"server log: {ln}" for ln in log_lines if _is_interesting(ln)][-3:]
    return _verdict("unknown", [*evidence, *shown] or ["no error text"])


def _normalise(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """Accept the obvious spellings: ``server_log``/``log_lines`` for ``log``, ``log_file`` (read
    it), and a certificate path as ``client_cert`` (its EKU and dates become facts)."""
    ctx = dict(context or {})
    for alias in ("server_log", "log_lines"):
        if "log" not in ctx and alias in ctx:
            ctx["log"] = ctx[alias]
    if "log" not in ctx and ctx.get("log_file"):
        ctx["log"] = read_server_log(ctx["log_file"])
    if isinstance(ctx.get("log"), str):
        ctx["log"] = ctx["log"].splitlines()
    ctx["log"] = [log_message(str(line)) for line in ctx.get("log") or []]
    cert = ctx.get("client_cert")
    if isinstance(cert, str | Path):
        ctx = {**client_cert_facts(cert), **{k: v for k, v in ctx.items() if k != "client_cert"}}
    return ctx


def _verdict(cause: str, evidence: list[str]) -> Diagnosis:
    info = CAUSE_INFO[cause]
    return Diagnosis(cause, info.summary, evidence, info.fix, info.notebook)


# --------------------------------------------------------------------------- server logs

_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.*#-] (.*)$")
_INTERESTING = re.compile(
    r"Failed to|Error accepting|SSL routines|MASTER|master|Master|error|Error|Connection reset", re.IGNORECASE
)


def log_message(line: str) -> str:
    """A Redis log line without its ``pid:role date time level`` prefix."""
    match = _LOG_PREFIX.match(line)
    message = match.group(1) if match else line.strip()
    return re.sub(r"\s*\(conn: [^)]*\)$", "", message)


def _is_interesting(line: str) -> bool:
    noise = ("WARNING Memory overcommit", "unexpected eof while reading")  # the latter: bare TCP probes
    return bool(_INTERESTING.search(line)) and not any(n in line for n in noise)


def read_server_log(path: Path | str, *, since: int | None = None, lines: int = 200) -> list[str]:
    """Messages of a redis-server log (prefixes stripped). Reads a file; changes nothing.

    ``since``: a byte offset (from :func:`log_size`): only what was written after it. Without it,
    the messages of the last start (from the last ``Redis is starting`` line), at most ``lines``.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            if since is not None:
                fh.seek(since)
            data = fh.read().decode(errors="replace")
    except OSError:
        return []
    raw = data.splitlines()
    if since is None:
        starts = [i for i, ln in enumerate(raw) if "Redis is starting" in ln]
        if starts:
            raw = raw[starts[-1] :]
    return [log_message(ln) for ln in raw[-lines:] if ln.strip()]


def log_size(path: Path | str | None) -> int | None:
    if path is None:
        return None
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def sandbox_log_for(port: int, work: Path | str | None = None) -> Path | None:
    """The log file of the sandbox node listening on ``port`` (TLS or plaintext), if any."""
    from runbook import sandbox

    try:
        box = sandbox.status(work)
    except (OSError, ValueError, RunbookError):
        return None
    if box is None:
        return None
    for node in box.nodes:
        if port in (node.port, node.plaintext_port):
            return node.log_path
    return None


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class ClientSpec:
    """How the client connects: trust, identity, name to verify, and protocol limits."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None
    tls: bool = True
    min_version: ssl.TLSVersion | None = None
    max_version: ssl.TLSVersion | None = None
    ciphers: str | None = None
    key_password: str | None = None

    def context(self, *, verify: bool = True) -> ssl.SSLContext:
        """The client's ``SSLContext`` (built by :func:`runbook.client.tls_context`)."""
        with warnings.catch_warnings():  # drills offer TLS 1.0/1.1 on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._context(verify)

    def _context(self, verify: bool) -> ssl.SSLContext:
        minimum = self.min_version or ssl.TLSVersion.TLSv1_2
        if self.max_version is not None and self.max_version < minimum:
            minimum = self.max_version
        if self.ca:
            ctx = tls_context(
                TlsClientFiles(self.ca), check_hostname=verify, minimum=minimum, maximum=self.max_version
            )
        else:
            ctx = ssl.create_default_context()
            ctx.minimum_version = minimum
            if self.max_version is not None:
                ctx.maximum_version = self.max_version
        if self.ciphers:
            ctx.set_ciphers(self.ciphers)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key, password=self.key_password)
        return ctx


def _versions_bad(spec: ClientSpec) -> bool:
    """True when the client's version range has nothing OpenSSL's default policy allows (TLS < 1.2)."""
    return spec.max_version is not None and spec.max_version < ssl.TLSVersion.TLSv1_2


def _recv_reply(sock: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            if data:
                break
            raise ConnectionResetError("Connection closed by server")
        data += chunk
    return data


def _resp_command(sock: ssl.SSLSocket, *args: str) -> str:
    """Send one command and read one reply (simple, error, bulk or flat array) as text."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    sock.sendall(payload.encode())
    data = _recv_reply(sock)
    if data[:1] == b"$":
        size = int(data[1 : data.index(b"\r\n")])
        head = data.index(b"\r\n") + 2
        while len(data) < head + max(size, 0) + 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data[head : head + max(size, 0)].decode(errors="replace")
    if data[:1] == b"*":
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            items = data.split(b"\r\n")
            count = int(items[0][1:])
            if count <= 0 or len(items) >= 1 + 2 * count + 1:
                return " ".join(i.decode(errors="replace") for i in items[2 : 2 * count + 1 : 2])
            data += sock.recv(65536)
        return ""
    return data.decode(errors="replace").strip()


def probe_resp(host: str, port: int, timeout: float) -> bool:
    """Does the port answer a plaintext RESP PING (any RESP reply)? Opens one connection."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(PING)
            data = s.recv(64)
    except OSError:
        return False
    return data[:1] in (b"+", b"-", b"$", b"*", b":")


def probe_tls(host: str, port: int, timeout: float) -> bool:
    """Does the port answer a TLS ClientHello with a ServerHello? Opens one connection."""
    info = probe_hello(host, port, timeout, ClientSpec(tls=True))
    return info == "server hello"


def probe_hello(host: str, port: int, timeout: float, spec: ClientSpec) -> str:
    """Send the client's ClientHello and classify the first record the server returns.

    Returns ``"server hello"``, ``"alert <description>"``, ``"plaintext"``, ``"closed"`` or ``"timeout"``.
    """
    try:
        ctx = spec.context(verify=False)
    except (ssl.SSLError, OSError, ValueError):
        ctx = ClientSpec(tls=True).context(verify=False)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=spec.server_name or host)
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
    if head[:1] in (b"+", b"-", b"$", b"*", b":"):
        return "plaintext"
    return "closed"


def _peer_certificate(host: str, port: int, timeout: float, spec: ClientSpec) -> x509.Certificate | None:
    """The certificate the server presents (fetched without verifying it). Opens one connection."""
    try:
        ctx = ClientSpec(tls=True, cert=spec.cert, key=spec.key, key_password=spec.key_password).context(
            verify=False
        )
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=spec.server_name or host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    return x509.load_der_x509_certificate(der) if der else None


def _listen_for_alert(host: str, port: int, timeout: float, spec: ClientSpec) -> str:
    """Handshake, then only read: TLS 1.3 servers send their verdict on our certificate now."""
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            spec.context().wrap_socket(raw, server_hostname=spec.server_name or host) as tls,
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


def client_cert_facts(path: str | Path | None) -> dict[str, Any]:
    """Facts about the client's own certificate file for :func:`diagnose`: clientAuth and dates."""
    eku, validity, cert = _cert_facts(str(path) if path else None, "clientAuth")
    if cert is None:
        return {"client_cert": bool(path)}
    return {"client_cert": True, "client_cert_client_auth": eku, "client_cert_validity": validity}


def _cert_facts(path: str | None, wanted: str) -> tuple[bool | None, str, x509.Certificate | None]:
    """(has the wanted EKU, validity state, certificate) of a local certificate file."""
    if not path:
        return None, "", None
    try:
        cert = pki.load_cert(Path(path))
    except (RunbookError, OSError, ValueError):
        return None, "", None
    info = pki.cert_info(cert)
    now = time.time()
    if cert.not_valid_after_utc.timestamp() <= now:
        validity = "expired"
    elif cert.not_valid_before_utc.timestamp() > now:
        validity = "not-yet-valid"
    else:
        validity = "valid"
    return wanted in info.eku or not info.eku, validity, cert


def _describe_cert(label: str, cert: x509.Certificate) -> str:
    info = pki.cert_info(cert)
    return (
        f"{label}: subject {info.subject}, issuer {info.issuer}, SANs {', '.join(info.sans) or 'none'}, "
        f"EKU {', '.join(info.eku) or 'none'}, valid {info.not_before[:10]} to {info.not_after[:10]}"
    )


def attempt(host: str, port: int, spec: ClientSpec, timeout: float = 3.0) -> Outcome:
    """Connect like a client: TCP, then TLS (unless ``spec.tls`` is False), then ``PING``.

    Opens one connection and closes it; records how far it got. Changes nothing on the server.
    """
    facts: dict[str, Any] = {"tls": spec.tls, "client_cert": bool(spec.cert)}
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return Outcome(exc, "connect", facts=facts)
    with raw:
        if not spec.tls:
            try:
                raw.sendall(PING)
                reply = _recv_reply(raw).decode(errors="replace").strip()
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
            tls = ctx.wrap_socket(raw, server_hostname=spec.server_name or host)
        except (ssl.SSLError, OSError) as exc:
            return Outcome(exc, "handshake", facts=facts)
        with tls:
            facts["protocol"] = tls.version() or ""
            facts["cipher"] = (tls.cipher() or ("",))[0]
            try:
                tls.sendall(PING)
                reply = _recv_reply(tls).decode(errors="replace").strip()
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
        info = _resp_command(tls, "INFO", "replication")
        fields = dict(ln.split(":", 1) for ln in info.splitlines() if ":" in ln)
        if fields.get("role") == "slave":
            outcome.facts["role"] = "replica"
            link = "up" if fields.get("master_link_status") == "up" else "down"
            if link == "down" and fields.get("master_sync_in_progress") == "1":
                link = "syncing"  # TLS worked: the primary is transferring the data set
            outcome.facts["link"] = link
        cluster = _resp_command(tls, "INFO", "cluster")
        if "cluster_enabled:1" in cluster:
            outcome.facts["role"] = outcome.facts.get("role", "cluster-node")
            nodes = _resp_command(tls, "CLUSTER", "NODES")
            peers = [ln for ln in nodes.splitlines() if ln.strip() and "myself" not in ln]
            down = [ln for ln in peers if re.search(r"handshake|fail|noaddr|disconnected", ln)]
            if down:
                outcome.facts["link"] = "down"
        client_cert = _resp_command(tls, "CONFIG", "GET", "tls-client-cert-file").split(" ")
        outcome.facts["tls_client_cert_file"] = client_cert[1] if len(client_cert) > 1 else ""
        setting = "tls-cluster" if outcome.facts.get("role") == "cluster-node" else "tls-replication"
        outcome.facts["link_tls"] = _resp_command(tls, "CONFIG", "GET", setting).endswith(" yes")
    except (OSError, ValueError, IndexError):
        return


def diagnose_endpoint(
    host: str,
    port: int,
    *,
    ca: str | Path | None = None,
    cert: str | Path | None = None,
    key: str | Path | None = None,
    server_name: str | None = None,
    tls: bool = True,
    min_version: ssl.TLSVersion | None = None,
    max_version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    timeout: float = 3.0,
    log_file: str | Path | None = None,
    work: str | Path | None = None,
    settle: float = 8.0,
    files: TlsClientFiles | None = None,
) -> Diagnosis:
    """Connect to ``host:port`` the way the client would and say why it fails (or ``ok``).

    Read-only: opens a few short connections (the attempt, then probes when it fails: does the
    port speak TLS or plaintext, which alert the server sends, which certificate it presents) and
    reads the server log: ``log_file``, or the sandbox node's log when ``port`` belongs to the
    sandbox of ``work``. For a replica or cluster node whose link is down without a visible TLS
    reason it waits up to ``settle`` seconds for the link (a primary delays a diskless sync by 5 s).
    ``files`` (a :class:`~runbook.client.TlsClientFiles`) may stand in for ``ca``/``cert``/``key``.
    """
    if files is not None:
        ca, cert, key = ca or files.ca, cert or files.cert, key or files.key
    spec = ClientSpec(
        ca=str(ca) if ca else None,
        cert=str(cert) if cert else None,
        key=str(key) if key else (str(cert) if cert else None),
        server_name=server_name,
        tls=tls,
        min_version=min_version,
        max_version=max_version,
        ciphers=ciphers,
    )
    if key and not cert:
        raise RunbookError("--key given without --cert: pass both, or neither")
    log_path = Path(log_file) if log_file else sandbox_log_for(port, work)
    before = log_size(log_path)
    outcome = attempt(host, port, spec, timeout)
    deadline = time.monotonic() + settle
    while (
        outcome.ok
        and outcome.facts.get("link") == "down"
        and time.monotonic() < deadline
        and not _link_failure_evident(host, port, spec, timeout, outcome, log_path)
    ):
        time.sleep(0.25)  # a fresh replica waits for its primary (diskless sync delay): give it time
        outcome = attempt(host, port, spec, timeout)
    log: list[str] = []
    if log_path is not None:
        if outcome.stage == "connect":
            log = read_server_log(log_path)
        elif outcome.facts.get("link") == "down":
            log = read_server_log(log_path)[-40:]
        elif not outcome.ok:
            log = _wait_new_lines(log_path, before)  # read before the probes add their own lines
    _gather(host, port, spec, timeout, outcome)
    context: dict[str, Any] = {"log": log}
    if log_path is not None and failed_key_is_encrypted(log, log_path.parent):
        context["server_key_encrypted"] = True
    return diagnose(outcome, context)


_FAILED_KEY = re.compile(r"Failed to load private key: (\S+?): ")


def failed_key_is_encrypted(log: Sequence[str], base: Path) -> bool:
    """True when the server log names a private key it failed to load and that file is an encrypted PEM.

    With a wrong ``tls-key-file-pass`` OpenSSL usually says "bad decrypt", but about one time in 256
    the wrong key happens to pass the padding check and the decoder reports "unsupported" instead;
    the file itself then tells a passphrase problem from an unreadable or foreign file.
    """
    for line in log:
        match = _FAILED_KEY.search(line)
        if not match:
            continue
        path = Path(match.group(1))
        path = path if path.is_absolute() else base / path
        try:
            with path.open("rb") as fh:
                head = fh.read(128)
        except OSError:
            continue
        if b"ENCRYPTED PRIVATE KEY" in head or b"Proc-Type: 4,ENCRYPTED" in head:
            return True
    return False


def _link_failure_evident(
    host: str, port: int, spec: ClientSpec, timeout: float, outcome: Outcome, log_path: Path | None
) -> bool:
    """A down link is a failure (not a sync in progress) when the node's log shows a TLS error on
    the link, or the certificate it presents to its primary lacks clientAuth."""
    if log_path is not None:
        recent = read_server_log(log_path)[-20:]
        link_errors = (
            r"SSL routines|alert|Error condition on socket|Writing to master|reading from the server"
        )
        if any(re.search(link_errors, ln) and "Error accepting" not in ln for ln in recent):
            return True  # (Error accepting ... is about incoming clients, not the link)
    probe = Outcome(None, "done", facts=dict(outcome.facts))
    _gather(host, port, spec, min(timeout, 1.5), probe)
    return probe.facts.get("outgoing_client_auth") is False


def _wait_new_lines(path: Path, before: int | None, wait: float = 0.5) -> list[str]:
    deadline = time.monotonic() + wait
    lines = read_server_log(path, since=before)
    while (
        not any("Error accepting" in ln or "SSL routines" in ln for ln in lines)
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
        lines = read_server_log(path, since=before)
    return lines


def _gather(host: str, port: int, spec: ClientSpec, timeout: float, outcome: Outcome) -> None:
    """Facts that tell similar failures apart (extra read-only connections, only after a failure)."""
    facts, ev = outcome.facts, outcome.evidence
    short = min(timeout, 1.5)
    eku, validity, cert = _cert_facts(spec.cert, "clientAuth")
    if cert is not None:
        facts["client_cert_client_auth"] = eku
        facts["client_cert_validity"] = validity
    if outcome.ok:
        ev.append(f"connected: {facts.get('protocol') or 'plaintext'} {facts.get('cipher', '')}".rstrip())
        if facts.get("link") in ("up", "syncing"):
            ev.append(f"{facts.get('role', 'node')}: link to its primary is {facts['link']}")
        if facts.get("link") == "down":
            ev.append(f"{facts.get('role', 'node')}: link to its primary or peers is down")
            if facts.get("link_tls") is False:
                ev.append("the link does not use TLS (tls-replication / tls-cluster is no)")
                return
            out_file = facts.get("tls_client_cert_file") or ""
            out_eku, _, out_cert = _cert_facts(out_file, "clientAuth") if out_file else (None, "", None)
            if out_cert is None and spec.tls:
                out_cert = _peer_certificate(host, port, short, spec)
                out_eku = None if out_cert is None else "clientAuth" in pki.cert_info(out_cert).eku
            if out_cert is not None:
                facts["outgoing_client_auth"] = out_eku
                ev.append(_describe_cert("certificate the node presents to its peers", out_cert))
        return
    if outcome.stage == "connect":
        return
    if not spec.tls:
        facts["server_speaks"] = "tls" if probe_tls(host, port, short) else "nothing"
        return
    text = " ".join(_text_of(outcome.error))
    handshake_broke = re.search(
        r"timed out|wrong version number|WRONG_VERSION|record layer|packet length|EOF|reset|closed",
        text,
        re.I,
    )
    if outcome.stage == "handshake" and handshake_broke and probe_resp(host, port, short):
        facts["server_speaks"] = "resp"
        return
    if _versions_bad(spec):
        ev.append("the client offers only TLS versions below 1.2")
    if outcome.stage == "handshake" and re.search(r"handshake failure|HANDSHAKE_FAILURE", text, re.I):
        hello = probe_hello(host, port, short, spec)
        facts["hello_alert"] = hello.removeprefix("alert ") if hello.startswith("alert") else ""
        ev.append(f"probe: the server answers the ClientHello with {hello}")
    if outcome.stage == "command" and re.search(r"EOF|reset|closed", text, re.I):
        alert = _listen_for_alert(host, port, short, spec)
        if alert:
            facts["server_alert"] = alert
            ev.append(f"probe: the server sends alert {alert!r} after the handshake")
    if re.search(r"verify failed|certificate verify|Hostname mismatch|IP address mismatch", text, re.I):
        peer = _peer_certificate(host, port, short, spec)
        if peer is not None:
            ev.append(_describe_cert("server certificate", peer))


# --------------------------------------------------------------------------- the classic toolkit

VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA",
)


@dataclass(frozen=True)
class Handshake:
    """What a handshake negotiated, as ``openssl s_client -brief`` would show it."""

    protocol: str
    cipher: str
    server_subject: str
    server_sans: list[str]
    server_not_after: str
    reply: str


def handshake(host: str, port: int, spec: ClientSpec, timeout: float = 3.0) -> Handshake:
    """One verified handshake plus ``PING``; raises :class:`RunbookError` with the diagnosis if it fails."""
    outcome = attempt(host, port, spec, timeout)
    if not outcome.ok:
        d = diagnose(outcome)
        raise RunbookError(f"handshake to {host}:{port} failed: {d.cause}: {d.fix}")
    peer = _peer_certificate(host, port, timeout, spec)
    info = pki.cert_info(peer) if peer is not None else None
    return Handshake(
        outcome.facts.get("protocol", ""),
        outcome.facts.get("cipher", ""),
        info.subject if info else "",
        info.sans if info else [],
        info.not_after[:10] if info else "",
        outcome.reply,
    )


def _handshake_ok(host: str, port: int, spec: ClientSpec, timeout: float) -> bool:
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            spec.context().wrap_socket(raw, server_hostname=spec.server_name or host),
        ):
            return True
    except (OSError, ValueError):
        return False


def protocols_accepted(host: str, port: int, spec: ClientSpec, timeout: float = 2.0) -> dict[str, bool]:
    """Which TLS versions the server completes a handshake with (one connection per version).

    Old versions are offered at OpenSSL security level 0, so "refused" is the server's verdict.
    """
    out = {}
    for name, version in VERSIONS.items():
        old = version < ssl.TLSVersion.TLSv1_2
        probe = ClientSpec(
            spec.ca, spec.cert, spec.key, spec.server_name, True, version, version,
            "DEFAULT:@SECLEVEL=0" if old else spec.ciphers, spec.key_password,
        )  # fmt: skip
        out[name] = _handshake_ok(host, port, probe, timeout)
    return out


def ciphers_accepted(
    host: str, port: int, spec: ClientSpec, candidates: Sequence[str] = TLS12_CIPHERS, timeout: float = 2.0
) -> dict[str, bool]:
    """Which TLS 1.2 cipher suites the server accepts, one offered at a time (one connection each)."""
    out = {}
    for cipher in candidates:
        probe = ClientSpec(
            spec.ca, spec.cert, spec.key, spec.server_name, True,
            ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, cipher, spec.key_password,
        )  # fmt: skip
        out[cipher] = _handshake_ok(host, port, probe, timeout)
    return out


def log_patterns() -> list[dict[str, str]]:
    """What to grep for in a redis-server log, and the cause each pattern means (from the table)."""
    causes: dict[str, list[str]] = {}
    for sig in SIGNATURES:
        for pattern in sig.log:
            causes.setdefault(pattern, [])
            if sig.cause not in causes[pattern]:
                causes[pattern].append(sig.cause)
    return [{"grep": pattern, "cause": " / ".join(found)} for pattern, found in causes.items()]


def client_spec_from_pki(
    pki_dir: Path | str, client: str | None = pki.DEFAULT_CLIENT
) -> dict[str, str | None]:
    """``ca``/``cert``/``key`` keyword arguments for :func:`diagnose_endpoint` from a PKI dir."""
    files = TlsClientFiles.from_pki(pki_dir, client)
    return {"ca": files.ca, "cert": files.cert, "key": files.key}


def signature_table() -> list[dict[str, Any]]:
    """The signature table as plain rows (cause, where it is read, pattern, fix) for display."""
    rows = []
    for sig in SIGNATURES:
        where = [*(["client error"] if sig.client else []), *(["server log"] if sig.log else [])]
        where += [f"{k}={v}" for k, v in sig.facts.items()]
        rows.append({"cause": sig.cause, "reads": ", ".join(where), "fix": CAUSE_INFO[sig.cause].fix})
    return rows


def causes_seen(diagnoses: Iterable[Diagnosis]) -> list[str]:
    return sorted({d.cause for d in diagnoses})


# --------------------------------------------------------------------------- notebook 04: toolkit target

DRILLS_NEED_SANDBOX = "drills need the local sandbox: run with target=sandbox"


@dataclass(frozen=True)
class Toolkit:
    """Where the toolkit steps of notebook 04 point: the sandbox primary or an external Redis.

    ``server_cert`` is a file holding the server certificate to check (the sandbox's own file, or,
    for an external server, the certificate it presented, saved as public PEM); ``client_cert`` is
    ``None`` when the client has no certificate.
    """

    target: str
    host: str
    port: int
    spec: ClientSpec
    ca_file: Path
    server_cert: Path
    client_cert: Path | None
    server_name: str
    topology: str
    log_path: Path | None
    prerequisites: list[list[str]]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def cert_files(self) -> list[Path]:
        """The certificates whose dates step 1 checks: CA, server, client (when there is one)."""
        return [self.ca_file, self.server_cert, *([self.client_cert] if self.client_cert else [])]

    def identity(self) -> dict[str, Any]:
        """``redis_version``, ``target`` and (sandbox) ``topology`` evidence. Asks an external server."""
        if self.target == "external":
            return {"redis_version": server_version(self.host, self.port, self.spec), "target": self.address}
        from runbook import sandbox

        version = ".".join(map(str, sandbox.redis_server_version()))
        return {"redis_version": version, "target": self.address, "topology": self.topology}

    def log_hint(self, work: Path | str) -> str:
        """Where this server's log is, as a line for the notebook (relative to the work dir)."""
        if self.log_path is not None:
            return f"sandbox log: {self.log_path.relative_to(Path(work))}"
        return "server log: on the Redis host (`CONFIG GET logfile`; often /var/log/redis/redis-server.log)"


def toolkit_sandbox(box: Any, pki_dir: Path | str) -> Toolkit:
    """The toolkit pointed at the primary of a running sandbox (:class:`runbook.sandbox.Sandbox`)."""
    paths = pki.PkiPaths(Path(pki_dir))
    files = TlsClientFiles.from_pki(paths.root)
    spec = ClientSpec(ca=files.ca, cert=files.cert, key=files.key)
    node = box.primary
    return Toolkit(
        "sandbox", "localhost", node.port, spec, paths.ca_cert, paths.server_cert, paths.client_cert(),
        "localhost", box.topology, node.log_path,
        [["PKI", "ca.crt, redis-server.crt, redis-client.crt present"],
         ["sandbox", f"{box.topology}, {len(box.nodes)} node(s), healthy"]],
    )  # fmt: skip


def toolkit_external(endpoint: Endpoint, out_dir: Path | str, timeout: float = 3.0) -> Toolkit:
    """The toolkit pointed at an external Redis (:class:`runbook.client.Endpoint`).

    Connects once to fetch the certificate the server presents (step 2 verifies it) and writes
    it, public PEM only, to ``<out_dir>/served-server.crt``. Starts nothing.
    """
    from cryptography.hazmat.primitives import serialization

    from runbook import files as _files

    files = endpoint.files
    spec = ClientSpec(ca=files.ca, cert=files.cert, key=files.key, server_name=endpoint.server_name)
    served = _peer_certificate(endpoint.host, endpoint.port, timeout, spec)
    if served is None:
        d = diagnose_endpoint(
            endpoint.host, endpoint.port, files=files, server_name=endpoint.server_name, timeout=timeout
        )
        raise RunbookError(f"no verified TLS handshake with {endpoint.address}: {d.cause}: {d.fix}")
    path = Path(out_dir) / "served-server.crt"
    _files.write_file(path, served.public_bytes(serialization.Encoding.PEM), _files.PUBLIC)
    client = Path(files.cert) if files.cert else None
    return Toolkit(
        "external", endpoint.host, endpoint.port, spec, Path(files.ca), path, client,
        endpoint.server_name, "", None,
        [["target", f"external Redis at {endpoint.address}, certificate name {endpoint.server_name}"],
         ["client files", "CA" + (" + client certificate" if client else " only (no client certificate)")]],
    )  # fmt: skip


def date_checks(paths: Sequence[Path | str]) -> list[CheckResult]:
    """Step 1: one ``dates:<file>`` result per certificate file (fail when outside its validity)."""
    out = []
    for p in paths:
        c = pki.inspect(p)
        ok = c.days_left > 0
        out.append(
            CheckResult(
                f"dates:{c.path.rsplit('/', 1)[-1]}",
                "pass" if ok else "fail",
                f"{c.subject}; EKU {', '.join(c.eku) or '-'}; {c.days_left} days left",
                "" if ok else "rotate it (notebook 05)",
            )
        )
    return out


def chain_checks(tk: Toolkit) -> list[CheckResult]:
    """Step 2: the server certificate (for ``tk.server_name``) and the client's chain to the CA file."""
    ca = pki.load_certs(tk.ca_file)
    detail = f"chains to {tk.ca_file.name} with the right purpose"
    checks: list[tuple[str, Any]] = [
        ("chain:server", lambda: pki.verify_server_cert(pki.load_cert(tk.server_cert), ca, tk.server_name))
    ]
    if tk.client_cert is not None:
        client = tk.client_cert
        checks.append(("chain:client", lambda: pki.verify_client_cert(pki.load_cert(client), ca)))
    out = []
    for check, verify in checks:
        try:
            verify()
            out.append(CheckResult(check, "pass", detail))
        except RunbookError as exc:
            out.append(CheckResult(check, "fail", str(exc), "re-issue it (notebook 01)"))
    if tk.client_cert is None:
        out.append(CheckResult("chain:client", "skip", "no client certificate given (client_cert)"))
    return out


def toolkit_diagnoses(tk: Toolkit, work: Path | str | None = None) -> dict[str, Diagnosis]:
    """Step 6: the client as configured, then the same client without a certificate. Read-only."""
    name = tk.server_name if tk.target == "external" else None
    return {
        "with the client certificate": diagnose_endpoint(
            tk.host, tk.port, ca=tk.spec.ca, cert=tk.spec.cert, key=tk.spec.key, server_name=name, work=work
        ),
        "without a client certificate": diagnose_endpoint(
            tk.host, tk.port, ca=tk.spec.ca, server_name=name, work=work
        ),
    }


def server_version(host: str, port: int, spec: ClientSpec, timeout: float = 3.0) -> str:
    """``redis_version`` from ``INFO server`` over one verified TLS connection. Read-only."""
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            spec.context().wrap_socket(raw, server_hostname=spec.server_name or host) as tls,
        ):
            info = _resp_command(tls, "INFO", "server")
    except (OSError, ValueError) as exc:
        raise RunbookError(f"INFO server on {host}:{port} failed ({exc}): check the client files") from None
    found = re.search(r"^redis_version:(\S+)", info, re.MULTILINE)
    if not found:
        raise RunbookError(f"{host}:{port} did not report redis_version: the client must be allowed INFO")
    return found.group(1)
