"""The external-target helpers notebooks 02 and 03 use: parameters -> Endpoint, probes by server name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runbook import sandbox
from runbook.client import Endpoint, TlsClientFiles, probe, target_endpoint
from runbook.errors import RunbookError
from runbook.pki import PkiPaths


def _files(tmp_path: Path) -> tuple[str, str, str]:
    paths = [tmp_path / n for n in ("ca.crt", "c.crt", "c.key")]
    for p in paths:
        p.write_text("pem")
    return str(paths[0]), str(paths[1]), str(paths[2])


def test_sandbox_target_gives_no_endpoint_and_unknown_target_is_refused() -> None:
    assert target_endpoint("sandbox") is None
    with pytest.raises(RunbookError, match="sandbox or external"):
        target_endpoint("prod")


def test_external_endpoint_from_parameters(tmp_path: Path) -> None:
    ca, cert, key = _files(tmp_path)
    ep = target_endpoint("external", "10.0.0.5", 6380, "", ca, cert, key)
    assert ep == Endpoint("10.0.0.5", 6380, "10.0.0.5", TlsClientFiles(ca, cert, key), external=True)
    assert (ep.address, ep.label, ep.client_label) == ("10.0.0.5:6380", "10.0.0.5:6380", "c")
    v6 = target_endpoint("external", "::1", 6380, "redis.internal", ca)
    assert v6 is not None and v6.address == "[::1]:6380" and v6.server_name == "redis.internal"
    assert v6.files == TlsClientFiles(ca) and v6.client_label == "none"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 6379), "needs redis_host"),
        (("h", 0), "needs redis_port"),
        (("h", 70000), "70000 is not a TCP port: pass --port"),
        (("h", 6379, "", ""), "needs ca_file"),
        (("h", 6379, "", "CA", "CERT", ""), "go together"),
        (("h", 6379, "", "/nonexistent/ca.crt"), "ca_file /nonexistent/ca.crt is not a file: .* --ca$"),
    ],
)
def test_external_endpoint_refuses_incomplete_parameters(
    tmp_path: Path, args: tuple[object, ...], message: str
) -> None:
    ca, cert, _ = _files(tmp_path)
    real = {"CA": ca, "CERT": cert}
    full = [real.get(a, a) if isinstance(a, str) else a for a in args]
    if len(full) < 4:
        full += ["", ca]
    with pytest.raises(RunbookError, match=message):
        target_endpoint("external", *full)  # type: ignore[arg-type]


def test_handshake_rows_compare_serial_only_when_expected() -> None:
    hs = probe.Handshake(
        "TLSv1.3", "TLS_AES_128_GCM_SHA256", "CN=s", "CN=ca", "0A", "2030", ["DNS:a", "IP:1"]
    )
    rows = sandbox.handshake_rows(hs, "0A")
    assert rows[4] == ("names", "DNS:a, IP:1") and rows[-1] == ("serial is redis-server.crt's", True)
    assert sandbox.handshake_rows(hs, "0B")[-1][1] is False
    assert sandbox.handshake_rows(hs)[-1] == ("chain and name verified (strict)", True)


@pytest.mark.integration
def test_external_probes_against_a_real_server(tls_sandbox: sandbox.Sandbox, session_work: Path) -> None:
    pki = PkiPaths(session_work / "pki")
    ep = target_endpoint(
        "external",
        "127.0.0.1",
        tls_sandbox.primary.port,
        "localhost",
        str(pki.ca_cert),
        str(pki.client_cert()),
        str(pki.client_key()),
    )
    assert ep is not None
    results = sandbox.verify_external(ep)
    assert [(r.id, r.status) for r in results] == [
        ("tls-ping:target", "pass"),
        ("mutual-tls-enforced:target", "pass"),
        ("plaintext-refused:target", "pass"),
        ("plaintext-port-closed:target", "pass"),
        ("strict-clients:target", "pass"),
    ]
    version = ".".join(map(str, sandbox.redis_server_version()))
    wrong = replace(ep, server_name="wrong.example")
    assert probe.server_version(ep) == version and probe.server_version(wrong) == ""
    assert probe.answers_ping(ep) and not probe.answers_ping(wrong)
    assert probe.command(ep, "PING").value == b"PONG"
    assert "certificate verify failed" in probe.command(wrong, "PING").error
    sb = tls_sandbox.endpoint()
    assert (sb.host, sb.server_name, sb.external, sb.label) == ("localhost", "localhost", False, "sandbox")


@pytest.mark.integration
def test_plaintext_port_check_skips_when_it_cannot_tell(tls_sandbox: sandbox.Sandbox) -> None:
    files = tls_sandbox.client_files()
    closed = sandbox.free_port()
    got = sandbox.plaintext_port_check(Endpoint("127.0.0.1", closed, "localhost", files))
    assert got.status == "skip" and "cannot tell" in got.detail
    client = tls_sandbox.client()
    client.execute_command("ACL", "SETUSER", "default", "-config")
    try:
        got = sandbox.plaintext_port_check(
            Endpoint("127.0.0.1", tls_sandbox.primary.port, "localhost", files)
        )
    finally:
        client.execute_command("ACL", "SETUSER", "default", "+@all")
        client.close()
    assert got.status == "skip" and "NOPERM" in got.detail, got


@pytest.mark.integration
def test_plaintext_port_check_fails_when_a_plaintext_port_is_open(session_work: Path, tmp_path: Path) -> None:
    p = PkiPaths(session_work / "pki")
    conf = sandbox.base_conf(tmp_path, p, sandbox.free_port(), sandbox.free_port())
    node = sandbox.start_node("lax", "primary", tmp_path, conf, p)
    try:
        got = sandbox.plaintext_port_check(
            Endpoint("127.0.0.1", node.port, "localhost", TlsClientFiles.from_pki(p.root)), name="lax"
        )
    finally:
        sandbox.stop_node(node)
    assert (got.id, got.status, got.fix) == ("plaintext-port-closed:lax", "fail", "set port 0")
    assert str(node.plaintext_port) in got.detail


def test_redis_py_parts_are_skipped_with_the_reason_given(session_work: Path) -> None:
    from runbook import client

    files = TlsClientFiles.from_pki(session_work / "pki")
    snippet = client.redis_py_snippet("127.0.0.1", 1, files, "redis.test")
    run = client.run_snippet(snippet, skip_reason="no SNI in redis-py")
    assert (run.tool, run.ran, run.ok, run.output) == (
        "redis-py",
        False,
        False,
        "not run: no SNI in redis-py",
    )
    got = client.common_mistakes("127.0.0.1", sandbox.free_port(), files, skip_reason="no SNI in redis-py")
    assert [(r.id, r.status) for r in got] == [
        ("ssl_context=", "pass"),
        ("ConnectionPool(ssl=True)", "pass"),
        ("decode_responses beside connection_pool=", "skip"),
    ]
    assert got[-1].detail == "no SNI in redis-py"
    assert client.redis_py_skip_reason("127.0.0.1", 1, files, "") == ""
    assert client.redis_py_skip_reason("127.0.0.1", 1, files, "127.0.0.1") == ""


@pytest.mark.integration
def test_redis_py_skip_reason_only_when_the_certificate_does_not_name_the_host(
    tls_sandbox: sandbox.Sandbox,
) -> None:
    from runbook import client

    files, port = tls_sandbox.client_files(), tls_sandbox.primary.port
    assert client.redis_py_skip_reason("127.0.0.1", port, files, "localhost") == "", "the PKI names 127.0.0.1"
    assert client.redis_py_skip_reason("127.0.0.1", sandbox.free_port(), files, "x") == "", (
        "no server: no guess"
    )
