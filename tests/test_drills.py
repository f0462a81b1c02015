"""Every fault drill builds a real broken setup, is diagnosed with the right cause, and cleans up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook import cli, diagnose, drills, workdir
from runbook.drills import DrillResult

pytestmark = pytest.mark.integration


def _drill_processes() -> list[int]:
    """redis-server processes of this test process whose config lives in a drill folder.

    Drill servers are children of the process that ran the drills (Popen, no daemonizing), so other
    test processes (pytest-xdist workers, notebook kernels, other checkouts) running drills at the
    same time are not counted.
    """
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state, ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        if (
            "redis-server" in cmd
            and "/drill-" in cmd
            and state not in ("Z", "X")
            and int(ppid) == os.getpid()
        ):
            found.append(int(pid))
    return found


@pytest.fixture(scope="module")
def results(session_work: Path) -> list[DrillResult]:
    return drills.run("all", pki_dir=workdir.pki_dir(session_work))


def test_every_cause_id_has_a_drill() -> None:
    expected = {d.expected for d in drills.DRILLS}
    assert expected >= set(diagnose.CAUSES) - {
        "unknown",
        "replication-link-down",
        "server-cert-wrong-usage",
        *(
            "ca-not-strict",
            "server-name-cn-only",
            "chain-not-strict",
            "missing-intermediate",
        ),  # the corpus: tests/test_corpus.py
    }
    assert len(set(drills.names())) == len(drills.DRILLS)


def test_all_drills_are_diagnosed_correctly(results: list[DrillResult]) -> None:
    wrong = {r.name: (r.expected, r.cause, r.evidence) for r in results if not r.diagnosed}
    assert not wrong
    assert [r.name for r in results] == drills.names()


def test_all_drills_clean_up(results: list[DrillResult]) -> None:
    assert all(r.cleaned for r in results)
    assert _drill_processes() == []


def test_symptoms_are_shown_and_stable(results: list[DrillResult]) -> None:
    for r in results:
        assert r.symptom, r.name
        assert "/tmp" not in r.symptom and "_ssl.c" not in r.symptom, r.symptom
        assert not any(ch.isdigit() for ch in r.symptom.split("localhost:")[-1][:1]), r.symptom
    by_name = {r.name: r for r in results}
    assert by_name["healthy"].symptom == "PING -> PONG"
    assert "Connection refused" in by_name["server-down"].symptom
    assert "key values mismatch" in by_name["server-key-mismatch"].symptom
    assert "master_link_status:down" in by_name["replica-cert-without-clientauth"].symptom


def test_selection() -> None:
    assert [d.name for d in drills.select("healthy,server-down")] == ["healthy", "server-down"]
    assert len(drills.select("all")) == len(drills.DRILLS)
    with pytest.raises(Exception, match="choose one of"):
        drills.select("nope")


def test_cli_runs_one_drill(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["drill", "run", "missing-client-cert", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True
    assert out["drills"][0]["cause"] == "client-cert-missing"
    assert _drill_processes() == []


def test_the_client_error_alone_gives_the_same_cause(results: list[DrillResult]) -> None:
    """diagnose(redis-py exception, tls/client-cert facts, server log) agrees with the endpoint diagnosis."""
    checked = [r for r in results if r.symptom_cause]
    assert len(checked) >= 12
    assert {r.name: r.symptom_cause for r in checked} == {r.name: r.expected for r in checked}
