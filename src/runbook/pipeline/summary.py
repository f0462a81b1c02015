"""What a run did: :class:`RunSummary` (``summary.json``, docs/summary-json.md), its evidence, ``logs/run.log``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook.evidence import aggregate
from runbook.evidence import problems as evidence_problems

SUMMARY_VERSION = 1


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

    def fail(self, error: dict[str, Any]) -> None:
        """The run failed: ``error`` (notebook, cell, execution_count, ename, reason, line) says where."""
        self.ok = False
        self.failure = error

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


def stamp(t: float) -> str:
    """UTC time ``2026-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class RunLog:
    """``logs/run.log``: what the run did, one line per event (never parameter values of secrets)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = path.open("w", encoding="utf-8")

    def __call__(self, message: str) -> None:
        self._fh.write(f"{stamp(time.time())} {message}\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def run_error(notebook: str, ename: str, reason: str) -> dict[str, Any]:
    """A failure that is no cell's exception (a verdict, the target contract, a secret leak)."""
    return {
        "notebook": notebook,
        "cell": None,
        "execution_count": None,
        "ename": ename,
        "reason": reason,
        "line": "",
    }


def merge_evidence(summary: RunSummary) -> None:
    """Merge the records' audit evidence into the summary (rules: :mod:`runbook.evidence`)."""
    report = aggregate([(n.name, n.record) for n in summary.notebooks if n.status != "skipped"])
    summary.evidence = report.evidence
    summary.evidence_sources = report.sources
    summary.evidence_conflicts = report.conflicts
    summary.evidence_missing = report.missing
    summary.evidence_by_notebook = report.by_notebook
    summary.evidence_problems = {
        name: found for name, ev in report.by_notebook.items() if (found := evidence_problems(ev))
    }


def summary_json(summary: RunSummary) -> str:
    """``summary.json`` as written (and as the secret scan reads it)."""
    return json.dumps(summary.to_dict(), indent=2, default=str) + "\n"
