"""Headless runs of the notebook sequence with papermill, and the run summary.

``run()`` executes ``notebooks/NN_*.ipynb`` in order, passes each notebook only the parameters
it declares, stops at the first failing notebook (naming the notebook, the cell and the one-line
reason) and writes the executed notebooks plus ``summary.json`` to the output dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook import files, workdir
from runbook.errors import RunbookError

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


@dataclass
class NotebookRun:
    """The outcome of one notebook in a run."""

    name: str
    status: str  # passed | failed | skipped
    seconds: float
    output: str
    record: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@dataclass
class RunSummary:
    """What a run did; written as ``summary.json``."""

    started: str
    work_dir: str
    output_dir: str
    ok: bool = True
    notebooks: list[NotebookRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failure(self) -> NotebookRun | None:
        return next((n for n in self.notebooks if n.status == "failed"), None)


def notebooks_dir() -> Path:
    return workdir.project_root() / "notebooks"


def discover(folder: Path | None = None, only: Sequence[str] = ()) -> list[Path]:
    """The runbook's notebooks in order; ``only`` filters by number prefix (``01``) or stem."""
    found = sorted((folder or notebooks_dir()).glob(NOTEBOOK_GLOB))
    if not only:
        return found
    wanted = {o.strip() for o in only if o.strip()}
    chosen = [p for p in found if p.stem[:2] in wanted or p.stem in wanted]
    unknown = wanted - {p.stem[:2] for p in chosen} - {p.stem for p in chosen}
    if unknown:
        names = ", ".join(p.stem for p in found)
        raise RunbookError(f"no notebook matches {', '.join(sorted(unknown))}: choose from {names}")
    return chosen


def load_params(path: Path | str | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Read a params YAML: ``{common: {...}, notebooks: {"01_certificates": {...}}}``.

    Top-level keys other than ``common`` and ``notebooks`` count as common parameters.
    """
    if path is None:
        return {}, {}
    p = Path(path)
    if not p.is_file():
        raise RunbookError(f"params file {p} not found: pass an existing YAML file to --params")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(
            f"params file {p} is not valid YAML ({' '.join(str(exc).split())}): fix its syntax"
        ) from None
    if not isinstance(data, dict):
        raise RunbookError(f"params file {p} must be a mapping of parameter names to values")
    per_notebook = data.pop("notebooks", None) or {}
    common = {**data.pop("common", {}), **data}
    return common, per_notebook


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters a notebook declares in its ``parameters`` cell (name -> papermill info)."""
    import papermill

    params: dict[str, Any] = papermill.inspect_notebook(str(notebook))
    return params


def params_for(
    notebook: Path, common: Mapping[str, Any], per_notebook: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    declared = declared_parameters(notebook)
    chosen = {k: v for k, v in common.items() if k in declared}
    specific = dict(per_notebook.get(notebook.stem, {}) or per_notebook.get(notebook.stem[:2], {}) or {})
    unknown = set(specific) - set(declared)
    if unknown:
        raise RunbookError(
            f"{notebook.stem} has no parameter {', '.join(sorted(unknown))}: see papermill --help-notebook {notebook}"
        )
    return {**chosen, **specific}


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _error_info(exc: BaseException, notebook: Path) -> dict[str, Any]:
    cell = getattr(exc, "exec_count", None)
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = " ".join(str(getattr(exc, "evalue", exc)).split())
    return {
        "notebook": notebook.stem,
        "cell": cell,
        "ename": ename,
        "reason": evalue.splitlines()[0] if evalue else ename,
    }


def run(
    *,
    params_file: Path | str | None = None,
    output_dir: Path | str | None = None,
    only: Sequence[str] = (),
    work: Path | str | None = None,
    progress: bool | None = None,
    notebooks: Path | None = None,
    stop_sandbox: bool = True,
) -> RunSummary:
    """Run the notebooks in order with papermill. Writes executed notebooks and summary.json.

    Stops at the first failing notebook; the summary names it, its cell and the reason.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    chosen = discover(notebooks, only)
    if not chosen:
        raise RunbookError("no notebooks found: run from the repository (notebooks/NN_*.ipynb)")
    common, per_notebook = load_params(params_file)
    wd = workdir.work_dir(work or common.pop("work_dir", None))
    out = Path(output_dir) if output_dir else workdir.project_root() / "build" / "runs" / files.utc_stamp()
    out.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), work_dir=str(wd), output_dir=str(out)
    )
    show_progress = sys.stderr.isatty() if progress is None else progress
    try:
        with _env(workdir.ENV, str(wd)):
            for nb in chosen:
                params = params_for(nb, common, per_notebook)
                target = out / nb.name
                t0 = time.monotonic()
                try:
                    papermill.execute_notebook(
                        str(nb),
                        str(target),
                        parameters=params,
                        progress_bar=show_progress,
                        cwd=str(nb.parent),
                        kernel_name="python3",
                        log_output=False,
                    )
                except PapermillExecutionError as exc:
                    summary.notebooks.append(
                        NotebookRun(
                            nb.stem,
                            "failed",
                            round(time.monotonic() - t0, 2),
                            str(target),
                            error=_error_info(exc, nb),
                        )
                    )
                    summary.ok = False
                    break
                summary.notebooks.append(
                    NotebookRun(
                        nb.stem,
                        "passed",
                        round(time.monotonic() - t0, 2),
                        str(target),
                        workdir.read_summary(wd, nb.stem),
                    )
                )
    finally:
        if stop_sandbox:
            from runbook import sandbox

            sandbox.stop(wd)
        (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
    return summary


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
            with _env(workdir.ENV, str(wd)):
                for nb_path in discover(notebooks, only):
                    nb = nbformat.read(nb_path, as_version=4)  # type: ignore[no-untyped-call]
                    NotebookClient(
                        nb,
                        timeout=600,
                        kernel_name="python3",
                        resources={"metadata": {"path": str(nb_path.parent)}},
                    ).execute()
                    nbformat.write(nb, nb_path)  # type: ignore[no-untyped-call]
                    done.append(nb_path)
        finally:
            from runbook import sandbox

            sandbox.stop(wd)
    return done
