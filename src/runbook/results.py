"""Plain result types shared by notebooks, CLI and tests (one per concept).

``CheckResult`` is a verdict on one thing we checked (pass/warn/fail/skip).
``Finding`` is a problem found by reading something static (a config file).
Both serialise to JSON with :func:`as_dicts` and render with :mod:`runbook.display`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "skip"]
Severity = Literal["error", "warn", "info"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check. ``id`` is stable and documented; ``fix`` names the remedy."""

    id: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "fail"


@dataclass(frozen=True)
class Finding:
    """A problem found in a static artefact (config file, certificate)."""

    severity: Severity
    subject: str
    message: str
    fix: str = ""


def all_ok(results: Iterable[CheckResult]) -> bool:
    """True when no result failed (warnings and skips do not fail a run)."""
    return all(r.ok for r in results)


def as_dicts(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Dataclasses -> JSON-ready dicts."""
    return [asdict(i) for i in items]
