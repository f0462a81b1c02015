"""Each notebook's summary: its verdict table and the JSON record the pipeline reads.

One function per notebook (``certificates`` for 01 ... ``performance`` for 06). Each takes the
results of the notebook's steps (plain data, nothing is connected to or measured here) and returns
a :class:`Summary`: ``verdict`` (the rows of the final table, stable ids) and ``record`` (what the
notebook writes with ``workdir.write_summary(WORK, "<notebook>", summary.record)``: ``notebook``,
``ok``, ``verdict``, ``evidence`` with the keys of docs/summary-json.md; never key material).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook import pki
from runbook.results import CheckResult, Finding, all_ok, as_dicts

if TYPE_CHECKING:
    from runbook.bench import BenchReport
    from runbook.book.rotation import DrillOutcome, RotationOutcome, RotationSetup
    from runbook.book.target import ServerStep
    from runbook.checks import AuditReport, Refusal
    from runbook.client import SnippetRun
    from runbook.client.probe import Handshake
    from runbook.diagnose import Diagnosis
    from runbook.drills import DrillResult
    from runbook.rotation import RotationReport


@dataclass
class Summary:
    """A notebook's verdict and its record for the pipeline."""

    notebook: str
    verdict: list[CheckResult]
    evidence: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level record fields (03: checks)

    @property
    def ok(self) -> bool:
        return all_ok(self.verdict)

    @property
    def record(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "ok": self.ok,
            "verdict": as_dicts(self.verdict),
            **self.extra,
            "evidence": self.evidence,
        }


#: The fix a failed summary check shows in the verdict table (the step above it says more).
FIXES: dict[str, str] = {
    "ca-profile": "re-issue the CA with notebook 01 (overwrite=True): strict RFC 5280 profile",
    "verification": "read the failed checks of step 2 in notebook 01; re-issue with overwrite=True",
    "plaintext-refused": "set port 0 (notebook 02 renders it) so Redis speaks only TLS",
    "mutual-tls": "set tls-auth-clients yes (notebook 02)",
    "live-checks": "read the failed live checks above; `runbook check --json` on the port",
    "snippets": "read the failed snippet's output above; `runbook check` on the endpoint",
    "redis-py-mistakes": "read the mistake that did not fail as expected; check redis-py's version",
    "audit": "read the failed audit checks above (`runbook check --json`)",
    "refusals": "a wrong client got in: set tls-auth-clients yes and tls-protocols TLSv1.2 TLSv1.3",
    "drills": "run `runbook drill run NAME --json` and read the evidence",
    "drills-cleanup": "run `runbook drill run NAME`; stop leftover redis-server processes by pid",
    "certificate-dates": "rotate the certificate out of its validity (notebook 05) or fix the clock",
    "chain-verification": "re-issue the certificate that does not verify (notebook 01, overwrite=True)",
    "handshake": "run `runbook diagnose` on the port",
    "protocols": 'set tls-protocols "TLSv1.2 TLSv1.3" (notebook 02)',
    "diagnose": "set tls-auth-clients yes; `runbook diagnose --json` for the evidence",
    "plan-preflight": "read the failed preflight step above; `runbook rotate server --dry-run`",
    "rotation": "read the failed rotation step above; the old files are in pki/backups/",
    "live-load": "read the failed load facts above; re-run with a longer soak_seconds",
    "drill-preflight": "the bad certificate was not refused: read the preflight steps above",
    "drill-rollback": "restore pki/backups/<latest> and reload (`runbook rotate verify`)",
}


def _check(check_id: str, ok: bool, detail: str) -> CheckResult:
    fix = "" if ok else FIXES.get(check_id, "read the failed step above")
    return CheckResult(check_id, "pass" if ok else "fail", detail, fix)


def _judged(check_id: str, results: Sequence[CheckResult], detail: str, warned: str) -> CheckResult:
    """One verdict row over ``results``: ``fail`` when any failed, ``warn`` (``warned``, with the first
    warning's fix) when any warned, else ``pass``: a summary never claims more than its steps found."""
    if any(r.status == "fail" for r in results):
        return _check(check_id, False, detail)
    warns = [r for r in results if r.status == "warn"]
    if warns:
        return CheckResult(check_id, "warn", f"{warned}: {', '.join(r.id for r in warns)}", warns[0].fix)
    return _check(check_id, True, detail)


def _server_certificate(subject: str, serial: str, not_after: str, sans: Sequence[str]) -> dict[str, Any]:
    return {
        "role": "server",
        "subject": subject,
        "serial": serial,
        "not_after": not_after,
        "sans": list(sans),
    }


# --------------------------------------------------------------------------- 01


def certificates(
    report: pki.PkiReport,
    profile: Sequence[CheckResult],
    results: Sequence[CheckResult],
    infos: Sequence[pki.CertInfo],
) -> Summary:
    """01: files written/kept, the CA profile, the verification; evidence: every certificate."""
    verdict = [
        CheckResult("pki-files", "pass", f"{len(report.written)} written, {len(report.kept)} kept"),
        _judged(
            "ca-profile",
            profile,
            "strict RFC 5280 CA",
            "Redis and OpenSSL accept the CA, strict clients refuse it",
        ),
        _judged("verification", results, f"{len(results)} checks", "strict clients refuse"),
    ]
    return Summary("01_certificates", verdict, {"certificates": [pki.evidence(c) for c in infos]})


# --------------------------------------------------------------------------- 02


def server_config(
    *,
    target: str,
    topology: str,
    preset: str,
    directives: int,
    findings: Sequence[Finding],
    server: ServerStep,
    results: Sequence[CheckResult],
    hs: Handshake,
    redis_version: str,
    config_file: Path | str,
) -> Summary:
    """02: rendered, lint-clean, the server (sandbox up, or ``skip`` for an external one), the live probes."""
    errors = [f for f in findings if f.severity == "error"]
    plaintext = [r for r in results if r.id.startswith(("plaintext-refused", "plaintext-port"))]
    plaintext_ok = bool(plaintext) and all_ok(plaintext)
    mtls_ok = all(r.ok for r in results if r.id.startswith("mutual-tls-enforced"))
    verdict = [
        CheckResult("config-rendered", "pass", f"preset {preset}, {directives} directives"),
        CheckResult("config-lint", "fail" if errors else "pass",
                    f"{len(errors)} errors, {len(findings) - len(errors)} other findings"),
        server.check,
        _check("plaintext-refused", plaintext_ok, f"{len(plaintext)} plaintext probes refused or closed"),
        _check("mutual-tls", mtls_ok, "clients without a certificate are refused"),
        _judged("live-checks", results, f"{len(results)} checks", "Redis-compatible clients connect, strict clients refuse"),
        CheckResult("handshake", "pass", f"{hs.protocol}, {hs.cipher}"),
    ]  # fmt: skip
    evidence = {
        "target": target, "topology": topology, "redis_version": redis_version,
        "protocols_accepted": [hs.protocol], "mutual_tls_enforced": mtls_ok, "plaintext_refused": plaintext_ok,
        "config_file": str(config_file), "lint": as_dicts(findings), "checks": as_dicts(results),
        "certificates": [_server_certificate(hs.server_subject, hs.server_serial, hs.server_not_after, hs.server_sans)],
    }  # fmt: skip
    return Summary("02_server_config", verdict, evidence)


# --------------------------------------------------------------------------- 03

_AUDIT_EVIDENCE = (
    "target",
    "protocols_accepted",
    "protocols_refused",
    "ciphers_accepted",
    "mutual_tls_enforced",
    "plaintext_refused",
    "certificates",
)


def client_checks(
    *,
    runs: Sequence[SnippetRun],
    snippets: Sequence[CheckResult],
    mistakes: Sequence[CheckResult],
    audit: AuditReport,
    refusals: Sequence[Refusal],
    redis_version: str,
    topology: str,
) -> Summary:
    """03: snippets ran as printed, the redis-py mistakes fail as documented, the audit, the refusals."""
    verdict = [
        _check("snippets", all_ok(snippets), f"{sum(r.ok for r in runs)} of {len(runs)} ran and answered"),
        _check("redis-py-mistakes", all_ok(mistakes),
               f"{sum(m.status == 'pass' for m in mistakes)} mistakes fail as documented"),
        _check("audit", audit.ok, f"{sum(c.status == 'pass' for c in audit.checks)} of {len(audit.checks)} checks pass"),
        _check("refusals", all(r.refused for r in refusals), f"{len(refusals)} wrong clients refused"),
    ]  # fmt: skip
    evidence = {k: audit.evidence.get(k) for k in _AUDIT_EVIDENCE}
    evidence |= {"redis_version": redis_version, "topology": topology}
    return Summary("03_client_checks", verdict, evidence, {"checks": as_dicts(audit.checks)})


# --------------------------------------------------------------------------- 04

NO_CLIENT_CERT = "without a client certificate"


def troubleshooting(
    *,
    identity: Mapping[str, Any],
    topology: str,
    dates: Sequence[CheckResult],
    chain: Sequence[CheckResult],
    hs: Handshake,
    protocols: Mapping[str, bool],
    ciphers: Mapping[str, bool],
    diagnoses: Mapping[str, Diagnosis],
    drills: Sequence[DrillResult] | None,
    drills_skipped: str = "",
) -> Summary:
    """04: the toolkit steps, then the drills (``drills=None``: not run, ``skip`` with ``drills_skipped``)."""
    mtls = diagnoses[NO_CLIENT_CERT].cause == "client-cert-missing"
    results = list(drills or [])
    if drills is None:
        drill_checks = [
            CheckResult("drills", "skip", drills_skipped),
            CheckResult("drills-cleanup", "skip", drills_skipped),
        ]
    else:
        drill_checks = [
            _check("drills", all(r.diagnosed for r in results),
                   f"{sum(r.diagnosed for r in results)} of {len(results)} diagnosed correctly"),
            _check("drills-cleanup", all(r.cleaned for r in results), "no process or folder left behind"),
        ]  # fmt: skip
    verdict = [
        _check("certificate-dates", all_ok(dates), f"{len(dates)} certificates in date"),
        _check("chain-verification", all_ok(chain), "server and client chains verify"),
        _check("handshake", hs.reply == "+PONG", f"{hs.protocol}, PING answered"),
        _check("protocols", not (protocols.get("TLSv1") or protocols.get("TLSv1.1")),
               "accepted: " + ", ".join(k for k, v in protocols.items() if v)),
        _check("diagnose", mtls, "healthy -> ok, no client certificate -> client-cert-missing"),
        *drill_checks,
    ]  # fmt: skip
    evidence = {
        **identity,  # redis_version, target (host:port): Toolkit.identity()
        "topology": topology,
        "protocols_accepted": [k for k, v in protocols.items() if v],
        "protocols_refused": [k for k, v in protocols.items() if not v],
        "ciphers_accepted": [hs.cipher, *(k for k, v in ciphers.items() if v)],
        "mutual_tls_enforced": mtls,
        "drills": [{"name": r.name, "expected": r.expected, "cause": r.cause, "ok": r.ok} for r in results],
    }
    return Summary("04_troubleshooting", verdict, evidence)


# --------------------------------------------------------------------------- 05


def rotation(
    *,
    setup: RotationSetup,
    plan: RotationReport,
    outcome: RotationOutcome,
    refused: DrillOutcome,
    rolled: DrillOutcome,
    drill_kind: str,
) -> Summary:
    """05: plan and preflight, the rotation, the live load, both drills (external: plan only, the rest ``skip``)."""
    from runbook.book import rotation_external as rot

    preflight = [s for s in plan.steps if s.id.startswith("preflight")]
    if outcome.external:
        verdict = rot.external_verdict(plan, outcome.report)
    else:
        restored = dict(rolled.facts).get("files restored byte for byte", False)
        verdict = [
            _check("plan-preflight", all_ok(preflight), "dry run planned, new certificate preflighted"),
            _check("rotation", outcome.report.ok, "backup, atomic swap, one CONFIG SET, verified"),
            _check("live-load", all_ok(outcome.load_facts), "no failed command or reconnect during the rotation"),
            _check("drill-preflight", refused.report.status == "refused", f"{drill_kind} refused, server untouched"),
            _check("drill-rollback", rolled.report.rolled_back and restored, "forced reload failure rolled back"),
        ]  # fmt: skip
    info = pki.cert_info(outcome.served)
    evidence = {
        "target": setup.node.endpoint.address,
        "topology": setup.target.topology,
        "rotation": outcome.report.evidence(),
        "certificates": [_server_certificate(info.subject, info.serial, info.not_after, info.sans)],
        "rotation_plan": {"steps": setup.plan_rows(plan), "commands": outcome.report.commands},
        "load": outcome.window.summary() if outcome.window else None,
        "drills": rolled.report.evidence() + refused.report.evidence(),
    }
    return Summary("05_rotation", verdict, evidence)


# --------------------------------------------------------------------------- 06


def performance(checks: Mapping[str, CheckResult], report: BenchReport | None) -> Summary:
    """06: every measured claim's verdict (all ``skip`` when nothing was measured); the headline figures."""
    from runbook import bench

    return Summary("06_performance", list(checks.values()), bench.evidence(report))


__all__ = [
    "NO_CLIENT_CERT",
    "Summary",
    "certificates",
    "client_checks",
    "performance",
    "rotation",
    "server_config",
    "troubleshooting",
]
