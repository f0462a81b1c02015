"""`runbook config render|lint` from the command line, and a rendered file on a real redis-server."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from runbook import cli, pki, sandbox, workdir


@pytest.fixture
def pki_dir(session_work: Path, tmp_path: Path) -> Path:
    root = tmp_path / "pki"
    shutil.copytree(workdir.pki_dir(session_work), root)
    return root


def test_render_to_stdout(pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "render", "--dir", str(pki_dir), "--tls-port", "6390"]) == 0
    out = capsys.readouterr().out
    assert "\ntls-port 6390\n" in out and "\nport 0\n" in out and "preset strict" in out


def test_render_to_file_then_lint_clean(
    pki_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "tls.conf"
    argv = ["config", "render", "--dir", str(pki_dir), "--topology", "cluster", "-o", str(target)]
    assert cli.main(argv) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert (pki_dir / "clients" / "redis-node.crt").exists(), "cluster links need the clientAuth certificate"
    capsys.readouterr()
    assert cli.main(["config", "lint", str(target), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and not [f for f in doc["findings"] if f["severity"] == "error"]


def test_render_migration_and_auth_flags(pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["config", "render", "--dir", str(pki_dir), "--preset", "migration", "--auth-clients", "optional"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "TEMPORARY" in out and "\nport 6379\n" in out and "tls-auth-clients optional" in out


def test_lint_exit_codes_and_directives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text('port 6379\ntls-port 6380\ntls-protocols "TLSv1 TLSv1.2"\n')
    assert cli.main(["config", "lint", str(bad)]) == 1
    text = capsys.readouterr().out
    assert "tls-protocols" in text and "port" in text and "errors" in text
    assert cli.main(["config", "lint", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert {"port", "tls-protocols", "tls-cert-file"} <= {f["directive"] for f in doc["findings"]}
    assert cli.main(["config", "lint", str(tmp_path / "missing.conf")]) == 2
    assert "not found" in capsys.readouterr().err


def test_render_bad_input_is_a_usage_error(pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "render", "--dir", str(pki_dir), "--tls-port", "0"]) == 2
    assert "tls-port" in capsys.readouterr().err


@pytest.mark.integration
def test_rendered_file_runs_on_redis_server_with_plaintext_refused(
    pki_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = sandbox.free_port()
    rendered = tmp_path / "tls.conf"
    assert (
        cli.main(["config", "render", "--dir", str(pki_dir), "--tls-port", str(port), "-o", str(rendered)])
        == 0
    )
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    wrapper = {  # the rendered file is included verbatim; only housekeeping is added around it
        "include": str(rendered),
        "tls-port": str(port),
        "dir": str(node_dir),
        "logfile": str(node_dir / "redis.log"),
        "save": '""',
    }
    paths = pki.PkiPaths(pki_dir)
    node = sandbox.start_node("rendered", "primary", node_dir, wrapper, paths)
    try:
        results = sandbox.verify_endpoint(
            sandbox.Endpoint("localhost", port, files=sandbox.TlsClientFiles.from_pki(pki_dir))
        )
        assert {r.id: r.status for r in results} == {
            "tls-ping": "pass",
            "mutual-tls-enforced": "pass",
            "plaintext-refused": "pass",
        }
        client = sandbox.redis_client("localhost", port, sandbox.TlsClientFiles.from_pki(pki_dir))
        assert client.config_get("port") == {"port": "0"}, "the plaintext port must be closed"
        client.close()
        hs = sandbox.handshake(
            sandbox.Endpoint("localhost", port, files=sandbox.TlsClientFiles.from_pki(pki_dir))
        )
        assert hs.protocol in ("TLSv1.2", "TLSv1.3")
        assert hs.cipher in (
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
        )
    finally:
        sandbox.stop_node(node)


def test_render_accepts_a_work_dir(pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "render", "--dir", str(pki_dir.parent)]) == 0
    assert f"tls-cert-file {pki_dir}/redis-server.crt" in capsys.readouterr().out
