"""Clients built the correct way: an ``ssl.SSLContext`` and redis-py clients and pools.

What common guides get wrong, and what this module does instead:

* redis-py has no ``ssl_context=`` argument: pass the ``ssl_*`` arguments.
* ``ConnectionPool(ssl=True)`` fails at the first connection: a TLS pool needs
  ``connection_class=SSLConnection`` with the ``ssl_*`` arguments on the pool.
* ``decode_responses`` given beside ``connection_pool=`` is ignored: set it on the pool.
* redis-py's ``SSLConnection`` trusts the system CA store besides ``ssl_ca_certs`` and reloads it
  on every connect: the runbook's own clients use :class:`ContextSSLConnection` (one context that
  trusts only the given CA) and can verify a ``server_hostname`` other than the host.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import SSLConnection
from redis.retry import Retry

from runbook.errors import RunbookError
from runbook.pki import DEFAULT_CLIENT, PkiPaths
from runbook.results import CheckResult


@dataclass(frozen=True)
class TlsClientFiles:
    """The files a client needs: the CA to trust and, for mutual TLS, its certificate and key."""

    ca: str
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_pki(cls, pki_dir: Path | str, client: str | None = DEFAULT_CLIENT) -> TlsClientFiles:
        paths = PkiPaths(Path(pki_dir))
        if client is None:
            return cls(str(paths.ca_cert))
        return cls(str(paths.ca_cert), str(paths.client_cert(client)), str(paths.client_key(client)))


def tls_context(
    files: TlsClientFiles,
    *,
    check_hostname: bool = True,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    maximum: ssl.TLSVersion | None = None,
    strict: bool = True,
) -> ssl.SSLContext:
    """A client ``SSLContext``: trusts ``files.ca``, presents the client cert, TLS 1.2+ by default.

    ``strict`` adds ``VERIFY_X509_STRICT`` (Python 3.13's default) so certificates that would
    fail on 3.13 fail here too.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=files.ca)
    ctx.check_hostname = check_hostname
    ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if strict:
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if files.cert:
        ctx.load_cert_chain(files.cert, files.key)
    return ctx


def ssl_kwargs(files: TlsClientFiles, *, check_hostname: bool = True, strict: bool = True) -> dict[str, Any]:
    """The redis-py ``ssl_*`` keyword arguments that really exist, for a client or a pool."""
    kwargs: dict[str, Any] = {
        "ssl_ca_certs": files.ca,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": check_hostname,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
    }
    if files.cert:
        kwargs["ssl_certfile"] = files.cert
        kwargs["ssl_keyfile"] = files.key
    if strict:
        kwargs["ssl_include_verify_flags"] = [ssl.VERIFY_X509_STRICT]
    return kwargs


class ContextSSLConnection(SSLConnection):
    """A redis-py TLS connection that wraps every socket with one prebuilt ``ssl.SSLContext``.

    redis-py's own ``SSLConnection`` builds a context on every connect with
    ``ssl.create_default_context()``: it loads the system CA store each time (tens of ms) and so
    trusts every public CA besides ``ssl_ca_certs``. This class trusts exactly what ``ssl_context``
    trusts (:func:`tls_context`: the given CA only) and loads nothing per connect.

    ``server_hostname`` is the name sent as SNI and checked against the certificate while the
    socket goes to ``host`` (redis-py has no such option; default: ``host``). The ``ssl_*``
    arguments of ``SSLConnection`` are refused: the context carries all of that.
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext, server_hostname: str | None = None, **kwargs: Any
    ) -> None:
        ignored = sorted(k for k in kwargs if k.startswith("ssl_"))
        if ignored:
            raise TypeError(f"ContextSSLConnection takes ssl_context= only, not {', '.join(ignored)}")
        super().__init__(**kwargs)
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.check_hostname = ssl_context.check_hostname
        self.cert_reqs = ssl_context.verify_mode

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> ssl.SSLSocket:
        return self.ssl_context.wrap_socket(sock, server_hostname=self.server_hostname or self.host)


def _context_pool(
    host: str,
    port: int,
    files: TlsClientFiles,
    server_hostname: str | None,
    socket_timeout: float,
    **kwargs: Any,
) -> redis.ConnectionPool:
    """A pool of :class:`ContextSSLConnection` sharing one :func:`tls_context` (built here, once)."""
    return redis.ConnectionPool(
        connection_class=ContextSSLConnection,
        ssl_context=tls_context(files),
        server_hostname=server_hostname,
        host=host,
        port=port,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        **kwargs,
    )


def redis_client(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    server_hostname: str | None = None,
    decode_responses: bool = True,
    socket_timeout: float = 5.0,
    single_connection_client: bool = False,
    **extra: Any,
) -> redis.Redis:
    """A redis-py client over TLS that trusts only ``files.ca`` (its context is built once, here).

    Connects to ``host`` and verifies the certificate for ``server_hostname`` (default: ``host``).
    ``extra`` goes to the connections (``retry=``, ``username=``, ...); without ``retry=`` a failed
    connect is retried as ``redis.Redis`` does by default (3 times, exponential backoff with jitter).
    Closing the client closes its pool.
    """
    extra.setdefault("retry", Retry(ExponentialWithJitterBackoff(base=1, cap=10), 3))
    pool = _context_pool(
        host, port, files, server_hostname, socket_timeout, decode_responses=decode_responses, **extra
    )
    client = redis.Redis(connection_pool=pool, single_connection_client=single_connection_client)
    client.auto_close_connection_pool = True  # the pool is this client's own, as in Redis.from_pool
    return client


def redis_pool(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    server_hostname: str | None = None,
    decode_responses: bool = True,
    max_connections: int = 50,
    socket_timeout: float = 5.0,
) -> redis.ConnectionPool:
    """A TLS connection pool trusting only ``files.ca``: one context for all its connections.

    ``connection_class=ContextSSLConnection`` and ``decode_responses`` on the pool (beside
    ``connection_pool=`` redis-py ignores it). ``server_hostname`` as in :func:`redis_client`.
    """
    return _context_pool(
        host,
        port,
        files,
        server_hostname,
        socket_timeout,
        decode_responses=decode_responses,
        max_connections=max_connections,
    )


@dataclass(frozen=True)
class HandshakeInfo:
    """What a completed TLS handshake negotiated (what ``openssl s_client`` would show)."""

    protocol: str
    cipher: str
    server_subject: str
    client_subject: str


def memory_handshake(
    server_cert: str,
    server_key: str,
    files: TlsClientFiles,
    hostname: str = "localhost",
    *,
    server_key_password: bytes | None = None,
) -> HandshakeInfo:
    """A real TLS handshake between Python's client and server stacks in memory (no sockets).

    The server requires a client certificate; the client checks the hostname with
    ``VERIFY_X509_STRICT`` (Python 3.13's default), so a certificate that 3.13 would reject
    fails here. Raises ``ssl.SSLError`` / ``ssl.SSLCertVerificationError`` on failure.
    """
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.load_cert_chain(server_cert, server_key, password=server_key_password)
    server_ctx.load_verify_locations(files.ca)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    client_ctx = tls_context(files)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, end, out_bio, peer_in in (("client", client, c_out, s_in), ("server", server, s_out, c_in)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            data = out_bio.read()
            if data:
                peer_in.write(data)
        if all(done.values()):
            break
    if not all(done.values()):
        raise ssl.SSLError("handshake did not complete")
    cipher = client.cipher()
    peer = client.getpeercert() or {}
    client_peer = server.getpeercert() or {}
    return HandshakeInfo(
        protocol=client.version() or "",
        cipher=cipher[0] if cipher else "",
        server_subject=_subject_cn(peer),
        client_subject=_subject_cn(client_peer),
    )


def _subject_cn(peer: dict[str, Any]) -> str:
    for rdn in peer.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def handshake_checks(pki_dir: Path | str, hostname: str = "localhost") -> list[CheckResult]:
    """A strict in-memory mutual-TLS handshake for every client of the PKI, as check results."""
    paths = PkiPaths(Path(pki_dir))
    results = []
    for name in paths.client_names():
        check = f"strict-handshake:{name}"
        try:
            hs = memory_handshake(
                str(paths.server_cert),
                str(paths.server_key),
                TlsClientFiles.from_pki(paths.root, name),
                hostname,
            )
            results.append(
                CheckResult(check, "pass", f"{hs.protocol} to {hostname}, server {hs.server_subject}")
            )
        except (OSError, ValueError) as exc:
            results.append(
                CheckResult(check, "fail", " ".join(str(exc).split()), "re-issue with overwrite=True")
            )
    return results


# --------------------------------------------------------------------------- the run's target

TARGETS: tuple[str, ...] = ("sandbox", "external")


@dataclass(frozen=True)
class Endpoint:
    """The Redis a notebook talks to: where, the name its certificate must carry, the client files.

    ``external`` is True for a server the operator runs (nothing may be started or stopped).
    """

    host: str
    port: int
    server_name: str
    files: TlsClientFiles
    external: bool = False

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets), as the audit evidence spells it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """What a notebook shows as the target: ``sandbox`` or the external ``host:port``."""
        return self.address if self.external else "sandbox"

    @property
    def client_label(self) -> str:
        """The client certificate in use, by file name (``none``: no client certificate)."""
        return Path(self.files.cert).stem if self.files.cert else "none"


def target_endpoint(
    target: str,
    redis_host: str = "",
    redis_port: int = 0,
    server_name: str = "",
    ca_file: str = "",
    client_cert: str = "",
    client_key: str = "",
) -> Endpoint | None:
    """The external target from the notebook parameters of the README contract; None for the sandbox.

    Checks the parameters only (opens no connection): host, port and an existing CA file are
    required, ``client_cert`` and ``client_key`` go together, ``server_name`` defaults to the host.
    """
    if target not in TARGETS:
        raise RunbookError(f"unknown target {target!r}: set target to sandbox or external")
    if target == "sandbox":
        return None
    missing = [
        n for n, v in (("redis_host", redis_host), ("redis_port", redis_port), ("ca_file", ca_file)) if not v
    ]
    if missing:
        raise RunbookError(
            f"target external needs {', '.join(missing)}: set it (runbook run --{missing[0].replace('_', '-')})"
        )
    if bool(client_cert) != bool(client_key):
        raise RunbookError("client_cert and client_key go together: set both or neither")
    if not 0 < int(redis_port) < 65536:
        raise RunbookError(
            f"redis_port {redis_port} is not a TCP port: pass --redis-port, the server's TLS port"
        )
    for name, value in (("ca_file", ca_file), ("client_cert", client_cert), ("client_key", client_key)):
        if value and not Path(value).is_file():
            flag = name.replace("_", "-")
            raise RunbookError(f"{name} {value} is not a file: pass the PEM file's path with --{flag}")
    files = TlsClientFiles(ca_file, client_cert or None, client_key or None)
    return Endpoint(redis_host, int(redis_port), server_name or redis_host, files, external=True)


# --------------------------------------------------------------------------- rediss:// URLs


def redis_url(
    host: str, port: int, files: TlsClientFiles, *, db: int = 0, check_hostname: bool = True
) -> str:
    """A ``rediss://`` URL carrying the ``ssl_*`` settings as query arguments (no secrets, only paths)."""
    from urllib.parse import urlencode

    query: dict[str, str] = {"ssl_cert_reqs": "required", "ssl_ca_certs": files.ca}
    if files.cert:
        query["ssl_certfile"] = files.cert
        query["ssl_keyfile"] = files.key or ""
    query["ssl_check_hostname"] = "true" if check_hostname else "false"
    netloc = f"[{host}]" if ":" in host else host
    return f"rediss://{netloc}:{port}/{db}?{urlencode(query)}"


def redis_from_url(url: str, *, decode_responses: bool = True, socket_timeout: float = 5.0) -> redis.Redis:
    """A redis-py client from a ``rediss://`` URL (TLS 1.2 minimum added; ``decode_responses`` kept)."""
    return redis.Redis.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        ssl_min_version=ssl.TLSVersion.TLSv1_2,
    )


# --------------------------------------------------------------------------- snippets


@dataclass(frozen=True)
class Snippet:
    """Ready-to-run client code for one tool: ``language`` is shell, python or javascript.

    ``text`` runs as printed (tests execute every snippet against a real TLS server); it names
    file paths only, never key material.
    """

    tool: str
    language: str
    text: str
    expect: str  # what a successful run prints, e.g. "PONG"


def _q(value: str) -> str:
    import shlex

    return shlex.quote(value)


def redis_cli_snippet(
    host: str, port: int, files: TlsClientFiles, server_name: str | None = None, command: str = "PING"
) -> Snippet:
    """``redis-cli --tls`` with ``--cacert --cert --key --sni`` (prints PONG)."""
    parts = ["redis-cli", "-h", _q(host), "-p", str(port), "--tls", "--cacert", _q(files.ca)]
    if files.cert:
        parts += ["--cert", _q(files.cert), "--key", _q(files.key or "")]
    parts += ["--sni", _q(server_name or host), command]
    return Snippet("redis-cli", "shell", " ".join(parts), "PONG")


def openssl_snippet(host: str, port: int, files: TlsClientFiles, server_name: str | None = None) -> Snippet:
    """``openssl s_client`` that verifies strictly (chain, hostname), sends PING and QUIT, and exits."""
    name = server_name or host
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [
        "printf 'PING\\r\\nQUIT\\r\\n' | openssl s_client -connect " + _q(target) + " \\",
        f"  -servername {_q(name)} -verify_hostname {_q(name)} -verify_return_error -x509_strict \\",
        f"  -CAfile {_q(files.ca)} \\",
    ]
    if files.cert:
        lines.append(f"  -cert {_q(files.cert)} -key {_q(files.key or '')} \\")
    lines.append("  -brief -ign_eof")
    return Snippet("openssl s_client", "shell", "\n".join(lines), "+PONG")


def redis_py_snippet(host: str, port: int, files: TlsClientFiles, server_name: str | None = None) -> Snippet:
    """redis-py client with the ``ssl_*`` arguments that really exist (there is no ``ssl_context=``)."""
    cert_lines = f"    ssl_certfile={files.cert!r},\n    ssl_keyfile={files.key!r},\n" if files.cert else ""
    text = (
        "import ssl\n\n"
        "import redis\n\n"
        "r = redis.Redis(\n"
        f"    host={host!r},\n"
        f"    port={port},\n"
        "    ssl=True,\n"
        f"    ssl_ca_certs={files.ca!r},\n"
        f"{cert_lines}"
        '    ssl_cert_reqs="required",\n'
        "    ssl_check_hostname=True,\n"
        "    ssl_min_version=ssl.TLSVersion.TLSv1_2,\n"
        "    decode_responses=True,\n"
        ")\n"
        'print("PONG" if r.ping() else "no answer")\n'
    )
    if server_name and server_name != host:
        text = "# the certificate must name the host you connect to: " + server_name + "\n" + text
    return Snippet("redis-py", "python", text, "PONG")


def redis_py_pool_snippet(
    host: str, port: int, files: TlsClientFiles, server_name: str | None = None
) -> Snippet:
    """A redis-py TLS pool: ``connection_class=SSLConnection``, ``decode_responses`` on the pool."""
    cert_lines = f"    ssl_certfile={files.cert!r},\n    ssl_keyfile={files.key!r},\n" if files.cert else ""
    text = (
        "import ssl\n\n"
        "import redis\n"
        "from redis.connection import SSLConnection\n\n"
        "# ConnectionPool(ssl=True) does not exist: a TLS pool needs connection_class=SSLConnection,\n"
        "# and decode_responses belongs to the pool (beside connection_pool= it is ignored).\n"
        "pool = redis.ConnectionPool(\n"
        "    connection_class=SSLConnection,\n"
        f"    host={host!r},\n"
        f"    port={port},\n"
        f"    ssl_ca_certs={files.ca!r},\n"
        f"{cert_lines}"
        '    ssl_cert_reqs="required",\n'
        "    ssl_check_hostname=True,\n"
        "    ssl_min_version=ssl.TLSVersion.TLSv1_2,\n"
        "    decode_responses=True,\n"
        "    max_connections=10,\n"
        ")\n"
        "r = redis.Redis(connection_pool=pool)\n"
        'r.set("runbook:snippet", "ok")\n'
        'assert r.get("runbook:snippet") == "ok"  # str, not bytes: decode_responses is on the pool\n'
        'print("PONG" if r.ping() else "no answer")\n'
    )
    if server_name and server_name != host:
        text = "# the certificate must name the host you connect to: " + server_name + "\n" + text
    return Snippet("redis-py pool", "python", text, "PONG")


def ioredis_snippet(host: str, port: int, files: TlsClientFiles, server_name: str | None = None) -> Snippet:
    """ioredis (Node.js) over mutual TLS: CA, client cert and key, hostname checked against ``servername``."""
    import json

    name = server_name or host
    cert_lines = (
        f"    cert: fs.readFileSync({json.dumps(files.cert)}),\n"
        f"    key: fs.readFileSync({json.dumps(files.key)}),\n"
        if files.cert
        else ""
    )
    text = (
        'const fs = require("fs");\n'
        'const tls = require("tls");\n'
        'const Redis = require("ioredis");\n\n'
        "const redis = new Redis({\n"
        f"  host: {json.dumps(host)},\n"
        f"  port: {port},\n"
        "  tls: {\n"
        f"    ca: fs.readFileSync({json.dumps(files.ca)}),\n"
        f"{cert_lines}"
        f"    servername: {json.dumps(name)},\n"
        '    minVersion: "TLSv1.2",\n'
        "    rejectUnauthorized: true,\n"
        "    // the certificate must name the server: never replace this with a function that returns undefined\n"
        f"    checkServerIdentity: (host, cert) => tls.checkServerIdentity({json.dumps(name)}, cert),\n"
        "  },\n"
        "  maxRetriesPerRequest: 1,\n"
        "  retryStrategy: () => null,\n"
        "});\n"
        'redis.on("error", (err) => console.error(err.message));\n'
        "redis\n"
        "  .ping()\n"
        "  .then((reply) => { console.log(reply); return redis.quit(); })\n"
        "  .catch((err) => { console.error(err.message); process.exit(1); });\n"
    )
    return Snippet("ioredis", "javascript", text, "PONG")


def snippets(host: str, port: int, files: TlsClientFiles, server_name: str | None = None) -> list[Snippet]:
    """Every client snippet for one endpoint: redis-cli, openssl s_client, redis-py, pool, ioredis."""
    return [
        redis_cli_snippet(host, port, files, server_name),
        openssl_snippet(host, port, files, server_name),
        redis_py_snippet(host, port, files, server_name),
        redis_py_pool_snippet(host, port, files, server_name),
        ioredis_snippet(host, port, files, server_name),
    ]


@dataclass(frozen=True)
class SnippetRun:
    """The outcome of running one snippet as printed."""

    tool: str
    ran: bool
    ok: bool
    output: str


def run_snippet(
    snippet: Snippet, *, node_dir: Path | str | None = None, timeout: float = 30.0, skip_reason: str = ""
) -> SnippetRun:
    """Run ``snippet`` exactly as printed: shell with bash, Python with this interpreter, JavaScript with
    node in ``node_dir`` (a folder where ``npm install ioredis`` was run). Starts a process.

    ``ran`` is False (with the reason in ``output``) when the tool is not available here, or when
    ``skip_reason`` is given (see :func:`redis_py_skip_reason`).
    """
    import shutil
    import subprocess
    import sys
    import tempfile

    if skip_reason:
        return SnippetRun(snippet.tool, False, False, f"not run: {skip_reason}")
    cwd: str | None = None
    if snippet.language == "shell":
        argv = ["bash", "-c", snippet.text]
    elif snippet.language == "python":
        argv = [sys.executable, "-c", snippet.text]
    else:
        if not shutil.which("node"):
            return SnippetRun(snippet.tool, False, False, "not run: node is not installed")
        if not node_dir or not (Path(node_dir) / "node_modules" / "ioredis").is_dir():
            return SnippetRun(
                snippet.tool, False, False, "not run: set install_ioredis=True (npm install ioredis)"
            )
        cwd = str(node_dir)
        with tempfile.NamedTemporaryFile("w", suffix=".js", dir=cwd, delete=False) as fh:
            fh.write(snippet.text)
        argv = ["node", fh.name]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)
    except subprocess.TimeoutExpired:
        return SnippetRun(snippet.tool, True, False, f"timed out after {timeout:.0f}s")
    finally:
        if cwd:
            Path(argv[1]).unlink(missing_ok=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    ok = proc.returncode == 0 and snippet.expect in lines
    shown = snippet.expect if ok else " ".join((proc.stderr or proc.stdout).split())[:200]
    return SnippetRun(snippet.tool, True, ok, shown)


def redis_py_skip_reason(host: str, port: int, files: TlsClientFiles, server_name: str = "") -> str:
    """Why redis-py cannot verify this server, or "" when it can. Opens at most one connection.

    redis-py (7.4) verifies the certificate for the host it connects to and has no SNI / server-name
    option: reached by an address its certificate does not name (``server_name`` differs), a verified
    redis-py connection is impossible. Any other failure returns "" so that redis-py reports it itself.
    """
    if not server_name or server_name == host:
        return ""
    try:
        with (
            socket.create_connection((host, port), timeout=5) as raw,
            tls_context(files).wrap_socket(raw, server_hostname=host),
        ):
            return ""
    except ssl.SSLCertVerificationError as exc:
        if "mismatch" not in str(exc) and "doesn't match" not in str(exc):
            return ""
    except OSError:
        return ""
    return (
        f"redis-py verifies the certificate for the host it connects to ({host}), which the certificate "
        f"does not name, and has no server-name option: connect by a name it carries ({server_name})"
    )


def common_mistakes(
    host: str, port: int, files: TlsClientFiles, *, skip_reason: str = ""
) -> list[CheckResult]:
    """Prove, live, that the redis-py mistakes of common guides fail (each ``pass`` = fails as documented).

    Side effects: connections to the server, and one key ``runbook:mistakes`` written. With
    ``skip_reason`` (see :func:`redis_py_skip_reason`) the check that needs a verified connection is
    a ``skip`` and nothing is written.
    """
    results = []
    try:
        redis.Redis(host=host, port=port, ssl_context=tls_context(files))  # type: ignore[call-arg]
        results.append(CheckResult("ssl_context=", "fail", "accepted: this redis-py has ssl_context"))
    except TypeError as exc:
        results.append(CheckResult("ssl_context=", "pass", f"TypeError: {exc}", "use the ssl_* arguments"))
    pool = redis.ConnectionPool(host=host, port=port, ssl=True, ssl_ca_certs=files.ca, socket_timeout=5)
    try:
        redis.Redis(connection_pool=pool).ping()
        results.append(CheckResult("ConnectionPool(ssl=True)", "fail", "connected"))
    except TypeError as exc:
        results.append(
            CheckResult(
                "ConnectionPool(ssl=True)",
                "pass",
                f"created fine, first command: TypeError: {exc}",
                "connection_class=SSLConnection",
            )
        )
    finally:
        pool.disconnect()
    if skip_reason:
        results.append(CheckResult("decode_responses beside connection_pool=", "skip", skip_reason))
        return results
    raw_pool = redis_pool(host, port, files, decode_responses=False)
    try:
        r = redis.Redis(connection_pool=raw_pool, decode_responses=True)
        r.set("runbook:mistakes", "v")
        value = r.get("runbook:mistakes")
        ignored = isinstance(value, bytes)
        results.append(
            CheckResult(
                "decode_responses beside connection_pool=",
                "pass" if ignored else "fail",
                f"ignored: GET returned {value!r}" if ignored else f"honoured: GET returned {value!r}",
                "set decode_responses on the pool",
            )
        )
    finally:
        raw_pool.disconnect()
    return results


def install_ioredis(folder: Path | str, timeout: float = 300.0) -> Path:
    """``npm install ioredis`` into ``folder`` (idempotent: skipped when present). Writes files, uses npm."""
    import shutil
    import subprocess

    target = Path(folder)
    if (target / "node_modules" / "ioredis").is_dir():
        return target
    if not shutil.which("npm"):
        raise RunbookError("npm is not installed: apt-get install nodejs npm, or leave install_ioredis off")
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "ioredis"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RunbookError(f"npm install ioredis failed ({last}): check access to the npm registry")
    return target
