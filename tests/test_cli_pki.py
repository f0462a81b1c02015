"""The pki CLI through the installed entry points, as an operator runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_create_then_create_again(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    first = cli(
        "pki",
        "create",
        "--dir",
        str(d),
        "--hostname",
        "redis.example.com",
        "--ip",
        "10.1.2.3",
        "--client",
        "redis-client",
        "--client",
        "app",
    )
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stdout and (d / "clients" / "app.key").exists()
    snapshot = {p: p.read_bytes() for p in d.rglob("*") if p.is_file()}
    second = cli(
        "pki",
        "create",
        "--dir",
        str(d),
        "--hostname",
        "redis.example.com",
        "--ip",
        "10.1.2.3",
        "--client",
        "redis-client",
        "--client",
        "app",
        "--json",
    )
    assert second.returncode == 0
    assert json.loads(second.stdout)["written"] == []
    assert {p: p.read_bytes() for p in d.rglob("*") if p.is_file()} == snapshot


@pytest.mark.parametrize(
    "args",
    [
        ["--hostname", "not a host"],
        ["--ip", "300.1.1.1"],
        ["--days", "0"],
        ["--ca-days", "-1"],
        ["--ca-passphrase-env", "RUNBOOK_TEST_UNSET_VAR"],
    ],
)
def test_bad_input_exits_2_and_leaves_nothing(tmp_path: Path, args: list[str]) -> None:
    d = tmp_path / "pki"
    result = cli("pki", "create", "--dir", str(d), *args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not d.exists()


def test_unknown_key_type_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("pki", "create", "--dir", str(tmp_path / "p"), "--key-type", "dsa")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_force_makes_a_backup(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    assert cli("pki", "create", "--dir", str(d)).returncode == 0
    conflict = cli("pki", "create", "--dir", str(d), "--hostname", "redis.example.com")
    assert conflict.returncode == 2 and "--force" in conflict.stderr
    forced = cli("pki", "create", "--dir", str(d), "--hostname", "redis.example.com", "--force")
    assert forced.returncode == 0 and "backup" in forced.stdout
    assert len(list((d / "backups").iterdir())) == 1


def test_passphrase_from_environment_is_never_echoed(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    env = {"MY_CA_PASS": "correct horse battery staple"}
    result = cli("pki", "create", "--dir", str(d), "--ca-passphrase-env", "MY_CA_PASS", env=env)
    assert result.returncode == 0
    assert "correct horse" not in result.stdout + result.stderr
    assert b"ENCRYPTED" in (d / "ca.key").read_bytes()
    wrong = cli(
        "pki",
        "create",
        "--dir",
        str(d),
        "--client",
        "x",
        "--ca-passphrase-env",
        "MY_CA_PASS",
        env={"MY_CA_PASS": "nope"},
    )
    assert wrong.returncode == 2 and "wrong passphrase for ca.key" in wrong.stderr
    assert not (d / "clients").exists()


def test_inspect_and_verify(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    assert cli("pki", "create", "--dir", str(d)).returncode == 0
    inspected = cli("pki", "inspect", str(d / "ca.crt"), str(d / "redis-server.crt"), "--json")
    infos = json.loads(inspected.stdout)
    assert [i["is_ca"] for i in infos] == [True, False]
    assert "PRIVATE" not in inspected.stdout
    ok = cli("pki", "verify", "--dir", str(d), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    (d / "redis-server.key").chmod(0o644)
    bad = cli("pki", "verify", "--dir", str(d))
    assert bad.returncode == 1 and "server-key-permissions" in bad.stdout
    missing = cli("pki", "inspect", str(d / "nope.crt"))
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "redis-tls-runbook"
    assert script.exists() or shutil.which("redis-tls-runbook")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "pki" in result.stdout
