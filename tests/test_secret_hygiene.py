"""Secret hygiene: nothing a run writes (executed notebooks, summary, HTML report, logs) holds
private key material or a passphrase from the environment, and the scanner provably catches both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline_runs import DATA
from runbook import hygiene, pipeline, pki

PASSPHRASE = 'correct horse <battery> "staple"'


def _key_pem() -> str:
    issued = pki.make_ca(common_name="hygiene test CA")
    return issued.key_pem().decode()


def _plant(folder: Path, pem: str) -> None:
    """A key in the shapes a run could write it: notebook JSON, HTML, a log line."""
    (folder / "logs").mkdir(parents=True)
    (folder / "clean.ipynb").write_text(json.dumps({"cells": [{"outputs": [{"text": "CN=redis-client"}]}]}))
    (folder / "nb.ipynb").write_text(json.dumps({"cells": [{"outputs": [{"text": pem}]}]}, indent=1))
    (folder / "report.html").write_text(f"<pre>{pem}</pre>")
    (folder / "logs" / "run.log").write_text("starting\n" + pem.replace("\n", " "))


def test_scanner_catches_a_planted_key_in_every_kind_of_file(tmp_path: Path) -> None:
    _plant(tmp_path, _key_pem())
    count, leaks = hygiene.scan_dir(tmp_path, passphrases={})
    assert count == 4
    assert sorted(leak.file for leak in leaks) == ["logs/run.log", "nb.ipynb", "report.html"]
    assert {leak.kind for leak in leaks} == {"pem-private-key"}
    assert next(leak for leak in leaks if leak.file == "logs/run.log").line == 2


def test_scanner_catches_every_pem_flavour() -> None:
    for kind in (
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ):
        assert hygiene.scan_text(f"x -----BEGIN {kind}-----\nAAAA"), kind
    assert not hygiene.scan_text("-----BEGIN CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----")


def test_scanner_catches_a_key_body_without_its_armour(tmp_path: Path) -> None:
    key_file = tmp_path / "redis-server.key"
    pem = _key_pem()
    key_file.write_text(pem)
    body = "".join(pem.splitlines()[1:-1])  # printed as one line, no BEGIN/END
    out = tmp_path / "out"
    out.mkdir()
    (out / "nb.ipynb").write_text(json.dumps({"text": f"key: {body}"}))
    (out / "ok.log").write_text("serial 0A1B\n")
    _, leaks = hygiene.scan_dir(out, passphrases={}, key_files=[key_file])
    assert [(leak.file, leak.kind) for leak in leaks] == [("nb.ipynb", "key-body:redis-server.key")]


def test_scanner_catches_env_passphrases_raw_and_escaped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RUNBOOK_CA_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("SHORT_PASSWORD", "abc")  # too short to scan for
    monkeypatch.setenv("HOME_DIR", "/root/passphrase")  # not a secret variable
    secrets = hygiene.env_passphrases()
    assert (
        "RUNBOOK_CA_PASSPHRASE" in secrets and "SHORT_PASSWORD" not in secrets and "HOME_DIR" not in secrets
    )
    (tmp_path / "a.ipynb").write_text(json.dumps({"text": f"pass={PASSPHRASE}"}))
    (tmp_path / "b.html").write_text(
        "<p>" + PASSPHRASE.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
    (tmp_path / "c.log").write_text(f"x {PASSPHRASE}\n")
    (tmp_path / "d.log").write_text("nothing here\n")
    _, leaks = hygiene.scan_dir(tmp_path)
    assert sorted(leak.file for leak in leaks) == ["a.ipynb", "b.html", "c.log"]
    assert all(leak.kind == "passphrase:RUNBOOK_CA_PASSPHRASE" for leak in leaks)
    assert all(PASSPHRASE not in leak.one_line() for leak in leaks), "findings never repeat the secret"


@pytest.mark.integration
def test_pipeline_fails_a_run_that_leaks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNBOOK_TEST_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "out"
    summary = pipeline.run(
        output_dir=out, work=tmp_path / "w", notebooks=DATA / "leaky", html=True, progress=False
    )
    assert summary.notebooks[0].status == "passed", "the notebook itself succeeds..."
    assert not summary.ok, "...but the run fails: its outputs hold secrets"
    assert summary.failure is not None and summary.failure["ename"] == "SecretLeak"
    found = {(leak["file"], leak["kind"]) for leak in summary.secret_scan["leaks"]}
    for name in ("01_leaky.ipynb", "report.html"):
        assert (name, "pem-private-key") in found
        assert (name, "passphrase:RUNBOOK_TEST_PASSPHRASE") in found
        assert (name, "key-body:redis-client.key") in found
    assert PASSPHRASE not in (out / "summary.json").read_text()
    assert "PRIVATE KEY" not in (out / "summary.json").read_text()
