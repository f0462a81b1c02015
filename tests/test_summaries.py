"""Each notebook's summary function: verdict ids and statuses (pass and fail), and the record fields.

The record is what the pipeline reads into ``summary.json`` (docs/summary-json.md): ``notebook``,
``ok``, ``verdict`` (CheckResult dicts) and ``evidence`` that passes ``runbook.evidence.problems``.
Inputs are the plain result types the notebook steps return, built here from a real PKI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runbook import bench, evidence, hygiene, pki, rotation
from runbook.book import rotation_external, summaries
from runbook.book.rotation import DrillOutcome, RotationOutcome, RotationSetup
from runbook.book.target import ExternalTarget, SandboxTarget, ServerStep
from runbook.checks import AuditReport, Refusal
from runbook.client import Endpoint, SnippetRun, TlsClientFiles
from runbook.client.probe import Handshake
from runbook.config import ApplyReport
from runbook.diagnose import Diagnosis
from runbook.drills import DrillResult
from runbook.loadgen import LoadStats
from runbook.results import CheckResult, Finding

PASS = CheckResult("x", "pass", "fine")
FAIL = CheckResult("y", "fail", "broken", "fix it")


def statuses(summary: summaries.Summary) -> dict[str, str]:
    return {c.id: c.status for c in summary.verdict}


def check_record(summary: summaries.Summary, notebook: str, ok: bool) -> dict[str, Any]:
    record = summary.record
    assert record["notebook"] == notebook and record["ok"] is ok and summary.ok is ok
    assert list(record)[:3] == ["notebook", "ok", "verdict"] and "evidence" in record
    assert all(set(v) == {"id", "status", "detail", "fix"} for v in record["verdict"])
    assert not evidence.problems(evidence.record_evidence(record)), evidence.problems(record["evidence"])
    text = json.dumps(record)  # JSON-ready, and no key material
    assert not hygiene.scan_text(text, "record")
    return record


# --------------------------------------------------------------------------- 01


def _infos(work: Path) -> list[pki.CertInfo]:
    paths = pki.PkiPaths(work / "pki")
    return [pki.inspect(p) for p in (paths.ca_cert, paths.server_cert, paths.client_cert())]


def test_certificates_pass_and_fail(session_work: Path) -> None:
    report = pki.PkiReport(str(session_work / "pki"), ["ca.crt"], ["redis-server.crt"], None)
    good = summaries.certificates(report, [PASS], [PASS, PASS], _infos(session_work))
    assert statuses(good) == {"pki-files": "pass", "ca-profile": "pass", "verification": "pass"}
    assert good.verdict[0].detail == "1 written, 1 kept" and good.verdict[2].detail == "2 checks"
    record = check_record(good, "01_certificates", True)
    certs = record["evidence"]["certificates"]
    assert [c["file"] for c in certs] == ["ca.crt", "redis-server.crt", "redis-client.crt"]

    bad = summaries.certificates(report, [FAIL], [PASS, FAIL], _infos(session_work))
    assert statuses(bad) == {"pki-files": "pass", "ca-profile": "fail", "verification": "fail"}
    check_record(bad, "01_certificates", False)


# --------------------------------------------------------------------------- 02

HS = Handshake(
    "TLSv1.3",
    "TLS_AES_256_GCM_SHA384",
    "CN=localhost",
    "CN=ca",
    "0ABC",
    "2030-01-01T00:00:00+00:00",
    ["DNS:localhost"],
)
LIVE = [
    CheckResult("tls-ping:primary", "pass", "PONG"),
    CheckResult("mutual-tls-enforced:primary", "pass", "refused"),
    CheckResult("plaintext-refused:primary", "pass", "refused"),
    CheckResult("plaintext-port-closed:primary", "pass", "port 0"),
]


def _server(ok: bool) -> ServerStep:
    check = CheckResult("server", "pass" if ok else "fail", "sandbox standalone (binary), 1 node(s)")
    return ServerStep([], "sandbox", "", check, [("primary", ApplyReport(["tls-cert-file"], True, "x"))])


def _server_config(server: ServerStep, findings: list[Finding], live: list[CheckResult]) -> summaries.Summary:
    return summaries.server_config(
        target="localhost:6379", topology="standalone", preset="strict", directives=12, findings=findings,
        server=server, results=live, hs=HS, redis_version="7.0.15", config_file="/w/config/redis-tls.conf",
    )  # fmt: skip


def test_server_config_pass() -> None:
    good = _server_config(_server(True), [Finding("warn", "tls-ciphers", "hm")], LIVE)
    assert set(statuses(good).values()) == {"pass"}
    assert list(statuses(good)) == [
        "config-rendered", "config-lint", "server", "plaintext-refused", "mutual-tls", "live-checks", "handshake",
    ]  # fmt: skip
    assert good.verdict[1].detail == "0 errors, 1 other findings"
    ev = check_record(good, "02_server_config", True)["evidence"]
    assert (
        ev["target"] == "localhost:6379"
        and ev["topology"] == "standalone"
        and ev["redis_version"] == "7.0.15"
    )
    assert ev["mutual_tls_enforced"] is True and ev["plaintext_refused"] is True
    assert ev["protocols_accepted"] == ["TLSv1.3"] and ev["certificates"][0]["serial"] == "0ABC"


def test_server_config_fails_on_lint_errors_a_bad_server_or_an_open_plaintext_port() -> None:
    open_port = [
        *LIVE[:3],
        CheckResult("plaintext-port-closed:primary", "fail", "port 6379 open", "set port 0"),
    ]
    bad = _server_config(_server(False), [Finding("error", "port", "open")], open_port)
    got = statuses(bad)
    assert [got[i] for i in ("config-lint", "server", "plaintext-refused", "live-checks")] == ["fail"] * 4
    assert got["mutual-tls"] == "pass"
    ev = check_record(bad, "02_server_config", False)["evidence"]
    assert ev["plaintext_refused"] is False
    no_mtls = _server_config(
        _server(True), [], [LIVE[0], CheckResult("mutual-tls-enforced:primary", "fail", "x")]
    )
    assert statuses(no_mtls)["mutual-tls"] == "fail" and statuses(no_mtls)["plaintext-refused"] == "fail"


def test_server_config_external_server_is_a_skip_not_a_failure(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("pem")
    tgt = ExternalTarget(
        tmp_path, Endpoint("10.0.0.5", 6380, "redis.example", TlsClientFiles(str(ca)), external=True)
    )
    step = tgt.start_or_reload(tmp_path / "config" / "redis-tls.conf", 6380)
    assert step.check.status == "skip" and "nothing started" in step.check.detail and step.healthy
    assert "scp $WORK/config/redis-tls.conf 10.0.0.5:/etc/redis/tls.conf" in step.instructions.replace(
        str(tmp_path), "$WORK"
    )
    assert "-p 6380 --tls" in step.instructions and step.nodes == [] and step.reload_rows() == []
    summary = _server_config(step, [], LIVE)
    assert statuses(summary)["server"] == "skip" and summary.ok


# --------------------------------------------------------------------------- 03


def _audit(status: str) -> AuditReport:
    ev = {
        "target": "localhost:6379", "protocols_accepted": ["TLSv1.2", "TLSv1.3"], "protocols_refused": ["TLSv1"],
        "ciphers_accepted": ["TLS_AES_256_GCM_SHA384"], "mutual_tls_enforced": True, "plaintext_refused": True,
        "certificates": [{"role": "server", "subject": "CN=localhost", "serial": "0A", "not_after": "2030"}],
        "not-shared": "left out",
    }  # fmt: skip
    return AuditReport(
        "localhost:6379", [CheckResult("handshake", "pass", "ok"), CheckResult("tls13", status, "x")], ev
    )


def _client_checks(runs: list[SnippetRun], audit: AuditReport, refused: bool) -> summaries.Summary:
    refusals = [Refusal("no client certificate", refused, "certificate required", "mutual TLS")]
    snippets = [
        CheckResult(f"snippet:{r.tool}", "skip" if not r.ran else ("pass" if r.ok else "fail"), r.output)
        for r in runs
    ]
    return summaries.client_checks(
        runs=runs,
        snippets=snippets,
        mistakes=[PASS],
        audit=audit,
        refusals=refusals,
        redis_version="7.0.15",
        topology="standalone",
    )


def test_client_checks_pass_and_fail() -> None:
    runs = [SnippetRun("redis-cli", True, True, "PONG"), SnippetRun("ioredis", False, False, "not run: npm")]
    good = _client_checks(runs, _audit("pass"), True)
    assert statuses(good) == dict.fromkeys(("snippets", "redis-py-mistakes", "audit", "refusals"), "pass")
    assert good.verdict[0].detail == "1 of 2 ran and answered"
    record = check_record(good, "03_client_checks", True)
    assert [c["id"] for c in record["checks"]] == ["handshake", "tls13"]
    assert record["evidence"]["topology"] == "standalone" and "not-shared" not in record["evidence"]
    assert record["evidence"]["protocols_refused"] == ["TLSv1"]

    bad = _client_checks([SnippetRun("redis-cli", True, False, "ERR")], _audit("fail"), False)
    assert statuses(bad) == {
        "snippets": "fail",
        "redis-py-mistakes": "pass",
        "audit": "fail",
        "refusals": "fail",
    }
    check_record(bad, "03_client_checks", False)


# --------------------------------------------------------------------------- 04


def _drill(diagnosed: bool, cleaned: bool = True) -> DrillResult:
    return DrillResult("expired", "an expired server certificate", "cert-expired", "EOF", "cert-expired" if diagnosed
                       else "unknown", "expired", "rotate", [], diagnosed, cleaned)  # fmt: skip


def _troubleshooting(
    drills: list[DrillResult] | None, protocols: dict[str, bool], cause: str
) -> summaries.Summary:
    hs = Handshake(
        "TLSv1.3", "TLS_AES_256_GCM_SHA384", "CN=localhost", server_sans=["DNS:localhost"], reply="+PONG"
    )
    diagnoses = {
        "with the client certificate": Diagnosis("ok", "fine", [], ""),
        summaries.NO_CLIENT_CERT: Diagnosis(cause, "refused", [], "send a certificate"),
    }
    return summaries.troubleshooting(
        identity={"redis_version": "7.0.15", "target": "localhost:6379"}, topology="standalone",
        dates=[PASS], chain=[PASS], hs=hs, protocols=protocols, ciphers={"ECDHE-ECDSA-AES128-GCM-SHA256": True},
        diagnoses=diagnoses, drills=drills, drills_skipped="drills need the local sandbox: run with target=sandbox",
    )  # fmt: skip


MODERN = {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}


def test_troubleshooting_pass_with_drills_and_skip_without() -> None:
    good = _troubleshooting([_drill(True)], MODERN, "client-cert-missing")
    assert set(statuses(good).values()) == {"pass"} and len(good.verdict) == 7
    ev = check_record(good, "04_troubleshooting", True)["evidence"]
    assert ev["protocols_accepted"] == ["TLSv1.2", "TLSv1.3"] and ev["protocols_refused"] == [
        "TLSv1",
        "TLSv1.1",
    ]
    assert ev["ciphers_accepted"] == ["TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"]
    assert ev["topology"] == "standalone" and ev["redis_version"] == "7.0.15"
    assert ev["mutual_tls_enforced"] is True and ev["drills"][0] == {
        "name": "expired", "expected": "cert-expired", "cause": "cert-expired", "ok": True,
    }  # fmt: skip

    skipped = _troubleshooting(None, MODERN, "client-cert-missing")
    assert statuses(skipped)["drills"] == statuses(skipped)["drills-cleanup"] == "skip" and skipped.ok
    assert "target=sandbox" in skipped.verdict[-1].detail
    assert check_record(skipped, "04_troubleshooting", True)["evidence"]["drills"] == []


def test_troubleshooting_fails_on_old_protocols_open_mtls_and_misdiagnosed_drills() -> None:
    bad = _troubleshooting([_drill(False, cleaned=False)], {**MODERN, "TLSv1.1": True}, "ok")
    got = statuses(bad)
    assert [got[i] for i in ("protocols", "diagnose", "drills", "drills-cleanup")] == ["fail"] * 4
    ev = check_record(bad, "04_troubleshooting", False)["evidence"]
    assert ev["mutual_tls_enforced"] is False


# --------------------------------------------------------------------------- 05


def _setup(tgt: SandboxTarget | ExternalTarget, issuer: Path | None) -> RotationSetup:
    node = rotation.NodeTarget(
        Endpoint("127.0.0.1", 6379, name="primary"), "redis-server.crt", "redis-server.key", "ca.crt"
    )
    return RotationSetup(tgt, [node], TlsClientFiles("ca.crt"), issuer)


def _plan(status: str = "planned", preflight: str = "pass") -> rotation.RotationReport:
    plan = rotation.RotationReport(kind="server", target="127.0.0.1:6379", status=status, old_serial="0A")
    plan.add("preflight:127.0.0.1:6379:chain", preflight, "chains")
    return plan


def _drill_outcome(status: str, holds: bool) -> DrillOutcome:
    report = rotation.RotationReport(
        kind="server", target="x", status=status, rolled_back=status == "rolled-back"
    )
    return DrillOutcome(
        report, [], [("files restored byte for byte", holds), ("old certificate still served", holds)]
    )


def _outcome(work: Path, ok: bool, external: bool, window: LoadStats | None) -> RotationOutcome:
    report = rotation.RotationReport(kind="server", target="x", status="rotated" if ok else "rolled-back", ok=ok,
                                     old_serial="0A", new_serial="0B")  # fmt: skip
    served = pki.load_cert(pki.PkiPaths(work / "pki").server_cert)
    facts = [CheckResult("load-failed-commands", "pass" if ok else "fail", "no command failed")]
    return RotationOutcome(report, served, facts, "", external, window)


def test_rotation_sandbox_pass_and_fail(session_work: Path) -> None:
    setup = _setup(SandboxTarget(session_work), session_work / "pki")
    window = LoadStats(commands=25000, reconnects=40, serials=["0B"])
    good = summaries.rotation(
        setup=setup, plan=_plan(), outcome=_outcome(session_work, True, False, window),
        refused=_drill_outcome("refused", True), rolled=_drill_outcome("rolled-back", True), drill_kind="other-ca",
    )  # fmt: skip
    ids = ["plan-preflight", "rotation", "live-load", "drill-preflight", "drill-rollback"]
    assert statuses(good) == dict.fromkeys(ids, "pass")
    ev = check_record(good, "05_rotation", True)["evidence"]
    assert (
        ev["target"] == "127.0.0.1:6379"
        and ev["topology"] == "standalone"
        and ev["load"]["commands"] == 25000
    )
    assert ev["rotation"][0]["new_serial"] == "0B" and ev["certificates"][0]["role"] == "server"
    assert ev["rotation_plan"]["steps"] == [] and [d["status"] for d in ev["drills"]] == [
        "rolled-back",
        "refused",
    ]

    bad = summaries.rotation(
        setup=setup, plan=_plan(preflight="fail"), outcome=_outcome(session_work, False, False, window),
        refused=_drill_outcome("rotated", False), rolled=_drill_outcome("rolled-back", False), drill_kind="other-ca",
    )  # fmt: skip
    assert statuses(bad) == dict.fromkeys(ids, "fail")
    check_record(bad, "05_rotation", False)


def test_rotation_external_plans_and_skips_the_rest(session_work: Path) -> None:
    ep = Endpoint("127.0.0.1", 6379, "localhost", TlsClientFiles("ca.crt"), external=True)
    setup = _setup(ExternalTarget(session_work, ep), session_work / "pki")
    planned = _plan()
    outcome = RotationOutcome(planned, pki.load_cert(pki.PkiPaths(session_work / "pki").server_cert),
                              [CheckResult("live-load", "skip", rotation_external.LIVE_LOAD_NEEDS_SANDBOX)], "", True)  # fmt: skip
    skipped = DrillOutcome(rotation_external.skipped_drill("127.0.0.1:6379"), [], [("drill run", False)])
    summary = summaries.rotation(setup=setup, plan=planned, outcome=outcome, refused=skipped, rolled=skipped,
                                 drill_kind="other-ca")  # fmt: skip
    assert statuses(summary) == {
        "plan-preflight": "pass", "rotation": "skip", "live-load": "skip", "drill-preflight": "skip",
        "drill-rollback": "skip",
    }  # fmt: skip
    assert skipped.ok and not skipped.ran and outcome.done
    ev = check_record(summary, "05_rotation", True)["evidence"]
    assert ev["topology"] == "external" and ev["load"] is None


# --------------------------------------------------------------------------- 06


def test_performance_skipped_and_failed() -> None:
    skipped = {c.id: c for c in bench.skipped_checks()}
    summary = summaries.performance(skipped, None)
    assert set(statuses(summary).values()) == {"skip"} and list(statuses(summary)) == list(bench.CHECK_IDS)
    ev = check_record(summary, "06_performance", True)["evidence"]
    assert ev["skipped"] == bench.EXTERNAL_SKIP and ev["figures"] == {}

    failed = {**skipped, "pooling": CheckResult("pooling", "fail", "pooling did not help", "re-run")}
    assert statuses(summaries.performance(failed, None))["pooling"] == "fail"
    check_record(summaries.performance(failed, None), "06_performance", False)


def test_a_failed_summary_check_names_its_fix() -> None:
    """Every check id a summary can fail has a fix in the verdict table's fix column."""
    import inspect
    import re

    from runbook.book import summaries as s

    ids = set(re.findall(r'_check\(\s*"([\w-]+)"', inspect.getsource(s)))
    assert ids and ids <= set(s.FIXES)
    failed = s._check("protocols", False, "accepted: TLSv1")
    assert failed.status == "fail" and "tls-protocols" in failed.fix
    assert s._check("protocols", True, "ok").fix == ""
