"""Ready-to-run client code for one endpoint: redis-cli, openssl s_client, redis-py, ioredis.

Each snippet uses its tool's public options only (the redis-py ones the public ``ssl_*`` arguments,
which also trust the system CA store: see docs/audit-checks.md), names file paths and never key material.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.client.contexts import TlsClientFiles


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
        # -cert sends the first certificate only: a file holding leaf + intermediates (step, Vault) also
        # needs -cert_chain, or a server trusting only the root refuses the client ("unknown ca")
        chain = f" -cert_chain {_q(files.cert)}" if _holds_a_chain(files.cert) else ""
        lines.append(f"  -cert {_q(files.cert)} -key {_q(files.key or '')}{chain} \\")
    lines.append("  -brief -ign_eof")
    return Snippet("openssl s_client", "shell", "\n".join(lines), "+PONG")


def _holds_a_chain(path: str) -> bool:
    """Does the PEM file at ``path`` hold more than one certificate? (False when it cannot be read.)"""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().count("-----BEGIN CERTIFICATE-----") > 1
    except OSError:
        return False


def _redis_py_tls_lines(files: TlsClientFiles) -> str:
    """The redis-py ``ssl_*`` keyword lines both redis-py snippets share (4-space indented)."""
    cert_lines = f"    ssl_certfile={files.cert!r},\n    ssl_keyfile={files.key!r},\n" if files.cert else ""
    return (
        f"    ssl_ca_certs={files.ca!r},\n"
        f"{cert_lines}"
        '    ssl_cert_reqs="required",\n'
        "    ssl_check_hostname=True,\n"
        "    ssl_min_version=ssl.TLSVersion.TLSv1_2,\n"
        "    decode_responses=True,\n"
    )


def _name_note(host: str, server_name: str | None) -> str:
    """redis-py verifies the host it connects to: a comment when the certificate names another."""
    if server_name and server_name != host:
        return "# the certificate must name the host you connect to: " + server_name + "\n"
    return ""


def redis_py_snippet(host: str, port: int, files: TlsClientFiles, server_name: str | None = None) -> Snippet:
    """redis-py client with the ``ssl_*`` arguments that really exist (there is no ``ssl_context=``)."""
    text = (
        "import ssl\n\n"
        "import redis\n\n"
        "r = redis.Redis(\n"
        f"    host={host!r},\n"
        f"    port={port},\n"
        "    ssl=True,\n"
        f"{_redis_py_tls_lines(files)}"
        ")\n"
        'print("PONG" if r.ping() else "no answer")\n'
    )
    text = _name_note(host, server_name) + text
    return Snippet("redis-py", "python", text, "PONG")


def redis_py_pool_snippet(
    host: str, port: int, files: TlsClientFiles, server_name: str | None = None
) -> Snippet:
    """A redis-py TLS pool: ``connection_class=SSLConnection``, ``decode_responses`` on the pool."""
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
        f"{_redis_py_tls_lines(files)}"
        "    max_connections=10,\n"
        ")\n"
        "r = redis.Redis(connection_pool=pool)\n"
        'r.set("runbook:snippet", "ok", ex=60)  # with a TTL: a check leaves nothing behind\n'
        'assert r.get("runbook:snippet") == "ok"  # str, not bytes: decode_responses is on the pool\n'
        'print("PONG" if r.ping() else "no answer")\n'
    )
    text = _name_note(host, server_name) + text
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
