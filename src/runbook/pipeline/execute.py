"""Executing notebooks: one notebook of a run with papermill, its failure located; refresh in place."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runbook import workdir
from runbook.pipeline.discovery import discover
from runbook.pipeline.kernel import IpcKernelManager, environment
from runbook.pipeline.summary import NotebookRun, RunLog, RunSummary, run_error

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failing_line(traceback: Sequence[str]) -> str:
    """The ``---->`` line of the last traceback frame in the cell (ANSI colours stripped)."""
    text = _ANSI.sub("", "\n".join(traceback or []))
    lines = [ln for ln in text.splitlines() if ln.lstrip().startswith("---->")]
    if not lines:
        return ""
    return re.sub(r"^\s*----> ?\d*\s*", "", lines[-1]).strip()


def error_info(exc: BaseException, notebook: Path, injected_at: int | None) -> dict[str, Any]:
    """notebook, cell (1-based position in the source notebook), execution_count, ename, reason."""
    index = getattr(exc, "cell_index", None)
    cell = None
    if isinstance(index, int):
        cell = index if injected_at is not None and index > injected_at else index + 1
    ename = str(getattr(exc, "ename", type(exc).__name__))
    evalue = " ".join(str(getattr(exc, "evalue", exc)).split())
    line = failing_line(getattr(exc, "traceback", []) or [])
    reason = evalue or (f"failed at `{line}`" if line else ename)
    return {
        "notebook": notebook.stem,
        "cell": cell,
        "execution_count": getattr(exc, "exec_count", None),
        "ename": ename,
        "reason": reason[:500],
        "line": line[:300],
    }


def injected_index(notebook: Path, params: Mapping[str, Any]) -> int | None:
    """Where papermill puts the injected-parameters cell (None when nothing is injected)."""
    if not params:
        return None
    import nbformat

    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return i + 1
    return 0


def run_notebook(
    summary: RunSummary,
    nb: Path,
    params: dict[str, Any],
    out: Path,
    wd: Path,
    show_progress: bool,
    log: RunLog,
) -> bool:
    """Execute one notebook; append its outcome; False when the run must stop."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    (wd / "summaries" / f"{nb.stem}.json").unlink(missing_ok=True)  # no stale record from a past run
    dest = out / nb.name
    log(f"{nb.stem}: started with parameters {sorted(params)}")
    t0 = time.monotonic()
    error: dict[str, Any] | None = None
    try:
        papermill.execute_notebook(
            str(nb),
            str(dest),
            parameters=params,
            progress_bar=show_progress,
            cwd=str(nb.parent),
            kernel_name="python3",
            log_output=False,
            kernel_manager_class=IpcKernelManager,
        )
    except PapermillExecutionError as exc:
        error = error_info(exc, nb, injected_index(nb, params))
    except Exception as exc:  # kernel died, timeout, unreadable notebook: still a failed run
        error = error_info(exc, nb, None)
    seconds = round(time.monotonic() - t0, 2)
    record = workdir.read_summary(wd, nb.stem)
    if error is None and record is not None and record.get("ok") is False:
        bad = [v.get("id") for v in record.get("verdict", []) if v.get("status") == "fail"]
        reason = f"the summary record says ok=false (failed: {', '.join(map(str, bad)) or 'unknown'})"
        error = run_error(nb.stem, "VerdictFailed", reason)
    status = "failed" if error else "passed"
    run = NotebookRun(nb.stem, status, seconds, str(dest), record, error, dict(params))
    summary.notebooks.append(run)
    if error:
        summary.fail(error)
        log(f"{nb.stem}: failed after {seconds}s: {summary.failure_line()}")
        return False
    log(f"{nb.stem}: passed in {seconds}s")
    return True


def refresh(
    notebooks: Path | None = None, only: Sequence[str] = (), work: Path | str | None = None
) -> list[Path]:
    """Re-execute the notebooks in place (default parameters, one fresh work dir, in order).

    These committed outputs are the reference ``pytest --nbval`` compares against.
    """
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    done = []
    with tempfile.TemporaryDirectory(prefix="runbook-refresh-") as tmp:
        wd = Path(work) if work else Path(tmp)
        try:
            with environment(workdir.ENV, str(wd)):
                for nb_path in discover(notebooks, only):
                    nb = nbformat.read(nb_path, as_version=4)  # type: ignore[no-untyped-call]
                    NotebookClient(
                        nb,
                        timeout=600,
                        kernel_name="python3",
                        kernel_manager_class=IpcKernelManager,
                        resources={"metadata": {"path": str(nb_path.parent)}},
                    ).execute()
                    nbformat.write(nb, nb_path)  # type: ignore[no-untyped-call]
                    done.append(nb_path)
        finally:
            from runbook.pipeline import sandboxes

            sandboxes.stop_all(wd)
    return done
