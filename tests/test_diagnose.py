"""diagnose(): the signature table on real exception texts, plus the CLI's argument handling.

The texts below are copied from real failures (OpenSSL 3.0 / redis-py / redis-server 7.0 logs);
the real endpoints behind every cause id are exercised in test_drills.py and
test_diagnose_endpoints.py.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
import redis

from runbook import cli, diagnose
from runbook.diagnose import CAUSE_INFO, SIGNATURES, Outcome


def _redis_error(
    inner: BaseException, message: str = "Error 1 connecting to localhost:6380."
) -> redis.ConnectionError:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise redis.ConnectionError(message) from exc
    except redis.ConnectionError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "context", "cause"),
    [
        (
            ssl.SSLCertVerificationError(
                1,
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)",
            ),
            {},
            "cert-expired",
        ),
        (
            ssl.SSLCertVerificationError(
                1,
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate is not yet valid (_ssl.c:1006)",
            ),
            {},
            "cert-not-yet-valid",
        ),
        (
            ssl.SSLCertVerificationError(
                1,
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'x'. (_ssl.c:1006)",
            ),
            {},
            "hostname-mismatch",
        ),
        (
            ssl.SSLCertVerificationError(
                1,
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)",
            ),
            {},
            "untrusted-ca",
        ),
        (
            ssl.SSLError(
                1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)"
            ),
            {},
            "client-cert-missing",
        ),
        (
            ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)"),
            {},
            "client-cert-untrusted",
        ),
        (
            ssl.SSLError(1, "[SSL: SSLV3_ALERT_UNSUPPORTED_CERTIFICATE] sslv3 alert unsupported certificate"),
            {},
            "client-cert-wrong-usage",
        ),
        (
            ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1006)"),
            {},
            "protocol-mismatch",
        ),
        (
            ssl.SSLError(1, "[SSL: NO_PROTOCOLS_AVAILABLE] no protocols available (_ssl.c:1006)"),
            {},
            "protocol-mismatch",
        ),
        (
            ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure"),
            {"client_cert": False},
            "client-cert-missing",
        ),
        (
            ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure"),
            {"client_cert": True},
            "no-shared-cipher",
        ),
        (
            ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure"),
            {"client_cert": False, "hello_alert": "handshake failure"},
            "no-shared-cipher",
        ),
        (ConnectionRefusedError(111, "Connection refused"), {}, "server-unreachable"),
        (
            TimeoutError("_ssl.c:989: The handshake operation timed out"),
            {"tls": True},
            "tls-to-plaintext-port",
        ),
        (ConnectionResetError(104, "Connection reset by peer"), {"tls": False}, "plaintext-to-tls-port"),
        (
            ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
            {"client_cert": False, "stage": "command"},
            "client-cert-missing",
        ),
    ],
)
def test_signatures_on_real_texts_wrapped_like_redis_py(
    exc: BaseException, context: dict[str, object], cause: str
) -> None:
    assert diagnose.diagnose(exc, context).cause == cause
    assert diagnose.diagnose(_redis_error(exc), context).cause == cause  # the chain is read


@pytest.mark.parametrize(
    ("line", "cause"),
    [
        (
            "Failed to load private key: /x/redis.key: error:05800074:x509 certificate routines::key values mismatch",
            "server-key-mismatch",
        ),
        (
            "Failed to load private key: /x/redis.key: error:80000002:system library::No such file or directory",
            "server-file-unreadable",
        ),
        (
            "Failed to load certificate: /x/redis.crt: error:80000002:system library::Permission denied",
            "server-file-unreadable",
        ),
        (
            "Failed to configure CA certificate(s) file/directory: error:80000002:system library::No such file or directory",
            "server-file-unreadable",
        ),
        (
            "Failed to load private key: /x/redis.key: error:1C800064:Provider routines::bad decrypt",
            "server-key-passphrase",
        ),
        (
            "Failed to load private key: /x/redis.key: error:07880109:common libcrypto routines::interrupted or cancelled",
            "server-key-passphrase",
        ),
    ],
)
def test_startup_log_lines_name_the_server_cause(line: str, cause: str) -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    d = diagnose.diagnose(Outcome(refused, "connect"), {"log": ["Configuration loaded", line]})
    assert d.cause == cause
    assert any(line in e for e in d.evidence)


def test_server_log_direction_matters() -> None:
    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    log = ["Error accepting a client connection: error:0A000086:SSL routines::certificate verify failed"]
    assert (
        diagnose.diagnose(Outcome(eof, "command"), {"log": log, "client_cert": True}).cause
        == "client-cert-untrusted"
    )
    facts = {"log": log, "client_cert": True, "client_cert_client_auth": False}
    assert diagnose.diagnose(Outcome(eof, "command"), facts).cause == "client-cert-wrong-usage"


def test_success_and_replica_links() -> None:
    assert diagnose.diagnose(None).cause == "ok"
    assert diagnose.diagnose(Outcome(None, "done")).ok
    down = Outcome(None, "done", facts={"link": "down"})
    assert diagnose.diagnose(down).cause == "replication-link-down"
    log = [
        "Failed to read response from the server: error:0A000413:SSL routines::sslv3 alert unsupported certificate"
    ]
    assert diagnose.diagnose(down, {"log": log}).cause == "outgoing-cert-wrong-usage"


def test_unknown_failures_say_so_and_keep_the_evidence() -> None:
    d = diagnose.diagnose(ValueError("something odd"))
    assert d.cause == "unknown"
    assert d.evidence == ["ValueError: something odd"]
    assert d.fix


def test_the_table_is_data_and_every_cause_is_documented() -> None:
    required = {
        "ok",
        "server-unreachable",
        "untrusted-ca",
        "hostname-mismatch",
        "cert-expired",
        "cert-not-yet-valid",
        "client-cert-missing",
        "client-cert-untrusted",
        "client-cert-wrong-usage",
        "plaintext-to-tls-port",
        "tls-to-plaintext-port",
        "protocol-mismatch",
        "no-shared-cipher",
        "server-key-mismatch",
        "server-file-unreadable",
        "server-key-passphrase",
        "outgoing-cert-wrong-usage",
    }
    assert required <= set(CAUSE_INFO)
    assert {s.cause for s in SIGNATURES} <= set(CAUSE_INFO)
    assert all(s.client or s.log or s.facts for s in SIGNATURES)
    for cause, info in CAUSE_INFO.items():
        assert info.summary and info.fix, cause
        assert "\n" not in info.summary + info.fix
    assert len(diagnose.signature_table()) == len(SIGNATURES)


def test_diagnosis_serialises_to_the_cli_shape() -> None:
    d = diagnose.diagnose(ConnectionRefusedError(111, "Connection refused"))
    assert {"cause", "summary", "evidence", "fix"} <= set(d.to_dict())
    assert json.loads(json.dumps(d.to_dict()))["cause"] == "server-unreachable"


def test_log_reading(tmp_path: Path) -> None:
    log = tmp_path / "redis.log"
    log.write_text(
        "1:C 28 Nov 2026 16:35:08.687 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n"
        "1:M 28 Nov 2026 16:35:08.740 # Failed to load private key: k: key values mismatch\n"
        "2:C 28 Nov 2026 16:36:08.687 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n"
        "2:M 28 Nov 2026 16:36:08.740 * Ready to accept connections\n"
    )
    assert diagnose.read_server_log(log) == [
        "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
        "Ready to accept connections",
    ]
    size = diagnose.log_size(log)
    with log.open("a") as fh:
        fh.write("2:M 28 Nov 2026 16:37:00.000 # Error accepting a client connection: x (conn: fd=8)\n")
    assert diagnose.read_server_log(log, since=size) == ["Error accepting a client connection: x"]
    assert diagnose.read_server_log(tmp_path / "missing.log") == []


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diagnose", "--port", "1", "--ca", str(tmp_path / "nope.crt")]) == 2
    assert "not found" in capsys.readouterr().err
    assert cli.main(["drill", "run"]) == 2
    assert cli.main(["drill", "run", "no-such-drill"]) == 2
    assert "choose one of" in capsys.readouterr().err


def test_cli_diagnose_unreachable_exits_1_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    from runbook.sandbox import free_port

    code = cli.main(["diagnose", "--host", "127.0.0.1", "--port", str(free_port()), "--json", "--no-tls"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["cause"] == "server-unreachable"
    assert set(out) >= {"cause", "summary", "evidence", "fix"}


def test_cli_drill_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["drill", "list", "--json"]) == 0
    assert all(set(r) == {"name"} for r in json.loads(capsys.readouterr().out))  # the answer out of sight
    assert cli.main(["drill", "list", "--answers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["expected"] for r in rows} >= {"ok", "outgoing-cert-wrong-usage", "server-key-passphrase"}


def test_a_handshake_timeout_is_not_an_unreachable_server() -> None:
    handshake = _redis_error(
        TimeoutError("_ssl.c:989: The handshake operation timed out"), "Timeout connecting to server"
    )
    assert diagnose.diagnose(handshake).cause == "tls-to-plaintext-port"
    assert diagnose.diagnose(redis.TimeoutError("Timeout connecting to server")).cause == "server-unreachable"


def test_client_cert_facts(tmp_path: Path) -> None:
    assert diagnose.client_cert_facts(None) == {"client_cert": False}
    from runbook import pki

    ca = pki.make_ca()
    leaf = pki.make_leaf(ca, "app", purpose="server", hostnames=["app"])
    path = tmp_path / "app.crt"
    path.write_bytes(leaf.cert_pem())
    assert diagnose.client_cert_facts(path) == {
        "client_cert": True,
        "client_cert_client_auth": False,
        "client_cert_validity": "valid",
    }


def test_context_spellings() -> None:
    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    line = "1:M 28 Nov 2026 16:37:00.000 # Error accepting a client connection: error:0A0000C7:SSL routines::peer did not return a certificate"
    assert diagnose.diagnose(eof, {"server_log": [line]}).cause == "client-cert-missing"
    assert diagnose.diagnose(eof, {"log": line}).cause == "client-cert-missing"


def test_wrong_passphrase_that_decodes_to_garbage_is_still_a_passphrase_problem(tmp_path: Path) -> None:
    """About 1 in 256 wrong passphrases pass the padding check and OpenSSL's decoder then says
    "unsupported"; the encrypted key file named in the log tells it from an unreadable file."""
    from runbook import pki

    issued = pki.make_leaf(pki.make_ca(), "localhost", purpose="server", hostnames=["localhost"])
    (tmp_path / "encrypted.key").write_bytes(issued.key_pem(b"right"))
    (tmp_path / "plain.key").write_bytes(b"not a key at all\n")
    line = "Failed to load private key: {}: error:1E08010C:DECODER routines::unsupported"
    enc_log = [line.format("encrypted.key")]
    assert diagnose.failed_key_is_encrypted(enc_log, tmp_path)
    assert not diagnose.failed_key_is_encrypted([line.format("plain.key")], tmp_path)
    assert not diagnose.failed_key_is_encrypted([line.format("missing.key")], tmp_path)
    assert not diagnose.failed_key_is_encrypted(enc_log, tmp_path / "elsewhere")
    assert diagnose.failed_key_is_encrypted([line.format(tmp_path / "encrypted.key")], Path("/"))
    refused = ConnectionRefusedError(111, "Connection refused")
    assert (
        diagnose.diagnose(refused, {"log": enc_log, "server_key_encrypted": True}).cause
        == "server-key-passphrase"
    )
    assert diagnose.diagnose(refused, {"log": [line.format("plain.key")]}).cause == "server-file-unreadable"
