"""``run()``: the notebook sequence of a run, from the validated plan to ``summary.json``.

Imports flow downward: this module uses the plan (:mod:`.params`), the execution of one notebook
(:mod:`.execute`), the summary (:mod:`.summary`), the report (:mod:`.report`) and the scan
(:mod:`.scan`); none of those imports it.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runbook import files, workdir
from runbook.pipeline import sandboxes
from runbook.pipeline.discovery import NOTEBOOK_GLOB
from runbook.pipeline.execute import run_notebook
from runbook.pipeline.kernel import environment
from runbook.pipeline.params import Plan, plan
from runbook.pipeline.report import write_html_report
from runbook.pipeline.scan import scan_run
from runbook.pipeline.summary import (
    NotebookRun,
    RunLog,
    RunSummary,
    merge_evidence,
    run_error,
    stamp,
    summary_json,
)

_CONTRACT = (
    "started a sandbox under target=external: the notebook must not start servers when "
    "target == 'external' (docs/external-target.md, the external target contract)"
)


def run(
    *,
    params_file: Path | str | None = None,
    output_dir: Path | str | None = None,
    only: Sequence[str] = (),
    work: Path | str | None = None,
    progress: bool | None = None,
    notebooks: Path | None = None,
    stop_sandbox: bool = True,
    target: str | None = None,
    connection: Mapping[str, Any] | None = None,
    html: bool = False,
    scan: bool = True,
) -> RunSummary:
    """Run the notebooks in order with papermill; write executed notebooks, logs and summary.json.

    Validates everything first (:func:`plan`; RunbookError before anything runs). Stops at the
    first failing notebook; the summary names it, its cell and the one-line reason. With the
    sandbox target every sandbox the work dir holds (the main one and the fleet's sub-work-dirs,
    :mod:`.sandboxes`) is stopped at the end unless ``stop_sandbox=False``; with the
    external target nothing is started or stopped (a notebook that starts a sandbox anyway fails).
    ``html`` writes ``report.html``; ``scan`` checks every written file for key material.
    """
    the_plan = plan(
        params_file=params_file,
        only=only,
        work=work,
        notebooks=notebooks,
        target=target,
        connection=connection,
    )
    wd = the_plan.work
    t_start = time.time()
    out = (
        Path(output_dir).resolve()
        if output_dir
        else workdir.project_root() / "build" / "runs" / files.utc_stamp(t_start)
    )
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous_run(out)
    summary = _new_summary(the_plan, out, t_start)
    log = RunLog(out / "logs" / "run.log")
    log(f"run started: target={the_plan.target.kind} work_dir={wd} notebooks={len(the_plan.steps)}")
    try:
        _run_steps(summary, the_plan, out, sys.stderr.isatty() if progress is None else progress, log)
    finally:
        if the_plan.target.kind == "sandbox":
            _copy_sandbox_logs(wd, out, summary)
            if stop_sandbox:
                stopped = sandboxes.stop_all(wd)  # the fleet's sub-work-dirs too: a dead kernel ran no atexit
                log(f"sandbox stopped ({len(stopped)} process(es))")
        _finish(summary, out, wd, html, scan, log, t_start)
    return summary


def _new_summary(the_plan: Plan, out: Path, t_start: float) -> RunSummary:
    target = the_plan.target
    return RunSummary(
        started=stamp(t_start),
        date=stamp(t_start),
        work_dir=str(the_plan.work),
        output_dir=str(out),
        target={
            "kind": target.kind,
            "endpoint": target.address,
            "server_name": target.endpoint.server_name if target.endpoint else None,
        },
    )


def _run_steps(summary: RunSummary, the_plan: Plan, out: Path, show_progress: bool, log: RunLog) -> None:
    """The notebooks in order, stopping at the first failure; the rest are recorded ``skipped``."""
    wd = the_plan.work
    sandbox_before = sandboxes.states(wd)
    with environment(workdir.ENV, str(wd)):
        for nb, params in the_plan.steps:
            if not run_notebook(summary, nb, params, out, wd, show_progress, log):
                break
            if the_plan.target.kind == "external" and sandboxes.states(wd) != sandbox_before:
                _contract_broken(summary, nb, wd, log)
                break
    for nb, _ in the_plan.steps[len(summary.notebooks) :]:
        summary.notebooks.append(NotebookRun(nb.stem, "skipped", 0.0, ""))


def _clear_previous_run(out: Path) -> None:
    """Delete what an earlier run wrote to ``out`` (executed notebooks, summary, report, logs).

    A re-used output dir then shows only this run: no stale notebook from a longer earlier run,
    nothing old for the secret scan to trip on. Other files are left alone.
    """
    owned = [*out.glob(NOTEBOOK_GLOB), out / "summary.json", out / "report.html", *out.glob("logs/*.log")]
    for path in owned:
        path.unlink(missing_ok=True)


def _contract_broken(summary: RunSummary, nb: Path, wd: Path, log: RunLog) -> None:
    """A notebook started a sandbox under the external target: fail it, stop what it started."""
    stopped = sandboxes.stop_all(wd)
    log(f"{nb.stem} started a sandbox under target=external; stopped {len(stopped)} process(es)")
    last = summary.notebooks[-1]
    last.status = "failed"
    last.error = run_error(nb.stem, "TargetContractError", _CONTRACT)
    summary.fail(last.error)


def _copy_sandbox_logs(wd: Path, out: Path, summary: RunSummary) -> None:
    """Copy each sandbox node's redis.log to ``<out>/logs/sandbox-<node>.log`` (audit trail); the
    nodes of a sub-work-dir's sandbox (the fleet's) as ``sandbox-<sub-dir>-<node>.log``."""
    from runbook import sandbox

    for work in sandboxes.work_dirs(wd):
        box = sandbox.status(work)
        if box is None:
            continue
        if box.nodes and work == wd:
            summary.target["endpoint"] = f"localhost:{box.primary.port}"
        prefix = "-".join(("sandbox", *work.relative_to(wd).parts))
        for node in box.nodes:
            if node.log_path.is_file():
                shutil.copyfile(node.log_path, out / "logs" / f"{prefix}-{node.name}.log")


def _finish(
    summary: RunSummary, out: Path, wd: Path, html: bool, scan: bool, log: RunLog, t_start: float
) -> None:
    """Evidence, the optional report, timings, the secret scan, then ``summary.json``."""
    merge_evidence(summary)
    if html:
        try:
            summary.report_html = str(write_html_report(summary, out / "report.html"))
            log("report.html written")
        except Exception as exc:  # the report is a view: its failure must not hide the run's outcome
            log(f"report.html failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
    summary.finished = stamp(time.time())
    summary.seconds = round(time.time() - t_start, 2)
    log(f"run finished: ok={summary.ok} in {summary.seconds}s")
    log.close()
    summary.logs = sorted(str(p.relative_to(out)) for p in (out / "logs").glob("*.log"))
    if scan:
        scan_run(summary, out, wd)
    (out / "summary.json").write_text(summary_json(summary))
