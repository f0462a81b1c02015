"""Progress per trainee, kept across sessions in ``<work>/labs/progress/<trainee>.json``, and the
instructor's report over every trainee (a table, JSON, and a matplotlib plot of time per lab).

Score per lab: solved by the trainee's own fix = 100, minus 20 per hint tier used and 5 per failed
check, never below 10; revealed or solved with ``lab solve`` before that = 0.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runbook import files
from runbook.errors import RunbookError
from runbook.labs.state import labs_dir

TRAINEE_ENV = "RUNBOOK_TRAINEE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def trainee_name(name: str | None = None) -> str:
    """``name``, else ``$RUNBOOK_TRAINEE``, else the OS user; a RunbookError for an unusable name."""
    chosen = name or os.environ.get(TRAINEE_ENV) or getpass.getuser()
    if not _NAME.match(chosen):
        raise RunbookError(
            f"trainee name {chosen!r} is not usable: letters, digits, . _ - (pass --trainee NAME)"
        )
    return chosen


@dataclass
class LabRecord:
    """One trainee's record of one lab."""

    lab: str
    started: float = 0.0
    attempts: int = 0
    failed: int = 0
    hints: int = 0  # highest hint tier shown
    solved: bool = False  # the trainee's own fix passed the check
    revealed: bool = False  # reveal or lab solve came first
    seconds: float | None = None  # first start to first passing check

    @property
    def status(self) -> str:
        if self.solved:
            return "solved"
        if self.revealed:
            return "revealed"
        return "in progress" if self.started else "not started"

    @property
    def score(self) -> int:
        if not self.solved:
            return 0
        return max(10, 100 - 20 * self.hints - 5 * self.failed)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "score": self.score}


def progress_dir(work: Path) -> Path:
    return labs_dir(work) / "progress"


def load(work: Path, trainee: str) -> dict[str, LabRecord]:
    path = progress_dir(work) / f"{trainee}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    keep = set(LabRecord.__dataclass_fields__)
    return {
        k: LabRecord(**{f: v for f, v in r.items() if f in keep}) for k, r in data.get("labs", {}).items()
    }


def _save(work: Path, trainee: str, records: dict[str, LabRecord]) -> None:
    body = {"trainee": trainee, "labs": {k: r.to_dict() for k, r in sorted(records.items())}}
    path = progress_dir(work) / f"{trainee}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_file(path, (json.dumps(body, indent=2) + "\n").encode())


def record(
    work: Path, trainee: str, lab: str, event: str, *, passed: bool = False, tier: int = 0
) -> LabRecord:
    """Record one event (``start``, ``check``, ``hint``, ``reveal``, ``solve``) for ``trainee``. Writes a file."""
    records = load(work, trainee)
    r = records.setdefault(lab, LabRecord(lab))
    now = time.time()
    if event == "start" and not r.started:
        r.started = now
    elif event == "check" and not (r.solved or r.revealed):
        r.attempts += 1
        if passed:
            r.solved = True
            r.seconds = round(now - r.started, 1) if r.started else None
        else:
            r.failed += 1
    elif event == "hint":
        r.hints = max(r.hints, tier)
    elif event in ("reveal", "solve") and not r.solved:
        r.revealed = True
    _save(work, trainee, records)
    return r


def trainees(work: Path) -> list[str]:
    folder = progress_dir(work)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def report_rows(work: Path) -> list[dict[str, Any]]:
    """Every trainee's records: trainee, lab, status, attempts, hints, minutes, score."""
    rows = []
    for who in trainees(work):
        for r in load(work, who).values():
            minutes = round(r.seconds / 60, 1) if r.seconds is not None else None
            rows.append({"trainee": who, **r.to_dict(), "minutes": minutes})
    return rows


def plot_minutes(rows: list[dict[str, Any]], path: Path | str) -> Path:
    """A bar chart of minutes to solve per lab (one bar per trainee and lab) written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    solved = [r for r in rows if r["minutes"] is not None]
    if not solved:
        raise RunbookError("no lab solved yet: nothing to plot (solve a lab with your own fix first)")
    labels = [f"{r['lab']}\n{r['trainee']}" for r in solved]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(solved)), 3.5))
    ax.bar(range(len(solved)), [r["minutes"] for r in solved], color="#1a7f37")
    ax.set_xticks(range(len(solved)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("minutes to solve")
    ax.set_title("Time per lab")
    fig.tight_layout()
    target = Path(path)
    fig.savefig(target)
    plt.close(fig)
    return target
