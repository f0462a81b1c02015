"""What a lab is: a ticket, a broken setup, hints, a reference fix, a debrief (plain data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runbook import drills
from runbook.labs.state import LabState
from runbook.results import CheckResult


@dataclass(frozen=True)
class Debrief:
    """After the attempt: what happened, how to see it, how to prevent it."""

    happened: str
    see: str
    prevent: str


@dataclass(frozen=True)
class Lab:
    name: str
    title: str  # ticket-like, never the cause
    ticket: str  # the symptom as the application team reports it
    cause: str  # the runbook.diagnose cause id (shown by reveal only)
    build: Callable[[drills.DrillEnv], drills.Setup]
    solve: Callable[[LabState], None]
    hints: tuple[str, str, str]  # where to look; which tool shows it; what to change
    debrief: Debrief
    symptom: str  # regex the application's live error matches (tests prove the ticket true)
    #: lab-specific proofs run once the application connects (e.g. "root-only clients verify too"):
    #: a fix that only works for the application, or replaces what it should keep, fails them
    proofs: Callable[[LabState], list[CheckResult]] | None = None
    strict_client: bool = False  # the application verifies as Python 3.13's default context does
