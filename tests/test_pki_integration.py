"""Certificates from runbook.pki against real parties: redis-server, OpenSSL, Python 3.13.

Each test completes a real mutual-TLS handshake with hostname checking and VERIFY_X509_STRICT.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from redis.backoff import NoBackoff
from redis.retry import Retry

from guide_certs import guide_style_ca
from runbook import pki, sandbox
from runbook.client import TlsClientFiles, redis_client, tls_context
from runbook.files import PRIVATE, write_file

pytestmark = pytest.mark.integration


def _python313() -> str | None:
    for cand in (
        sorted(Path("/root/.pyenv/versions").glob("3.1[3-9]*/bin/python3"))
        if Path("/root/.pyenv/versions").is_dir()
        else []
    ):
        return str(cand)
    found = shutil.which("python3.13")
    if found and subprocess.run([found, "-V"], capture_output=True, check=False).returncode == 0:
        return found
    return None


def _start(tmp_path: Path, root: Path, **extra: str) -> sandbox.Node:
    paths = pki.PkiPaths(root)
    node_dir = tmp_path / "node"
    directives = sandbox.base_conf(node_dir, paths, sandbox.free_port())
    directives.update(extra)
    return sandbox.start_node("test", "primary", node_dir, directives, paths)


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "rsa-4096"])
def test_real_redis_strict_mutual_tls(tmp_path: Path, key_type: str) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(key_type=key_type))
    node = _start(tmp_path, root)
    try:
        files = TlsClientFiles.from_pki(root)
        client = redis_client("localhost", node.port, files)
        assert client.ping() is True
        conn = client.connection_pool.get_connection()
        try:
            sock = conn._sock
            assert isinstance(sock, ssl.SSLSocket)
            assert sock.context.check_hostname and sock.context.verify_flags & ssl.VERIFY_X509_STRICT
            assert sock.version() in ("TLSv1.2", "TLSv1.3")
            peer = x509.load_der_x509_certificate(sock.getpeercert(binary_form=True) or b"")
            assert pki.key_description(peer.public_key())[0] == key_type
        finally:
            client.connection_pool.release(conn)
        # mutual TLS is really enforced: no client certificate, no command
        with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
            redis_client(
                "localhost",
                node.port,
                TlsClientFiles(files.ca),
                socket_timeout=2,
                retry=Retry(NoBackoff(), 0),
            ).ping()
        # hostname checking is really on: a name outside the SANs is rejected
        ctx = tls_context(files)
        import socket

        with (
            socket.create_connection(("127.0.0.1", node.port), timeout=5) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            ctx.wrap_socket(raw, server_hostname="redis.other.example")
    finally:
        sandbox.stop_node(node)
    assert not sandbox.pid_alive(node.pid)


def test_encrypted_server_key_with_tls_key_file_pass(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(server_key_passphrase=b"redis-pass-1"))
    node = _start(tmp_path, root, **{"tls-key-file-pass": "redis-pass-1"})
    try:
        assert redis_client("localhost", node.port, TlsClientFiles.from_pki(root)).ping()
    finally:
        sandbox.stop_node(node)


def test_openssl_verify_x509_strict(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(clients=["redis-client", "app"], key_type="rsa-2048"))
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-x509_strict",
            "-CAfile",
            "ca.crt",
            "redis-server.crt",
            "redis-client.crt",
            "clients/app.crt",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == 3


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "rsa-2048"])
def test_openssl_commands_produce_an_equivalent_pki(tmp_path: Path, key_type: str) -> None:
    """The commands the notebook shows really work and pass strict verification."""
    script = pki.openssl_commands(str(tmp_path / "ossl"), ["localhost"], ["127.0.0.1"], key_type=key_type)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    root = tmp_path / "ossl"
    assert oct((root / "redis-server.key").stat().st_mode & 0o777) == "0o600"
    assert all(r.status == "pass" for r in pki.ca_profile(root / "ca.crt"))
    assert pki.inspect(root / "redis-server.crt").key_type == key_type
    assert all(r.status == "pass" for r in pki.verify(root)), pki.verify(root)
    node = _start(tmp_path, root)
    try:
        assert redis_client("localhost", node.port, TlsClientFiles.from_pki(root)).ping()
    finally:
        sandbox.stop_node(node)


PING_313 = r"""
import socket, ssl, sys
ca, cert, key, port = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)   # 3.13 default: VERIFY_X509_STRICT on
assert ctx.verify_flags & ssl.VERIFY_X509_STRICT
if cert != "-":
    ctx.load_cert_chain(cert, key)
with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"PING\r\n")
        print(s.recv(64).decode().strip())
"""


def test_python_313_default_context_accepts_our_ca_and_rejects_the_guides(tmp_path: Path) -> None:
    py313 = _python313()
    if not py313:
        pytest.skip("no Python >= 3.13 interpreter on this machine")
    root = tmp_path / "pki"
    pki.create_pki(root)
    node = _start(tmp_path, root)
    try:
        ours = subprocess.run(
            [
                py313,
                "-c",
                PING_313,
                str(root / "ca.crt"),
                str(root / "redis-client.crt"),
                str(root / "redis-client.key"),
                str(node.port),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert ours.returncode == 0 and ours.stdout.strip() == "+PONG", ours.stderr
    finally:
        sandbox.stop_node(node)

    # The common guide's CA: CA:TRUE but no keyUsage extension. Same server set-up otherwise.
    guide = tmp_path / "guide"
    guide.mkdir()
    guide_ca = guide_style_ca()
    (guide / "ca.crt").write_bytes(guide_ca.cert_pem())
    (guide / "ca.key").write_bytes(
        guide_ca.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    for name_, purpose in (("redis-server", "server"), ("redis-client", "client")):
        leaf = pki.make_leaf(
            guide_ca,
            "localhost" if purpose == "server" else name_,
            purpose=purpose,  # type: ignore[arg-type]
            hostnames=["localhost"] if purpose == "server" else [name_],
            ips=["127.0.0.1"] if purpose == "server" else [],
        )
        write_file(guide / f"{name_}.crt", leaf.cert_pem())
        write_file(guide / f"{name_}.key", leaf.key_pem(), PRIVATE)
    paths = pki.PkiPaths(guide)
    node_dir = tmp_path / "guide-node"
    node = sandbox.start_node(
        "guide",
        "primary",
        node_dir,
        sandbox.base_conf(node_dir, paths, sandbox.free_port()),
        paths,
        wait=False,
    )
    try:
        # The server itself works: a lax (non-strict) Python client gets PONG ...
        lax = dict(
            ssl_ca_certs=str(guide / "ca.crt"),
            ssl_certfile=str(guide / "redis-client.crt"),
            ssl_keyfile=str(guide / "redis-client.key"),
        )
        for _ in range(100):
            try:
                assert redis.Redis(host="localhost", port=node.port, ssl=True, socket_timeout=2, **lax).ping()  # type: ignore[arg-type]
                break
            except redis.ConnectionError:
                import time

                time.sleep(0.05)
        # ... but Python 3.13's default context refuses the guide's CA.
        theirs = subprocess.run(
            [
                py313,
                "-c",
                PING_313,
                str(guide / "ca.crt"),
                str(guide / "redis-client.crt"),
                str(guide / "redis-client.key"),
                str(node.port),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert theirs.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in theirs.stderr and "key usage" in theirs.stderr.lower()
    finally:
        sandbox.stop_node(node)
