"""Headless runs of the notebook sequence with papermill, and the run's audit summary.

``run()`` executes ``notebooks/NN_*.ipynb`` in order against a target (``sandbox``: a local
redis-server the notebooks start, stopped at the end; ``external``: a server given by host, port,
server name and file paths, never started or stopped). Each notebook gets only the parameters it
declares: the common ones (``target``, ``redis_host``, ``redis_port``, ``server_name``,
``ca_file``, ``client_cert``, ``client_key`` and any other common YAML key) plus its own.
Everything is validated before the first notebook runs (RunbookError, exit 2).

A run writes to its output dir: the executed notebooks, ``summary.json`` (outcome per notebook,
the failure with notebook, cell and one-line reason, and the merged audit evidence; see
docs/summary-json.md), ``logs/run.log``, the sandbox Redis logs, and optionally ``report.html``
(nbconvert, code hidden). It stops at the first failing notebook, and finally scans everything it
wrote for private key material and passphrases (:mod:`runbook.hygiene`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default

from runbook import files, hygiene, workdir
from runbook.errors import RunbookError
from runbook.evidence import aggregate
from runbook.evidence import problems as evidence_problems

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


class IpcKernelManager(AsyncKernelManager):
    """Kernels talk to us over Unix sockets in the Jupyter runtime dir, not loopback TCP.

    A notebook that handles certificates should not expose its kernel to every local user
    (and ipykernel warns about unencrypted TCP on every start).
    """

    transport = "ipc"

    @default("ip")
    def _ipc_path(self) -> str:
        # absolute, so the kernel (started in the notebook's folder) and we agree on the sockets
        folder = Path(jupyter_runtime_dir())
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"kernel-{uuid.uuid4().hex[:12]}-ipc")


TARGETS = ("sandbox", "external")
#: Connection parameters of the target; notebooks that declare them receive them.
CONNECTION_PARAMETERS = ("redis_host", "redis_port", "server_name", "ca_file", "client_cert", "client_key")
#: Parameters the pipeline itself gives every notebook that declares them.
COMMON_PARAMETERS = ("target", *CONNECTION_PARAMETERS)
SUMMARY_VERSION = 1
_PATH_PARAMETERS = ("ca_file", "client_cert", "client_key")
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


@dataclass
class NotebookRun:
    """The outcome of one notebook in a run."""

    name: str
    status: str  # passed | failed | skipped
    seconds: float
    output: str
    record: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """What the notebooks run against. ``external``: nothing is started or stopped."""

    kind: str = "sandbox"
    redis_host: str = ""
    redis_port: int = 0
    server_name: str = ""
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""

    @property
    def endpoint(self) -> str | None:
        """``host:port`` of an external target (IPv6 in brackets); None for the sandbox."""
        if self.kind != "external":
            return None
        host = f"[{self.redis_host}]" if ":" in self.redis_host else self.redis_host
        return f"{host}:{self.redis_port}"

    def parameters(self) -> dict[str, Any]:
        """The common parameters notebooks receive (sandbox: only ``target``)."""
        if self.kind != "external":
            return {"target": self.kind}
        return {k: v for k, v in asdict(self).items() if k != "kind"} | {"target": self.kind}


@dataclass
class RunSummary:
    """What a run did; written as ``summary.json`` (fields: docs/summary-json.md)."""

    started: str
    work_dir: str
    output_dir: str
    ok: bool = True
    notebooks: list[NotebookRun] = field(default_factory=list)
    summary_version: int = SUMMARY_VERSION
    date: str = ""
    finished: str = ""
    seconds: float = 0.0
    target: dict[str, Any] = field(default_factory=dict)
    failure: dict[str, Any] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    evidence_sources: dict[str, list[str]] = field(default_factory=dict)
    evidence_conflicts: list[dict[str, Any]] = field(default_factory=list)
    evidence_missing: list[str] = field(default_factory=list)
    evidence_by_notebook: dict[str, dict[str, Any]] = field(default_factory=dict)
    evidence_problems: dict[str, list[str]] = field(default_factory=dict)
    secret_scan: dict[str, Any] = field(default_factory=dict)
    report_html: str | None = None
    logs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed(self) -> NotebookRun | None:
        return next((n for n in self.notebooks if n.status == "failed"), None)

    def failure_line(self) -> str:
        """``"FAILED: 02_x, cell 4 (In [3]): AssertionError: ..."`` or "" when the run passed."""
        f = self.failure
        if not f:
            return ""
        where = f"cell {f['cell']}" if f.get("cell") else "no cell"
        if f.get("execution_count"):
            where += f" (In [{f['execution_count']}])"
        return f"FAILED: {f['notebook']}, {where}: {f['ename']}: {f['reason']}"


# --------------------------------------------------------------------------- inputs


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

    Top-level keys other than ``common`` and ``notebooks`` count as common parameters. Relative
    ``ca_file`` / ``client_cert`` / ``client_key`` paths are taken relative to the YAML file.
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
    common_section = data.pop("common", None) or {}
    if not isinstance(per_notebook, dict) or not isinstance(common_section, dict):
        raise RunbookError(f"params file {p}: `common` and `notebooks` must be mappings")
    for name, section in per_notebook.items():
        if not isinstance(section, dict):
            raise RunbookError(f"params file {p}: notebooks.{name} must be a mapping of parameters")
    common = {**common_section, **data}
    for key in _PATH_PARAMETERS:
        value = common.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            common[key] = str((p.parent / value).resolve())
    return common, per_notebook


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters a notebook declares in its ``parameters`` cell (name -> papermill info)."""
    import papermill

    params: dict[str, Any] = papermill.inspect_notebook(str(notebook))
    return params


def _check_type(notebook: Path, name: str, value: Any, info: Mapping[str, Any]) -> None:
    wanted = _TYPES.get(str(info.get("inferred_type_name", "")))
    if wanted is None or value is None:
        return
    ok = isinstance(value, wanted) and not (isinstance(value, bool) and bool not in wanted)
    if not ok:
        raise RunbookError(
            f"{notebook.stem}: parameter {name} must be {info['inferred_type_name']}, "
            f"got {type(value).__name__} {value!r}: fix the value in the params file"
        )


def params_for(
    notebook: Path,
    common: Mapping[str, Any],
    per_notebook: Mapping[str, Mapping[str, Any]],
    declared: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameters ``notebook`` receives: the common ones it declares, then its own (checked)."""
    declared = declared_parameters(notebook) if declared is None else declared
    chosen = {k: v for k, v in common.items() if k in declared}
    specific = dict(per_notebook.get(notebook.stem, {}) or per_notebook.get(notebook.stem[:2], {}) or {})
    unknown = set(specific) - set(declared)
    if unknown:
        raise RunbookError(
            f"{notebook.stem} has no parameter {', '.join(sorted(unknown))}: see papermill --help-notebook {notebook}"
        )
    params = {**chosen, **specific}
    for name, value in params.items():
        _check_type(notebook, name, value, declared[name])
    return params


def resolve_target(kind: str | None, common: Mapping[str, Any], overrides: Mapping[str, Any]) -> Target:
    """The target from ``--target`` / the YAML ``target`` key and the connection parameters.

    ``external`` needs ``redis_host``, ``redis_port`` and an existing ``ca_file``; ``client_cert``
    and ``client_key`` go together; ``server_name`` defaults to ``redis_host``. The sandbox takes
    no connection parameters (the notebooks find the sandbox in the work dir).
    """
    given = {k: common[k] for k in CONNECTION_PARAMETERS if common.get(k) not in (None, "", 0)}
    given.update({k: v for k, v in overrides.items() if v not in (None, "", 0)})
    chosen = kind or str(common.get("target") or "sandbox")
    if chosen not in TARGETS:
        raise RunbookError(f"unknown target {chosen!r}: choose sandbox or external")
    if chosen == "sandbox":
        if given:
            raise RunbookError(
                f"{', '.join(sorted(given))} only apply to --target external: remove them or add --target external"
            )
        return Target()
    missing = [k for k in ("redis_host", "redis_port", "ca_file") if not given.get(k)]
    if missing:
        raise RunbookError(
            f"--target external needs {', '.join(missing)}: pass --{missing[0].replace('_', '-')} or set it in the params file"
        )
    try:
        port = int(given["redis_port"])
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise RunbookError(f"redis_port {given['redis_port']!r} is not a TCP port: give 1-65535")
    if bool(given.get("client_cert")) != bool(given.get("client_key")):
        raise RunbookError("client_cert and client_key go together: give both (mutual TLS) or neither")
    paths = {}
    for key in _PATH_PARAMETERS:
        if given.get(key):
            path = Path(str(given[key])).expanduser().resolve()
            if not path.is_file():
                raise RunbookError(f"{key} {path} not found: give the path of an existing PEM file")
            paths[key] = str(path)
    host = str(given["redis_host"])
    return Target(
        "external",
        host,
        port,
        str(given.get("server_name") or host),
        paths["ca_file"],
        paths.get("client_cert", ""),
        paths.get("client_key", ""),
    )


@dataclass(frozen=True)
class Plan:
    """A validated run: the notebooks and the exact parameters each one receives."""

    target: Target
    work: Path
    steps: list[tuple[Path, dict[str, Any]]]


def plan(
    *,
    params_file: Path | str | None = None,
    only: Sequence[str] = (),
    work: Path | str | None = None,
    notebooks: Path | None = None,
    target: str | None = None,
    connection: Mapping[str, Any] | None = None,
) -> Plan:
    """Validate everything a run needs before anything runs. Raises RunbookError (exit 2).

    Unknown common parameters (declared by no notebook), unknown notebook sections, unknown or
    ill-typed per-notebook parameters, and an incomplete external target are all refused here.
    """
    every = discover(notebooks)
    if not every:
        raise RunbookError("no notebooks found: run from the repository (notebooks/NN_*.ipynb)")
    chosen = discover(notebooks, only)
    common, per_notebook = load_params(params_file)
    wd = workdir.work_dir(work or common.pop("work_dir", None) or None)
    tgt = resolve_target(target, common, connection or {})
    declared = {nb: declared_parameters(nb) for nb in every}
    known_common = set(COMMON_PARAMETERS).union(*(set(d) for d in declared.values()))
    unknown = sorted(set(common) - known_common)
    if unknown:
        raise RunbookError(
            f"no notebook has a parameter {', '.join(unknown)}: check the spelling (papermill --help-notebook NOTEBOOK)"
        )
    sections = {nb.stem for nb in every} | {nb.stem[:2] for nb in every}
    stray = sorted(set(map(str, per_notebook)) - sections)
    if stray:
        raise RunbookError(
            f"params file names no notebook {', '.join(stray)}: choose from {', '.join(nb.stem for nb in every)}"
        )
    for name, section in per_notebook.items():
        pinned = sorted(set(section) & set(COMMON_PARAMETERS))
        if pinned:
            raise RunbookError(
                f"notebooks.{name} sets {', '.join(pinned)}: the target is one for the whole run, set it under common"
            )
    shared = {k: v for k, v in common.items() if k not in COMMON_PARAMETERS} | tgt.parameters()
    steps = [(nb, params_for(nb, shared, per_notebook, declared[nb])) for nb in chosen]
    return Plan(tgt, wd, steps)


# --------------------------------------------------------------------------- running


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


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failing_line(traceback: Sequence[str]) -> str:
    """The ``---->`` line of the last traceback frame in the cell (ANSI colours stripped)."""
    text = _ANSI.sub("", "\n".join(traceback or []))
    lines = [ln for ln in text.splitlines() if ln.lstrip().startswith("---->")]
    if not lines:
        return ""
    return re.sub(r"^\s*----> ?\d*\s*", "", lines[-1]).strip()


def _error_info(exc: BaseException, notebook: Path, injected_at: int | None) -> dict[str, Any]:
    """notebook, cell (1-based position in the source notebook), execution_count, ename, reason."""
    index = getattr(exc, "cell_index", None)
    cell = None
    if isinstance(index, int):
        cell = index if injected_at is not None and index > injected_at else index + 1
    ename = str(getattr(exc, "ename", type(exc).__name__))
    evalue = " ".join(str(getattr(exc, "evalue", exc)).split())
    line = _failing_line(getattr(exc, "traceback", []) or [])
    reason = evalue or (f"failed at `{line}`" if line else ename)
    return {
        "notebook": notebook.stem,
        "cell": cell,
        "execution_count": getattr(exc, "exec_count", None),
        "ename": ename,
        "reason": reason[:500],
        "line": line[:300],
    }


def _injected_index(notebook: Path, params: Mapping[str, Any]) -> int | None:
    """Where papermill puts the injected-parameters cell (None when nothing is injected)."""
    if not params:
        return None
    import nbformat

    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return i + 1
    return 0


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class _Log:
    """``logs/run.log``: what the run did, one line per event (never parameter values of secrets)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = path.open("w", encoding="utf-8")

    def __call__(self, message: str) -> None:
        self._fh.write(f"{_stamp(time.time())} {message}\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


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
    sandbox target the sandbox is stopped at the end unless ``stop_sandbox=False``; with the
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
    summary = RunSummary(
        started=_stamp(t_start),
        date=_stamp(t_start),
        work_dir=str(wd),
        output_dir=str(out),
        target={
            "kind": the_plan.target.kind,
            "endpoint": the_plan.target.endpoint,
            "server_name": the_plan.target.server_name or None,
        },
    )
    log = _Log(out / "logs" / "run.log")
    show_progress = sys.stderr.isatty() if progress is None else progress
    sandbox_before = _sandbox_state(wd)
    log(f"run started: target={the_plan.target.kind} work_dir={wd} notebooks={len(the_plan.steps)}")
    try:
        with _env(workdir.ENV, str(wd)):
            for nb, params in the_plan.steps:
                if not _run_one(summary, nb, params, out, wd, the_plan.target, show_progress, log):
                    break
                if the_plan.target.kind == "external" and _sandbox_state(wd) != sandbox_before:
                    _contract_broken(summary, nb, wd, log)
                    break
        for nb, _ in the_plan.steps[len(summary.notebooks) :]:
            summary.notebooks.append(NotebookRun(nb.stem, "skipped", 0.0, ""))
    finally:
        if the_plan.target.kind == "sandbox":
            _copy_sandbox_logs(wd, out, summary)
            if stop_sandbox:
                from runbook import sandbox

                stopped = sandbox.stop(wd)
                log(f"sandbox stopped ({len(stopped)} process(es))")
        _finish(summary, out, wd, html, scan, log, t_start)
    return summary


def _clear_previous_run(out: Path) -> None:
    """Delete what an earlier run wrote to ``out`` (executed notebooks, summary, report, logs).

    A re-used output dir then shows only this run: no stale notebook from a longer earlier run,
    nothing old for the secret scan to trip on. Other files are left alone.
    """
    owned = [*out.glob(NOTEBOOK_GLOB), out / "summary.json", out / "report.html", *out.glob("logs/*.log")]
    for path in owned:
        path.unlink(missing_ok=True)


def _sandbox_state(work: Path) -> str | None:
    from runbook import sandbox

    path = sandbox.state_path(work)
    return path.read_text() if path.is_file() else None


def _contract_broken(summary: RunSummary, nb: Path, wd: Path, log: _Log) -> None:
    """A notebook started a sandbox under the external target: fail it, stop what it started."""
    from runbook import sandbox

    stopped = sandbox.stop(wd)
    log(f"{nb.stem} started a sandbox under target=external; stopped {len(stopped)} process(es)")
    last = summary.notebooks[-1]
    last.status = "failed"
    last.error = {
        "notebook": nb.stem,
        "cell": None,
        "execution_count": None,
        "ename": "TargetContractError",
        "reason": "started a sandbox under target=external: the notebook must not start servers when target == 'external' (README, external target contract)",
        "line": "",
    }
    summary.ok = False
    summary.failure = last.error


def _run_one(
    summary: RunSummary,
    nb: Path,
    params: dict[str, Any],
    out: Path,
    wd: Path,
    target: Target,
    show_progress: bool,
    log: _Log,
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
        error = _error_info(exc, nb, _injected_index(nb, params))
    except Exception as exc:  # kernel died, timeout, unreadable notebook: still a failed run
        error = _error_info(exc, nb, None)
    seconds = round(time.monotonic() - t0, 2)
    record = workdir.read_summary(wd, nb.stem)
    if error is None and record is not None and record.get("ok") is False:
        bad = [v.get("id") for v in record.get("verdict", []) if v.get("status") == "fail"]
        error = {
            "notebook": nb.stem,
            "cell": None,
            "execution_count": None,
            "ename": "VerdictFailed",
            "reason": f"the summary record says ok=false (failed: {', '.join(map(str, bad)) or 'unknown'})",
            "line": "",
        }
    shown = {k: v for k, v in params.items()}
    run = NotebookRun(nb.stem, "failed" if error else "passed", seconds, str(dest), record, error, shown)
    summary.notebooks.append(run)
    if error:
        summary.ok = False
        summary.failure = error
        log(f"{nb.stem}: failed after {seconds}s: {summary.failure_line()}")
        return False
    log(f"{nb.stem}: passed in {seconds}s")
    return True


def _copy_sandbox_logs(wd: Path, out: Path, summary: RunSummary) -> None:
    """Copy each sandbox node's redis.log to ``<out>/logs/sandbox-<node>.log`` (audit trail)."""
    from runbook import sandbox

    box = sandbox.status(wd)
    if box is None:
        return
    if box.nodes:
        summary.target["endpoint"] = f"localhost:{box.primary.port}"
    for node in box.nodes:
        if node.log_path.is_file():
            dest = out / "logs" / f"sandbox-{node.name}.log"
            shutil.copyfile(node.log_path, dest)


def _finish(
    summary: RunSummary, out: Path, wd: Path, html: bool, scan: bool, log: _Log, t_start: float
) -> None:
    report = aggregate([(n.name, n.record) for n in summary.notebooks if n.status != "skipped"])
    summary.evidence = report.evidence
    summary.evidence_sources = report.sources
    summary.evidence_conflicts = report.conflicts
    summary.evidence_missing = report.missing
    summary.evidence_by_notebook = report.by_notebook
    summary.evidence_problems = {
        name: found for name, ev in report.by_notebook.items() if (found := evidence_problems(ev))
    }
    if html:
        try:
            summary.report_html = str(write_html_report(summary, out / "report.html"))
            log("report.html written")
        except Exception as exc:  # the report is a view: its failure must not hide the run's outcome
            log(f"report.html failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
    summary.finished = _stamp(time.time())
    summary.seconds = round(time.time() - t_start, 2)
    log(f"run finished: ok={summary.ok} in {summary.seconds}s")
    log.close()
    summary.logs = sorted(str(p.relative_to(out)) for p in (out / "logs").glob("*.log"))
    if scan:
        key_files = sorted(workdir.pki_dir(wd).rglob("*.key"))
        text = json.dumps(summary.to_dict(), indent=2, default=str)
        count, leaks = hygiene.scan_dir(out, key_files=key_files)
        leaks += hygiene.scan_text(
            text,
            "summary.json",
            passphrases=hygiene.env_passphrases(),
            key_bodies=hygiene.key_body_lines(key_files),
        )
        summary.secret_scan = {
            "ok": not leaks,
            "files": count + 1,
            "leaks": [asdict(leak) for leak in leaks],
        }
        if leaks and summary.ok:
            summary.ok = False
            summary.failure = {
                "notebook": leaks[0].file,
                "cell": None,
                "execution_count": None,
                "ename": "SecretLeak",
                "reason": f"private key material or a passphrase in the run's output ({leaks[0].one_line()}): remove it from the outputs and fix the notebook that printed it",
                "line": "",
            }
    (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")


# --------------------------------------------------------------------------- the HTML report


def _report_cells(summary: RunSummary) -> list[Any]:
    import nbformat.v4 as v4

    from runbook import display

    rows = [
        (
            n.name,
            display.mark("pass" if n.status == "passed" else "fail" if n.status == "failed" else "skip"),
            f"{n.seconds:.1f}s",
        )
        for n in summary.notebooks
    ]
    head = [
        "# Redis TLS runbook: run report",
        "",
        f"* date: {summary.date}",
        f"* target: {summary.target.get('kind')} {summary.target.get('endpoint') or ''}",
        f"* result: **{'passed' if summary.ok else 'FAILED'}**",
    ]
    if summary.failure:
        head.append(f"* {summary.failure_line()}")
    table = display.Table(["notebook", "status", "time"], rows)
    ev_rows = [(k, _fmt(v)) for k, v in summary.evidence.items() if k not in ("certificates", "rotation")]
    ev = display.Table(["evidence", "value"], ev_rows)
    certs = display.record_table(
        summary.evidence.get("certificates", []), ["file", "subject", "serial", "not_after", "sans"]
    )
    cells = [v4.new_markdown_cell("\n".join(head))]  # type: ignore[no-untyped-call]
    for t in (table, ev, certs):
        data = {"text/html": t._repr_html_(), "text/plain": t.text()}
        output = v4.new_output("display_data", data=data)  # type: ignore[no-untyped-call]
        cells.append(v4.new_code_cell("", outputs=[output]))  # type: ignore[no-untyped-call]
    return cells


def _fmt(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def write_html_report(summary: RunSummary, dest: Path) -> Path:
    """One HTML file: a run overview, then every executed notebook with its code hidden (nbconvert).

    Widget views are reduced to their plain-text form and remote scripts (require.js, MathJax from
    a CDN) are left out, so the report is a self-contained file that loads nothing.
    """
    import nbformat
    from nbconvert import HTMLExporter

    report = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    report.cells = _report_cells(summary)
    for run in summary.notebooks:
        if not run.output or not Path(run.output).is_file():
            continue
        nb = nbformat.read(run.output, as_version=4)  # type: ignore[no-untyped-call]
        report.cells.append(nbformat.v4.new_markdown_cell(f"---\n\n*notebook `{run.name}`: {run.status}*"))  # type: ignore[no-untyped-call]
        for i, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
            cell["id"] = f"{run.name}-{i}"  # ids stay unique across the combined notebooks
            report.cells.append(cell)
    report.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(
        report, resources={"metadata": {"name": f"Redis TLS runbook report {summary.date}"}}
    )
    body = re.sub(r'<script src="https?://[^"]*">\s*</script>\s*', "", body)  # an offline artefact
    files.write_file(dest, body.encode("utf-8"))
    return dest


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
                        kernel_manager_class=IpcKernelManager,
                        resources={"metadata": {"path": str(nb_path.parent)}},
                    ).execute()
                    nbformat.write(nb, nb_path)  # type: ignore[no-untyped-call]
                    done.append(nb_path)
        finally:
            from runbook import sandbox

            sandbox.stop(wd)
    return done
