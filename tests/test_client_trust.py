"""The runbook's own redis-py clients trust only the given CA, build their context once, and can
verify a server name other than the host they connect to. Real redis-server processes, real
certificates, a real "system CA store" (OpenSSL's SSL_CERT_FILE) in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from runbook import client, files, pki, sandbox, workdir
from runbook.client import TlsClientFiles

pytestmark = pytest.mark.integration

NO_RETRY = Retry(NoBackoff(), 0)

# Run in a subprocess whose OpenSSL default verify paths (the "system store") are set by the caller.
_TRUST_PROBE = r"""
import json, socket, ssl, sys
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from runbook import client

host, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
files = client.TlsClientFiles(ca, cert, key)
no_retry = Retry(NoBackoff(), 0)
out = {}

def attempt(name, fn):
    try:
        fn()
        out[name] = "ok"
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"

def system_store_only():
    ctx = ssl.create_default_context()  # the system store, nothing else
    ctx.load_cert_chain(cert, key)
    with socket.create_connection((host, port), 5) as raw, ctx.wrap_socket(raw, server_hostname=host):
        pass

def pool_ping():
    pool = client.redis_pool(host, port, files)
    try:
        redis.Redis(connection_pool=pool).ping()
    finally:
        pool.disconnect()

attempt("create_default_context", system_store_only)
attempt("redis-py ssl_ca_certs", lambda: redis.Redis(
    host=host, port=port, ssl=True, retry=no_retry, socket_timeout=5, **client.ssl_kwargs(files)).ping())
attempt("runbook redis_client", lambda: client.redis_client(host, port, files, retry=no_retry).ping())
attempt("runbook redis_pool", pool_ping)
print(json.dumps(out))
"""


def _pki_with_server(session_work: Path, dest: Path, issued: pki.Issued) -> pki.PkiPaths:
    """A copy of the session PKI (its CA and client certificates) with ``issued`` as the server's."""
    shutil.copytree(workdir.pki_dir(session_work), dest)
    paths = pki.PkiPaths(dest)
    files.write_file(paths.server_cert, issued.cert_pem())
    files.write_file(paths.server_key, issued.key_pem(), files.PRIVATE)
    return paths


def _probe_trust(port: int, tls: TlsClientFiles, system_ca: Path | None, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    empty_dir = tmp_path / "no-certs"
    empty_dir.mkdir(exist_ok=True)
    env["SSL_CERT_DIR"] = str(empty_dir)  # nothing from the host's own store either way
    if system_ca is not None:
        env["SSL_CERT_FILE"] = str(system_ca)
    else:
        env["SSL_CERT_FILE"] = str(tmp_path / "no-such-bundle.pem")
    argv = [sys.executable, "-c", _TRUST_PROBE, "localhost", str(port), tls.ca, str(tls.cert), str(tls.key)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, str] = json.loads(proc.stdout)
    return result


def test_a_ca_in_the_system_store_but_not_in_ca_crt_is_refused(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    public_ca = pki.make_ca(common_name="a public CA in the system store")
    server = pki.make_leaf(
        public_ca, "localhost", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"]
    )
    paths = _pki_with_server(session_work, tmp_path / "pki", server)
    node = start_server(paths, wait=False)  # the server still requires client certs from ca.crt's CA
    tls = TlsClientFiles.from_pki(paths.root)
    store = tmp_path / "system-store.pem"
    store.write_bytes(public_ca.cert_pem())

    trusted = _probe_trust(node.port, tls, store, tmp_path)
    # the premise: with the CA in the system store, a default context trusts the server ...
    assert trusted["create_default_context"] == "ok", trusted
    # ... and so does redis-py's own SSLConnection, although ssl_ca_certs names another CA
    assert trusted["redis-py ssl_ca_certs"] == "ok", trusted
    # the runbook's clients trust ca.crt only
    for name in ("runbook redis_client", "runbook redis_pool"):
        assert "certificate verify failed" in trusted[name], trusted

    # control: without that CA in the system store, nothing trusts the server
    untrusted = _probe_trust(node.port, tls, None, tmp_path)
    assert all("certificate verify failed" in v for v in untrusted.values()), untrusted


@pytest.fixture
def named_server(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> tuple[sandbox.Node, TlsClientFiles]:
    """A server whose certificate names only redis.example.internal (no IP, no localhost)."""
    ca = pki.Issued(
        pki.load_cert(pki.PkiPaths(workdir.pki_dir(session_work)).ca_cert),
        pki.load_key(pki.PkiPaths(workdir.pki_dir(session_work)).ca_key),
    )
    leaf = pki.make_leaf(ca, "redis.example.internal", purpose="server", hostnames=["redis.example.internal"])
    paths = _pki_with_server(session_work, tmp_path / "pki", leaf)
    return start_server(paths, wait=False), TlsClientFiles.from_pki(paths.root)


def test_server_hostname_is_verified_while_connecting_to_the_address(
    named_server: tuple[sandbox.Node, TlsClientFiles],
) -> None:
    node, tls = named_server
    right = client.redis_client("127.0.0.1", node.port, tls, server_hostname="redis.example.internal")
    assert right.ping() is True
    right.close()
    pool = client.redis_pool("127.0.0.1", node.port, tls, server_hostname="redis.example.internal")
    assert redis.Redis(connection_pool=pool).set("runbook:trust", "v")
    assert redis.Redis(connection_pool=pool).get("runbook:trust") == "v"  # decode_responses on the pool
    conn = pool.get_connection()
    # what the socket was wrapped with: Python sends it as SNI (a DNS name) and checks it
    assert conn._sock.server_hostname == "redis.example.internal"  # type: ignore[attr-defined]
    assert conn._sock.getpeername()[0] == "127.0.0.1"  # type: ignore[attr-defined]
    pool.release(conn)
    pool.disconnect()
    for name in ("wrong.example.internal", None):
        wrong = client.redis_client("127.0.0.1", node.port, tls, server_hostname=name, retry=NO_RETRY)
        with pytest.raises(redis.ConnectionError, match=r"Hostname mismatch|IP address mismatch"):
            wrong.ping()
        wrong.close()


def test_the_context_is_built_once_per_client_and_pool(tls_sandbox: sandbox.Sandbox, tmp_path: Path) -> None:
    """Connections opened after the CA, certificate and key files are gone still verify: nothing is
    read per connect. redis-py's SSLConnection would read them (and the system store) every time."""
    pki_copy = tmp_path / "pki"
    shutil.copytree(tls_sandbox.pki_dir, pki_copy)
    tls = TlsClientFiles.from_pki(pki_copy)
    port = tls_sandbox.primary.port
    one = client.redis_client("localhost", port, tls, retry=NO_RETRY)
    pool = client.redis_pool("localhost", port, tls)
    shutil.rmtree(pki_copy)
    try:
        assert one.ping() is True  # its first connect
        connections = [pool.get_connection() for _ in range(3)]  # three connects, none released
        contexts = {id(c.ssl_context) for c in connections}  # type: ignore[attr-defined]
        assert contexts == {id(pool.connection_kwargs["ssl_context"])}
        for c in connections:
            c.send_command("PING")
            assert c.read_response() == "PONG"
            pool.release(c)
    finally:
        one.close()
        pool.disconnect()


def test_redis_py_ssl_arguments_are_refused_by_the_connection_class(tls_sandbox: sandbox.Sandbox) -> None:
    ctx = client.tls_context(tls_sandbox.client_files())
    with pytest.raises(TypeError, match="ssl_ca_certs"):
        client.ContextSSLConnection(ssl_context=ctx, ssl_ca_certs="ca.crt")
