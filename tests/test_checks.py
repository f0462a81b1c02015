"""The live audit against real redis-server processes: one correct, and one per misconfiguration.

Each misconfigured server is broken in exactly one way; the matching check must fail (or warn)
and no other check may fail. Nothing is mocked: real PKI, real redis-server, real handshakes.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client.parser import text_string_to_metric_families

from runbook import checks, files, pki, sandbox, workdir
from runbook.checks.certificates import key_check
from runbook.checks.probes import probe_context
from runbook.client import Endpoint, TlsClientFiles
from runbook.client.probe import handshake
from runbook.errors import RunbookError

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- helpers


def _copy_pki(session_work: Path, dest: Path) -> pki.PkiPaths:
    shutil.copytree(workdir.pki_dir(session_work), dest)
    return pki.PkiPaths(dest)


def _replace_server(paths: pki.PkiPaths, issued: pki.Issued) -> None:
    files.write_file(paths.server_cert, issued.cert_pem())
    files.write_file(paths.server_key, issued.key_pem(), files.PRIVATE)


def _ca(paths: pki.PkiPaths) -> pki.Issued:
    return pki.Issued(pki.load_cert(paths.ca_cert), pki.load_key(paths.ca_key))


def _statuses(results: list[Any]) -> dict[str, str]:
    return {r.id: r.status for r in results}


def _only(results: list[Any], check_id: str, status: str = "fail") -> None:
    got = _statuses(results)
    assert got[check_id] == status, results
    others = {k: v for k, v in got.items() if k != check_id and v == "fail"}
    assert not others, f"only {check_id} should fail, also failed: {others}\n{results}"


# --------------------------------------------------------------------------- a correct server


def test_correct_server_passes_every_check(tls_sandbox: sandbox.Sandbox) -> None:
    report = checks.run_audit(
        Endpoint("localhost", tls_sandbox.primary.port, files=tls_sandbox.client_files())
    )
    assert [c.id for c in report.checks] == list(checks.CHECK_IDS)
    assert all(c.status == "pass" for c in report.checks), report.checks
    ev = report.evidence
    assert ev["protocols_refused"] == ["TLSv1", "TLSv1.1"]
    assert set(ev["protocols_accepted"]) == {"TLSv1.2", "TLSv1.3"}
    assert ev["mutual_tls_enforced"] is True and ev["plaintext_refused"] is True
    assert ev["ciphers_accepted"] and not [c for c in ev["ciphers_accepted"] if checks.is_weak_cipher(c)]
    assert {c["role"] for c in report.certificates} == {"server", "client"}


def test_ip_address_target_is_verified_by_ip_san(tls_sandbox: sandbox.Sandbox) -> None:
    results = checks.audit(
        Endpoint("127.0.0.1", tls_sandbox.primary.port, files=tls_sandbox.client_files()), scan_ciphers=False
    )
    assert _statuses(results)["hostname-verified"] == "pass"
    assert _statuses(results)["tls-handshake"] == "pass"


def test_cli_json_and_prometheus(tls_sandbox: sandbox.Sandbox, tmp_path: Path) -> None:
    files_ = tls_sandbox.client_files()
    prom = tmp_path / "redis_tls.prom"
    args = ["--host", "localhost", "--port", str(tls_sandbox.primary.port), "--ca", files_.ca]
    args += ["--cert", str(files_.cert), "--key", str(files_.key), "--json", "--prometheus", str(prom)]
    proc = subprocess.run(
        [sys.executable, "-m", "runbook", "check", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["target"] == f"localhost:{tls_sandbox.primary.port}" and data["ok"] is True
    assert [c["id"] for c in data["checks"]] == list(checks.CHECK_IDS)
    assert all(set(c) == {"id", "status", "detail", "fix"} for c in data["checks"])
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    status = {s.labels["check"]: s.value for s in families["redis_tls_check_status"].samples}
    assert status == {cid: 0.0 for cid in checks.CHECK_IDS}
    expiry = {s.labels["role"]: s.value for s in families["redis_tls_cert_expiry_timestamp_seconds"].samples}
    server_not_after = pki.load_cert(Path(tls_sandbox.pki_dir) / "redis-server.crt").not_valid_after_utc
    assert expiry["server"] == server_not_after.timestamp()
    assert "client" in expiry
    assert families["redis_tls_audit_ok"].samples[0].value == 1.0
    assert not list(tmp_path.glob(".*tmp")), "the textfile must be written atomically (no temp left)"


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    from runbook import cli

    assert cli.main(["check", "--host", "localhost", "--port", "1", "--ca", str(tmp_path / "none")]) == 2
    assert cli.main(["check", "--host", "localhost", "--port", "1", "--ca", "x", "--cert", "y"]) == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", "--host", "localhost"])
    assert exc.value.code == 2


def test_nothing_listening_fails_handshake_and_cli_exits_1(session_work: Path) -> None:
    from runbook import cli

    paths = pki.PkiPaths(workdir.pki_dir(session_work))
    port = sandbox.free_port()
    results = checks.audit(Endpoint("localhost", port, files=TlsClientFiles.from_pki(paths.root)))
    assert _statuses(results)["tls-handshake"] == "fail"
    assert "nothing listens" in results[0].fix
    args = ["check", "--host", "localhost", "--port", str(port), "--ca", str(paths.ca_cert)]
    assert cli.main(args) == 1


def test_missing_file_is_a_runbook_error(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="not found"):
        checks.audit(Endpoint("localhost", 6379, files=TlsClientFiles(str(tmp_path / "ca.crt"))))


# --------------------------------------------------------------------------- one misconfiguration each


@pytest.mark.parametrize(
    ("directives", "check_id"),
    [
        (
            {"tls-protocols": '"TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"', "tls-ciphers": '"DEFAULT:@SECLEVEL=0"'},
            "protocol-floor",
        ),
        ({"tls-protocols": '"TLSv1.1 TLSv1.2 TLSv1.3"'}, "protocol-floor"),
        ({"tls-protocols": '"TLSv1.2"'}, "tls13-supported"),
        ({"tls-ciphers": '"ALL:eNULL:@SECLEVEL=0"'}, "weak-ciphers-refused"),
        ({"tls-auth-clients": "no"}, "client-cert-required"),
        ({"tls-auth-clients": "optional"}, "client-cert-required"),
    ],
    ids=[
        "tls10-seclevel0",
        "tls11-default-seclevel",
        "tls12-only",
        "null-anon-ciphers",
        "auth-no",
        "auth-optional",
    ],
)
def test_server_directive_misconfiguration(
    session_work: Path,
    tmp_path: Path,
    start_server: Callable[..., sandbox.Node],
    directives: dict[str, str],
    check_id: str,
) -> None:
    paths = _copy_pki(session_work, tmp_path / "pki")
    node = start_server(paths, **directives)
    _only(checks.audit(Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root))), check_id)


def test_plaintext_port_found_without_flag_and_with_flag(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    paths = _copy_pki(session_work, tmp_path / "pki")
    plain = sandbox.free_port()
    node = start_server(paths, port=str(plain))
    tls_files = TlsClientFiles.from_pki(paths.root)
    found = checks.audit(Endpoint("localhost", node.port, files=tls_files), scan_ciphers=False)
    _only(found, "plaintext-refused")
    assert f"{plain} (CONFIG GET port): +PONG" in found[6].detail
    given = checks.audit(
        Endpoint("localhost", node.port, files=tls_files), plaintext_port=plain, scan_ciphers=False
    )
    assert f"{plain} (--plaintext-port): +PONG" in given[6].detail


def test_plaintext_port_given_but_closed_passes(tls_sandbox: sandbox.Sandbox) -> None:
    closed = sandbox.free_port()
    results = checks.audit(
        Endpoint("localhost", tls_sandbox.primary.port, files=tls_sandbox.client_files()),
        plaintext_port=closed,
        scan_ciphers=False,
    )
    assert results[6].status == "pass" and "connection refused" in results[6].detail


def test_wrong_hostname(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    paths = _copy_pki(session_work, tmp_path / "pki")
    _replace_server(paths, pki.make_leaf(_ca(paths), "other", purpose="server", hostnames=["other.example"]))
    node = start_server(paths, wait=False)
    results = checks.audit(Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root)))
    _only(results, "hostname-verified")
    assert "other.example" in results[7].detail
    # the same server checked by the name it carries passes
    ok = checks.audit(
        Endpoint("localhost", node.port, "other.example", files=TlsClientFiles.from_pki(paths.root)),
        scan_ciphers=False,
    )
    assert _statuses(ok)["hostname-verified"] == "pass"
    # reached by an IP the certificate does not list: the fix names the flag `pki create` accepts for it
    by_ip = checks.audit(
        Endpoint("127.0.0.1", node.port, files=TlsClientFiles.from_pki(paths.root)), scan_ciphers=False
    )
    fix = {r.id: r for r in by_ip}["hostname-verified"].fix
    assert "--ip 127.0.0.1" in fix and "--hostname 127.0.0.1" not in fix
    from runbook.cli import main

    assert (
        main(
            [
                "pki",
                "create",
                "--dir",
                str(tmp_path / "fixed"),
                "--hostname",
                "other.example",
                "--ip",
                "127.0.0.1",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(("days", "status"), [(-1, "fail"), (10, "warn")], ids=["expired", "expires-soon"])
def test_server_certificate_expiry(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node], days: int, status: str
) -> None:
    paths = _copy_pki(session_work, tmp_path / "pki")
    start = NOW - dt.timedelta(days=100)
    leaf = pki.make_leaf(
        _ca(paths),
        "localhost",
        purpose="server",
        hostnames=["localhost"],
        ips=["127.0.0.1", "::1"],
        not_before=start,
        not_after=NOW + dt.timedelta(days=days, hours=1 if days > 0 else 0),
    )
    _replace_server(paths, leaf)
    node = start_server(paths, wait=False)
    _only(
        checks.audit(Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root))),
        "cert-expiry",
        status,
    )


def test_key_strength_flags_rsa_1024(session_work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis linked to this OpenSSL (Debian SECLEVEL=2) refuses to load an RSA-1024 certificate at
    start, so no live server can present one here: the classification is tested on a real cert."""
    paths = pki.PkiPaths(workdir.pki_dir(session_work))
    monkeypatch.setattr(pki.builders, "generate_key", lambda _kt: rsa.generate_private_key(65537, 1024))
    weak = pki.make_leaf(
        _ca(paths), "localhost", purpose="server", hostnames=["localhost"], key_type="rsa-2048"
    )
    monkeypatch.undo()
    strong = pki.make_leaf(
        _ca(paths), "localhost", purpose="server", hostnames=["localhost"], key_type="rsa-2048"
    )
    got: dict[str, tuple[str, str]] = {}
    key_check(
        lambda cid, status, detail, fix="": got.update({cid: (status, detail)}), [("server", weak.cert)]
    )
    assert got["key-strength"] == ("fail", "weak keys: server RSA 1024")
    key_check(
        lambda cid, status, detail, fix="": got.update({cid: (status, detail)}), [("server", strong.cert)]
    )
    assert got["key-strength"][0] == "pass"


def _lax_ca() -> pki.Issued:
    """A CA as many guides make it: basicConstraints not critical, no keyUsage (not RFC 5280 strict)."""
    key = pki.generate_key("ecdsa-p256")
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "lax CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return pki.Issued(cert, key)


def test_non_strict_chain(tmp_path: Path, start_server: Callable[..., sandbox.Node]) -> None:
    ca = _lax_ca()
    server = pki.make_leaf(
        ca, "localhost", purpose="server", hostnames=["localhost"], ips=["127.0.0.1", "::1"]
    )
    client = pki.make_leaf(ca, "redis-client", purpose="client", hostnames=["redis-client"])
    paths = pki.PkiPaths(tmp_path / "pki")
    files.write_all(
        [
            files.PlannedWrite(paths.ca_cert, ca.cert_pem()),
            files.PlannedWrite(paths.ca_key, ca.key_pem(), files.PRIVATE),
            files.PlannedWrite(paths.server_cert, server.cert_pem()),
            files.PlannedWrite(paths.server_key, server.key_pem(), files.PRIVATE),
            files.PlannedWrite(paths.client_cert(), client.cert_pem()),
            files.PlannedWrite(paths.client_key(), client.key_pem(), files.PRIVATE),
        ]
    )
    node = start_server(paths, wait=False)
    _only(
        checks.audit(Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root))),
        "chain-strict",
    )


# --------------------------------------------------------------------------- why the probes are built this way


def test_default_client_context_cannot_see_tls10_but_the_probe_can(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    """OpenSSL 3's default security level refuses TLS 1.0 on the client side: a naive probe would
    report 'refused' for a server that accepts TLS 1.0. The audit's probe (SECLEVEL=0) completes it."""
    paths = _copy_pki(session_work, tmp_path / "pki")
    node = start_server(
        paths, tls_protocols='"TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"', tls_ciphers='"DEFAULT:@SECLEVEL=0"'
    )
    tls_files = TlsClientFiles.from_pki(paths.root)
    naive = ssl.create_default_context(cafile=tls_files.ca)
    naive.check_hostname = False
    naive.minimum_version = naive.maximum_version = ssl.TLSVersion.TLSv1
    naive.load_cert_chain(str(tls_files.cert), tls_files.key)
    import socket

    with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", node.port), 2) as raw:
        naive.wrap_socket(raw, server_hostname="localhost")
    probe = handshake(
        Endpoint("127.0.0.1", node.port, "localhost"),
        probe_context(tls_files, verify=False, version=ssl.TLSVersion.TLSv1),
        timeout=2,
    )
    assert probe.ok and probe.protocol == "TLSv1", probe


def test_weak_cipher_classification() -> None:
    weak = ["TLS_ECDHE_ECDSA_WITH_NULL_SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_RC4_128_MD5"]
    weak += ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"]
    strong = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]
    assert all(checks.is_weak_cipher(c) for c in weak)
    assert not any(checks.is_weak_cipher(c) for c in strong)


def test_explain_refusals_on_a_correct_and_a_lax_server(
    tls_sandbox: sandbox.Sandbox,
    session_work: Path,
    tmp_path: Path,
    start_server: Callable[..., sandbox.Node],
) -> None:
    good = checks.explain_refusals(
        Endpoint("localhost", tls_sandbox.primary.port, files=tls_sandbox.client_files())
    )
    assert all(r.refused for r in good), good
    assert "certificate required" in good[0].error and "protocol version" in good[1].error
    assert "Hostname mismatch" in good[2].error
    paths = _copy_pki(session_work, tmp_path / "pki")
    node = start_server(paths, tls_auth_clients="no")
    lax = checks.explain_refusals(Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root)))
    assert [r.refused for r in lax] == [False, True, True]


def test_cn_only_certificate_fails_hostname_only(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    """Clients ignore the CN: a certificate without subjectAltName matches no name."""
    paths = _copy_pki(session_work, tmp_path / "pki")
    ca = _ca(paths)
    leaf = pki.make_leaf(ca, "localhost", purpose="server", hostnames=["localhost"])
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(leaf.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(leaf.cert.not_valid_before_utc)
        .not_valid_after(leaf.cert.not_valid_after_utc)
    )
    for ext in leaf.cert.extensions:
        if not isinstance(ext.value, x509.SubjectAlternativeName):
            builder = builder.add_extension(ext.value, ext.critical)
    _replace_server(paths, pki.Issued(builder.sign(ca.key, hashes.SHA256()), leaf.key))
    node = start_server(paths, wait=False)
    results = checks.audit(
        Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root)), scan_ciphers=False
    )
    _only(results, "hostname-verified")


def test_server_certificate_from_another_ca_fails_handshake_only(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    paths = _copy_pki(session_work, tmp_path / "pki")
    other = pki.make_ca()
    _replace_server(
        paths,
        pki.make_leaf(
            other, "localhost", purpose="server", hostnames=["localhost"], ips=["127.0.0.1", "::1"]
        ),
    )
    node = start_server(paths, wait=False)
    results = checks.audit(
        Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root)), scan_ciphers=False
    )
    _only(results, "tls-handshake")
    assert "not issued by --ca" in results[0].fix


def test_openssl_default_ciphers_warn_by_default_and_fail_when_strict(
    session_work: Path, tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    """OpenSSL's DEFAULT list (a server without tls-ciphers) accepts CBC-mode and non-forward-secret
    TLS 1.2 suites, which the Mozilla "intermediate" baseline has none of: warn, fail when strict.
    A warning keeps the CLI exit code 0 and shows as 1 in Prometheus; strict makes it exit 1."""
    from runbook import cli

    paths = _copy_pki(session_work, tmp_path / "pki")
    node = start_server(paths, tls_ciphers="DEFAULT")
    tls_files = TlsClientFiles.from_pki(paths.root)
    default = checks.audit(Endpoint("localhost", node.port, files=tls_files))
    _only(default, "weak-ciphers-refused", "warn")
    assert "_CBC_" in default[4].detail and "--strict-ciphers" in default[4].fix, default[4]
    strict = checks.audit(Endpoint("localhost", node.port, files=tls_files), strict_ciphers=True)
    _only(strict, "weak-ciphers-refused", "fail")
    assert "_CBC_" in strict[4].detail
    prom = tmp_path / "redis_tls.prom"
    args = ["check", "--host", "localhost", "--port", str(node.port), "--ca", tls_files.ca]
    args += ["--cert", str(tls_files.cert), "--key", str(tls_files.key), "--prometheus", str(prom)]
    assert cli.main(args) == 0
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    status = {s.labels["check"]: s.value for s in families["redis_tls_check_status"].samples}
    assert status["weak-ciphers-refused"] == 1.0 and families["redis_tls_audit_ok"].samples[0].value == 1.0
    assert cli.main([*args, "--strict-ciphers"]) == 1


def test_the_suggested_cipher_fix_and_the_sandbox_preset_pass_the_strict_policy(
    tls_sandbox: sandbox.Sandbox,
    session_work: Path,
    tmp_path: Path,
    start_server: Callable[..., sandbox.Node],
) -> None:
    paths = _copy_pki(session_work, tmp_path / "pki")
    node = start_server(paths, tls_ciphers='"ECDHE+AESGCM:ECDHE+CHACHA20"')
    fixed = checks.audit(
        Endpoint("localhost", node.port, files=TlsClientFiles.from_pki(paths.root)), strict_ciphers=True
    )
    assert fixed[4].status == "pass" and "CBC" not in fixed[4].detail, fixed[4]
    # the sandbox's strict preset (runbook.config) already passes the strict policy
    ours = checks.audit(
        Endpoint("localhost", tls_sandbox.primary.port, files=tls_sandbox.client_files()), strict_ciphers=True
    )
    assert ours[4].status == "pass", ours[4]


def test_requirepass_server_needs_auth_for_ping_only(
    session_work: Path,
    tmp_path: Path,
    start_server: Callable[..., sandbox.Node],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = _copy_pki(session_work, tmp_path / "pki")
    plain = sandbox.free_port()
    node = start_server(paths, wait=False, requirepass="s3cret-pass", port=str(plain))
    tls_files = TlsClientFiles.from_pki(paths.root)
    without = checks.audit(
        Endpoint("localhost", node.port, files=tls_files), scan_ciphers=False, plaintext_port=plain
    )
    assert _statuses(without)["redis-ping"] == "fail" and "NOAUTH" in without[1].detail
    assert _statuses(without)["plaintext-refused"] == "fail"  # -NOAUTH is still a plaintext answer
    with_auth = checks.audit(
        Endpoint("localhost", node.port, files=tls_files), scan_ciphers=False, password="s3cret-pass"
    )
    _only(with_auth, "plaintext-refused")  # found through CONFIG GET port, after AUTH
    assert f"{plain} (CONFIG GET port)" in with_auth[6].detail
    assert not any("s3cret" in c.detail for c in with_auth)
    monkeypatch.setenv("REDIS_PW", "s3cret-pass")
    from runbook import cli

    args = ["check", "--host", "localhost", "--port", str(node.port), "--ca", tls_files.ca, "--cert"]
    args += [str(tls_files.cert), "--key", str(tls_files.key), "--password-env", "REDIS_PW"]
    assert cli.main(args) == 1  # the plaintext port fails it, redis-ping passes


def test_mismatched_client_pair_is_a_usage_error(session_work: Path, tmp_path: Path) -> None:
    from runbook import cli

    paths = pki.PkiPaths(workdir.pki_dir(session_work))
    other = tmp_path / "other.key"
    files.write_file(other, pki.make_ca().key_pem(), files.PRIVATE)
    args = ["check", "--host", "localhost", "--port", "6379", "--ca", str(paths.ca_cert)]
    assert cli.main([*args, "--cert", str(paths.client_cert()), "--key", str(other)]) == 2
    encrypted = tmp_path / "enc.key"
    pair = pki.Issued(pki.load_cert(paths.client_cert()), pki.load_key(paths.client_key()))
    files.write_file(encrypted, pair.key_pem(b"pw"), files.PRIVATE)  # must fail at once, never prompt
    assert cli.main([*args, "--cert", str(paths.client_cert()), "--key", str(encrypted)]) == 2
