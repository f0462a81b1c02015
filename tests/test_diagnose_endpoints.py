"""diagnose_endpoint against real broken redis-servers built here, in combinations the drills do not use.

Each test starts its own redis-server(s) on free loopback ports with the shared session PKI
(extra certificates are issued in the test folder) and stops them afterwards.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook import diagnose, pki, sandbox, workdir
from runbook.client import Endpoint, TlsClientFiles
from runbook.drills import DrillEnv

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def env(session_work: Path, tmp_path: Path) -> Iterator[DrillEnv]:
    paths = pki.PkiPaths(workdir.pki_dir(session_work))
    ca = pki.Issued(pki.load_cert(paths.ca_cert), pki.load_key(paths.ca_key))
    box = DrillEnv(tmp_path, paths, ca)
    yield box
    for node in box.nodes:
        sandbox.stop_node(node)
    assert not any(sandbox.pid_alive(n.pid) for n in box.nodes)


def _diag(env: DrillEnv, node: sandbox.Node, host: str = "localhost", **kw: object) -> diagnose.Diagnosis:
    args: dict[str, object] = {**env.client_kwargs(), "timeout": 1.0, "log_file": node.log_path, **kw}
    files = TlsClientFiles(str(args.pop("ca") or ""), args.pop("cert"), args.pop("key"))  # type: ignore[arg-type]
    where = Endpoint(host, node.port or node.plaintext_port, str(args.pop("server_name", "")), files)
    return diagnose.diagnose_endpoint(where, **args)  # type: ignore[arg-type]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_healthy_endpoint_is_ok_with_evidence(env: DrillEnv) -> None:
    d = _diag(env, env.start("s"))
    assert d.cause == "ok", d
    assert any("TLSv1.3" in e for e in d.evidence)


def test_ipv6_loopback_is_ok_and_a_wrong_name_is_a_hostname_mismatch(env: DrillEnv) -> None:
    node = env.start("s")
    if _has_ipv6_loopback():  # Redis skips a bind address the machine lacks; so does this check
        assert _diag(env, node, host="::1").cause == "ok"
    d = _diag(env, node, host="127.0.0.1", server_name="redis.example.com")
    assert d.cause == "hostname-mismatch", d
    assert any("SANs DNS:localhost" in e for e in d.evidence)


def test_ip_not_in_san_is_a_hostname_mismatch(env: DrillEnv) -> None:
    crt, key = env.write_pair("dns-only", env.leaf("server", "localhost", ips=[]))
    d = _diag(env, env.start("s", tls_cert_file=crt, tls_key_file=key), host="127.0.0.1")
    assert d.cause == "hostname-mismatch", d


def test_optional_client_auth_without_certificate_is_ok(env: DrillEnv) -> None:
    d = _diag(env, env.start("s", tls_auth_clients="optional"), cert=None, key=None)
    assert d.cause == "ok", d


def test_plaintext_client_on_plaintext_port_is_ok(env: DrillEnv) -> None:
    node = env.start("s", port=str(sandbox.free_port()), tls_port="0")
    assert _diag(env, node, tls=False).cause == "ok"


def test_tls12_only_server_without_client_cert_is_client_cert_missing(env: DrillEnv) -> None:
    d = _diag(env, env.start("s", tls_protocols="TLSv1.2"), cert=None, key=None)
    assert d.cause == "client-cert-missing", d


def test_tls12_only_server_with_foreign_client_cert_is_untrusted(env: DrillEnv) -> None:
    other = pki.make_ca(common_name="elsewhere")
    crt, key = env.write_pair("c", pki.make_leaf(other, "c", purpose="client", hostnames=["c"]))
    d = _diag(env, env.start("s", tls_protocols="TLSv1.2"), cert=crt, key=key)
    assert d.cause == "client-cert-untrusted", d


def test_cipher_mismatch_without_client_cert_is_still_no_shared_cipher(env: DrillEnv) -> None:
    node = env.start("s", tls_protocols="TLSv1.2", tls_ciphers="ECDHE-ECDSA-CHACHA20-POLY1305")
    d = _diag(env, node, cert=None, key=None, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    assert d.cause == "no-shared-cipher", d


@pytest.mark.parametrize(
    ("server", "client"),
    [
        ("TLSv1.3", {"max_version": ssl.TLSVersion.TLSv1_2}),
        ("TLSv1.2", {"min_version": ssl.TLSVersion.TLSv1_3}),
    ],
)
def test_version_mismatch_either_way_is_protocol_mismatch(
    env: DrillEnv, server: str, client: dict[str, object]
) -> None:
    d = _diag(env, env.start("s", tls_protocols=server), **client)
    assert d.cause == "protocol-mismatch", d


def test_expired_client_certificate_is_cert_expired(env: DrillEnv) -> None:
    old = env.leaf(
        "client", "old-app", not_before=NOW - dt.timedelta(days=90), not_after=NOW - dt.timedelta(days=1)
    )
    crt, key = env.write_pair("old-app", old)
    d = _diag(env, env.start("s"), cert=crt, key=key)
    assert d.cause == "cert-expired", d


def test_rsa_server_not_yet_valid(env: DrillEnv) -> None:
    issued = env.leaf(
        "server",
        key_type="rsa-2048",
        not_before=NOW + dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=9),
    )
    crt, key = env.write_pair("rsa", issued)
    d = _diag(env, env.start("s", tls_cert_file=crt, tls_key_file=key))
    assert d.cause == "cert-not-yet-valid", d


def test_server_certificate_without_server_auth(env: DrillEnv) -> None:
    crt, key = env.write_pair("client-as-server", env.leaf("client", "localhost", ips=["127.0.0.1"]))
    d = _diag(env, env.start("s", tls_cert_file=crt, tls_key_file=key))
    assert d.cause == "server-cert-wrong-usage", d


def test_no_ca_given_uses_the_system_store_and_is_untrusted(env: DrillEnv) -> None:
    d = _diag(env, env.start("s"), ca=None)
    assert d.cause == "untrusted-ca", d


def test_missing_ca_file_at_start_is_unreadable(env: DrillEnv) -> None:
    node = env.start("s", listening=False, tls_ca_cert_file=str(env.root / "gone-ca.crt"))
    assert _wait_gone(node)
    d = _diag(env, node)
    assert d.cause == "server-file-unreadable", d
    assert any("gone-ca.crt" in e or "CA certificate" in e for e in d.evidence)


def test_encrypted_key_without_passphrase_is_a_passphrase_problem(env: DrillEnv) -> None:
    issued = pki.Issued(pki.load_cert(env.paths.server_cert), pki.load_key(env.paths.server_key))
    crt, key = env.write_pair("enc", issued, passphrase=b"s3cret")
    node = env.start("s", listening=False, tls_cert_file=crt, tls_key_file=key)
    assert _wait_gone(node)
    assert _diag(env, node).cause == "server-key-passphrase"


def test_certificate_path_is_a_directory_is_unreadable(env: DrillEnv) -> None:
    (env.root / "certdir").mkdir()
    node = env.start("s", listening=False, tls_cert_file=str(env.root / "certdir"))
    assert _wait_gone(node)
    assert _diag(env, node).cause == "server-file-unreadable"


def test_healthy_replica_with_client_certificate_is_ok(env: DrillEnv) -> None:
    primary = env.start("p", tls_replication="yes")
    replica = env.start(
        "r",
        tls_replication="yes",
        replicaof=f"127.0.0.1 {primary.port}",
        tls_client_cert_file=str(env.paths.client_cert()),
        tls_client_key_file=str(env.paths.client_key()),
    )
    d = _diag(env, replica)  # the primary's diskless-sync delay (5 s) keeps the link down at first
    assert d.cause == "ok", d
    assert any("link to its primary is up" in e for e in d.evidence)


def test_sandbox_log_is_found_by_port(tls_sandbox: sandbox.Sandbox, session_work: Path) -> None:
    files = tls_sandbox.client_files()
    node = tls_sandbox.primary
    assert diagnose.sandbox_log_for(node.port, session_work) == node.log_path
    ok = diagnose.diagnose_endpoint(Endpoint("localhost", node.port, files=files), work=session_work)
    assert ok.cause == "ok", ok
    anonymous = Endpoint("localhost", node.port, files=TlsClientFiles(files.ca))
    d = diagnose.diagnose_endpoint(anonymous, work=session_work, timeout=1.0)
    assert d.cause == "client-cert-missing", d
    assert any("peer did not return a certificate" in e for e in d.evidence)


def _wait_gone(node: sandbox.Node) -> bool:
    from runbook.drills import _wait_dead

    return _wait_dead(node)


def test_replica_without_tls_replication_has_its_link_down(env: DrillEnv) -> None:
    primary = env.start("p")
    replica = env.start("r", replicaof=f"127.0.0.1 {primary.port}")  # tls-replication no: plaintext link
    d = _diag(env, replica, settle=1.0)
    assert d.cause == "replication-link-down", d
