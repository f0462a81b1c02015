"""Pipeline runs with real papermill kernels and real redis-server, over purpose-built notebooks.

tests/data/notebooks/: ``probe`` (records the parameters and evidence it gets; fails on request),
``broken`` (a bare assert fails in cell 3), ``external`` (follows the target contract),
``rogue`` (starts a sandbox whatever the target), ``fleetleak`` (starts the sandbox fleet, then its
kernel is killed).
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline_runs import DATA
from runbook import cli, inventory, pipeline, sandbox, workdir
from runbook.pki import PkiPaths

pytestmark = pytest.mark.integration


def test_probe_run_parameters_evidence_html_and_logs(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(
        "label: shared\n"
        "notebooks:\n"
        "  01_first:\n"
        "    evidence: {redis_version: 7.0.15, protocols_accepted: [TLSv1.2], mutual_tls_enforced: true,\n"
        "               certificates: [{file: ca.crt, subject: CN=ca, serial: '0A', not_after: '2036-01-01'}]}\n"
        "  02_second:\n"
        "    label: own\n"
        "    evidence: {redis_version: 7.0.15, protocols_accepted: [TLSv1.3], protocols_refused: [TLSv1.1],\n"
        "               plaintext_refused: true, rotation: [{kind: server, old_serial: '0B', new_serial: '0C',\n"
        "               ok: true, rolled_back: false}], ciphers_accepted: TLS_AES_128_GCM_SHA256}\n"
    )
    out = tmp_path / "out"
    summary = pipeline.run(
        params_file=params,
        output_dir=out,
        work=tmp_path / "w",
        notebooks=DATA / "probe",
        only=["01", "02"],
        html=True,
        progress=False,
    )
    assert summary.ok and summary.failure is None
    assert [(n.name, n.status) for n in summary.notebooks] == [
        ("01_first", "passed"),
        ("02_second", "passed"),
    ]
    received = [n.record["received"] for n in summary.notebooks if n.record]
    assert [r["label"] for r in received] == ["shared", "own"]
    assert all(r["target"] == "sandbox" and r["redis_host"] == "" for r in received)

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary.to_dict(), default=str))
    ev = on_disk["evidence"]
    assert ev["redis_version"] == "7.0.15"
    assert ev["protocols_accepted"] == ["TLSv1.2", "TLSv1.3"] and ev["protocols_refused"] == ["TLSv1.1"]
    assert ev["mutual_tls_enforced"] is True and ev["plaintext_refused"] is True
    assert ev["certificates"][0]["serial"] == "0A" and ev["rotation"][0]["new_serial"] == "0C"
    assert on_disk["evidence_missing"] == ["target", "topology"]
    assert ev["ciphers_accepted"] == ["TLS_AES_128_GCM_SHA256"]
    assert on_disk["evidence_problems"] == {"02_second": ["ciphers_accepted must be a list"]}
    assert on_disk["target"] == {"kind": "sandbox", "endpoint": None, "server_name": None}
    assert on_disk["secret_scan"]["ok"] is True and on_disk["secret_scan"]["files"] >= 5
    assert on_disk["date"].endswith("Z") and on_disk["summary_version"] == 1

    html = (out / "report.html").read_text()
    assert "write_summary" not in html and "assert not fail" not in html, "code is hidden"
    assert "01_first" in html and "TLSv1.3" in html and "pipeline probe" in html
    assert "application/vnd.jupyter.widget-view+json" not in html
    assert not re.search(r"<script src=\"https?://", html), "the report loads nothing remote"
    log = (out / "logs" / "run.log").read_text()
    assert "02_second: passed" in log and "run finished: ok=True" in log


def test_failed_assert_names_notebook_and_cell_and_ignores_stale_records(tmp_path: Path) -> None:
    work = tmp_path / "w"
    workdir.write_summary(work, "02_second", {"notebook": "02_second", "ok": True, "verdict": []})  # stale
    params = tmp_path / "p.yaml"
    params.write_text("notebooks:\n  02_second:\n    fail: true\n")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "03_third.ipynb").write_text("{}")  # left by an earlier run into the same dir
    (tmp_path / "o" / "notes.txt").write_text("mine")
    summary = pipeline.run(
        params_file=params, only=["02", "03"], output_dir=tmp_path / "o", work=work, notebooks=DATA / "probe"
    )
    assert not (tmp_path / "o" / "03_third.ipynb").exists(), "a stale executed notebook would mislead"
    assert (tmp_path / "o" / "notes.txt").read_text() == "mine"
    assert not summary.ok
    failed, skipped = summary.notebooks
    assert failed.status == "failed" and failed.record is None, "the stale record must not count"
    assert skipped.status == "skipped"
    assert summary.failure == failed.error
    assert summary.failure is not None
    assert summary.failure["cell"] == 4, (
        "cell 4 of the source notebook (papermill's injected cell not counted)"
    )
    assert summary.failure["reason"] == "probe told to fail: set fail=False"
    assert summary.failure_line().startswith("FAILED: 02_second, cell 4 (In [")


def test_cli_exit_1_names_notebook_cell_and_bare_assert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--notebooks-dir", str(DATA / "broken"), "--work-dir", str(tmp_path / "w")]
    code = cli.main([*argv, "--output-dir", str(tmp_path / "o"), "--json"])
    proc = capsys.readouterr()
    assert code == 1, proc.err
    data = json.loads(proc.out)
    assert data["ok"] is False
    assert [n["status"] for n in data["notebooks"]] == ["failed", "skipped"]
    f = data["failure"]
    assert (f["notebook"], f["cell"], f["execution_count"], f["ename"]) == (
        "01_bare_assert",
        3,
        2,
        "AssertionError",
    )
    assert f["reason"] == "failed at `assert x == 3`"
    last = proc.err.strip().splitlines()[-1]
    assert last == "FAILED: 01_bare_assert, cell 3 (In [2]): AssertionError: failed at `assert x == 3`"
    assert (tmp_path / "o" / "01_bare_assert.ipynb").is_file()
    assert not (tmp_path / "o" / "02_after.ipynb").exists()


@pytest.fixture
def independent_redis(session_work: Path, tmp_path: Path) -> Iterator[sandbox.Node]:
    """A redis-server started outside the runbook's work dir: the 'external' server."""
    pki = PkiPaths(session_work / "pki")
    node_dir = tmp_path / "external-redis"
    node = sandbox.start_node(
        "external", "primary", node_dir, sandbox.base_conf(node_dir, pki, sandbox.free_port()), pki
    )
    yield node
    sandbox.stop_node(node)


def _external_args(node: sandbox.Node, session_work: Path) -> dict[str, object]:
    pki = PkiPaths(session_work / "pki")
    return {
        "redis_host": "127.0.0.1",
        "redis_port": node.port,
        "server_name": "localhost",
        "ca_file": str(pki.ca_cert),
        "client_cert": str(pki.client_cert()),
        "client_key": str(pki.client_key()),
    }


def test_external_target_connects_and_starts_or_stops_nothing(
    independent_redis: sandbox.Node, session_work: Path, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    summary = pipeline.run(
        target="external",
        connection=_external_args(independent_redis, session_work),
        output_dir=tmp_path / "o",
        work=work,
        notebooks=DATA / "external",
        progress=False,
    )
    assert summary.ok, summary.failure_line()
    ev = summary.evidence
    assert ev["target"] == f"127.0.0.1:{independent_redis.port}"
    assert ev["redis_version"] == ".".join(map(str, sandbox.redis_server_version()))
    assert ev["mutual_tls_enforced"] is True
    assert summary.target == {
        "kind": "external",
        "endpoint": f"127.0.0.1:{independent_redis.port}",
        "server_name": "localhost",
    }
    assert summary.notebooks[0].parameters["target"] == "external"
    assert sandbox.pid_alive(independent_redis.pid), "the external server must not be stopped"
    assert sandbox.status(work) is None, "no sandbox may be started"
    assert "sandbox stopped" not in (tmp_path / "o" / "logs" / "run.log").read_text()


def test_rogue_notebook_starting_a_sandbox_under_external_fails(
    independent_redis: sandbox.Node, session_work: Path, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    summary = pipeline.run(
        target="external",
        connection=_external_args(independent_redis, session_work),
        output_dir=tmp_path / "o",
        work=work,
        notebooks=DATA / "rogue",
        progress=False,
    )
    assert not summary.ok and summary.failure is not None
    assert summary.failure["ename"] == "TargetContractError" and summary.failure["notebook"] == "01_rogue"
    assert sandbox.status(work) is None, "what the rogue notebook started was stopped"
    assert sandbox.pid_alive(independent_redis.pid)


def test_sandbox_target_is_stopped_at_the_end_and_logs_kept(tmp_path: Path) -> None:
    work = tmp_path / "w"
    summary = pipeline.run(
        output_dir=tmp_path / "o", work=work, notebooks=DATA / "external", progress=False, stop_sandbox=True
    )
    assert summary.ok, summary.failure_line()
    record = summary.notebooks[0].record
    assert record is not None and record["evidence"]["target"].startswith("localhost:")
    assert summary.target["endpoint"] == record["evidence"]["target"]
    assert sandbox.status(work) is None
    port = int(record["evidence"]["target"].rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert (tmp_path / "o" / "logs" / "sandbox-primary.log").is_file()
    assert "logs/sandbox-primary.log" in summary.logs


def test_a_kernel_killed_after_starting_the_fleet_leaves_no_server(tmp_path: Path) -> None:
    """Notebook 07's shape: the fleet's sandboxes live in ``<work>/fleet/<sub>/``; the kernel is
    killed part-way (no exit handler runs), and the pipeline still stops every one of them."""
    work = tmp_path / "w"
    summary = pipeline.run(
        output_dir=tmp_path / "o", work=work, notebooks=DATA / "fleetleak", progress=False, stop_sandbox=True
    )
    assert (
        not summary.ok
        and summary.failure is not None
        and summary.failure["notebook"] == "01_fleet_then_killed"
    )
    fleet_dirs = [work / "fleet" / "cache", work / "fleet" / "cluster"]
    boxes = [sandbox.Sandbox.from_dict(json.loads(sandbox.state_path(d).read_text())) for d in fleet_dirs
             if sandbox.state_path(d).is_file()]  # fmt: skip
    assert not boxes, "the pipeline must forget (stop) every sandbox it found"
    logs = sorted(p.name for p in (tmp_path / "o" / "logs").glob("sandbox-fleet-*.log"))
    assert any(n.startswith("sandbox-fleet-cache-") for n in logs) and any("cluster" in n for n in logs), logs
    ports = [
        n.endpoint.port for n in inventory.load(work / "fleet" / "inventory.yml").nodes
    ]  # what was started
    assert len(ports) == 5, ports  # a primary + replica and a 3-node cluster were started
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert "sandbox stopped (5 process(es))" in (tmp_path / "o" / "logs" / "run.log").read_text()
