"""What a rotation plans and did: :class:`PlanStep`, :class:`RotationReport` and their table rows.

Plain data shared by the notebook, the CLI (JSON) and the tests. Nothing here touches a file or
a server except :func:`file_digests`, which only reads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from runbook.results import CheckResult

Kind = Literal["server", "client", "ca"]
KINDS: tuple[str, ...] = ("server", "client", "ca")
CA_PHASES: tuple[str, ...] = ("bundle", "reissue", "retire")
Fault = Literal["reload"]


@dataclass(frozen=True)
class PlanStep:
    """One planned action: what, on which file or node, and why."""

    step: str
    target: str
    detail: str


@dataclass
class RotationReport:
    """What a rotation did, step by step; renders as a table, serialises to JSON."""

    kind: str
    target: str
    status: str = "planned"  # planned|rotated|not-due|refused|rolled-back|pending|unsupported
    ok: bool = True
    rolled_back: bool = False
    old_serial: str = ""
    new_serial: str = ""
    backup: str | None = None
    days_left: int | None = None
    nodes: list[str] = field(default_factory=list)
    plan: list[PlanStep] = field(default_factory=list)
    steps: list[CheckResult] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    phases: list[RotationReport] = field(default_factory=list)

    def add(self, step: str, status: str, detail: str, fix: str = "") -> CheckResult:
        result = CheckResult(step, status, detail, fix)  # type: ignore[arg-type]
        self.steps.append(result)
        return result

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def evidence(self) -> list[dict[str, Any]]:
        """The ``rotation`` evidence entries of the summary record (one per phase for the CA)."""
        parts = self.phases or [self]
        return [
            {
                "kind": p.kind,
                "old_serial": p.old_serial,
                "new_serial": p.new_serial,
                "ok": p.ok,
                "rolled_back": p.rolled_back,
                "status": p.status,
            }
            for p in parts
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_rows(report: RotationReport, root: Path | str) -> list[tuple[str, str, str]]:
    """The plan as (step, target, detail) with paths shown relative to ``root`` (stable in notebooks)."""
    prefix = str(Path(root).resolve()) + os.sep
    return [(s.step, s.target.replace(prefix, ""), s.detail.replace(prefix, "")) for s in report.plan]


def file_digests(paths: Sequence[Path | str]) -> dict[str, str]:
    """SHA-256 of each file (to prove files are intact byte for byte)."""
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}
