"""A server we may not manage (notebook 05's external target): plan, apply on request, verify, verdict.

:func:`external_rotation` keeps a dry-run plan and the exact deploy/reload commands unless the
operator asks to apply; :func:`verify_served` checks a deploy done by hand; :func:`external_verdict`
and :func:`rotation_done` are notebook 05's verdicts (the same ids on both targets).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from runbook import pki
from runbook.client import TlsClientFiles
from runbook.results import CheckResult, all_ok
from runbook.rotation import NodeTarget
from runbook.rotation.commands import deploy_commands
from runbook.rotation.report import RotationReport
from runbook.rotation.run import rotate

LIVE_LOAD_NEEDS_SANDBOX = "the live-load proof needs a local server: run with target=sandbox"
DRILLS_NEED_SANDBOX = "the rotation drills build local broken servers: run with target=sandbox"


def issuing_pki(ca_file: Path | str) -> Path | None:
    """The runbook PKI folder that can issue for ``ca_file`` (``ca.crt`` + ``ca.key`` side by side), or None."""
    folder = Path(ca_file).resolve().parent
    paths = pki.PkiPaths(folder)
    if Path(ca_file).resolve() == paths.ca_cert.resolve() and paths.ca_key.is_file():
        return folder
    return None


def unplanned(target: str, ca_file: Path | str) -> RotationReport:
    """The plan of an external rotation that cannot be planned here: no CA key beside ``ca_file``."""
    report = RotationReport(kind="server", target=target, status="skipped")
    report.add(
        "plan",
        "skip",
        f"no ca.key beside {Path(ca_file).name}: a new certificate cannot be issued here",
        "point ca_file at the runbook PKI folder's ca.crt (ca.key beside it), or rotate with "
        "`runbook rotate server --ca-key CA.key` or `--new-cert NEW.crt --new-key NEW.key`",
    )
    return report


def external_rotation(
    plan: RotationReport,
    pki_dir: Path | str | None,
    nodes: Sequence[NodeTarget],
    *,
    apply: bool,
    client_files: TlsClientFiles,
    server_hostname: str | None,
    days: int = 365,
    soak_seconds: float = 0.0,
) -> RotationReport:
    """Notebook 05 under the external target: the dry-run ``plan`` by default, a real rotation on ``apply``.

    Without ``apply`` nothing is written and the server is not touched: the plan gets the exact
    deploy and ``CONFIG SET`` reload commands and an ``apply`` step with status ``skip``. With
    ``apply`` (and a planned, preflighted rotation) it calls :func:`rotate`, which reloads a server
    that reads these paths or stages the files and returns the commands (status ``pending``).
    """
    if plan.status != "planned" or pki_dir is None:
        return plan
    paths = pki.PkiPaths(Path(pki_dir))
    if not apply:
        plan.commands = [
            "# the new files are not written yet: `python -m runbook rotate server --dir "
            f"{shlex.quote(str(paths.root))} --host H --port N` (or apply_external=True) writes them, then:",
            *(c for n in nodes for c in deploy_commands(n, paths)),
        ]
        plan.add(
            "apply",
            "skip",
            "external target: planned and preflighted only, nothing written, the server untouched",
            "set apply_external=True (the server must read these paths), or run the commands",
        )
        return plan
    return rotate(
        "server", paths.root, nodes, days=days, client_files=client_files,
        server_hostname=server_hostname, soak_seconds=soak_seconds,
    )  # fmt: skip


def rotation_done(report: RotationReport, target: str) -> bool:
    """True when step 3 ended as it should: ``rotated`` on the sandbox; planned/staged/rotated external."""
    if target != "external":
        return report.ok and report.status == "rotated"
    return report.ok and report.status in ("planned", "skipped", "pending", "rotated")


def skipped_drill(target: str, reason: str = DRILLS_NEED_SANDBOX) -> RotationReport:
    """A drill that was not run (external target): status ``skipped``, one ``skip`` step with ``reason``."""
    report = RotationReport(kind="server", target=target, status="skipped")
    report.add("drill", "skip", reason)
    return report


def external_verdict(plan: RotationReport, report: RotationReport) -> list[CheckResult]:
    """Notebook 05's verdict under the external target (same ids as the sandbox verdict)."""
    preflight = [s for s in plan.steps if s.id.startswith("preflight")]
    if plan.status == "skipped":
        first = plan.steps[0]
        plan_check = CheckResult("plan-preflight", "skip", first.detail, first.fix)
    else:
        plan_check = CheckResult(
            "plan-preflight",
            "pass" if all_ok(preflight) and plan.status == "planned" else "fail",
            "dry run planned, a freshly issued certificate preflighted against the live server's trust",
        )
    outcome = {
        "planned": CheckResult(
            "rotation", "skip", "planned only (apply_external=False): nothing written, the server untouched"
        ),
        "skipped": CheckResult("rotation", "skip", "not planned: see plan-preflight"),
        "rotated": CheckResult("rotation", "pass", "backup, atomic swap, one CONFIG SET, verified"),
        "pending": CheckResult(
            "rotation",
            "warn",
            "new files staged in the PKI folder: the server does not read them",
            "run the printed deploy commands, then `runbook rotate verify`",
        ),
    }
    rotation = outcome.get(report.status) if report.ok else None
    return [
        plan_check,
        rotation or CheckResult("rotation", "fail", f"rotation {report.status}", "read the failed steps"),
        CheckResult("live-load", "skip", LIVE_LOAD_NEEDS_SANDBOX),
        CheckResult("drill-preflight", "skip", DRILLS_NEED_SANDBOX),
        CheckResult("drill-rollback", "skip", DRILLS_NEED_SANDBOX),
    ]
