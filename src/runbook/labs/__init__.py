"""Break-fix labs for training: a real broken setup left running, a ticket with the symptom only,
a live check that refuses fixes which weaken TLS, hints in three tiers, a debrief, and progress.

Modules, lowest first: ``state`` (a lab on disk: ``lab.json``, ``client.json``, its processes),
``catalogue`` (the labs, built on :mod:`runbook.drills`), ``checking`` (``lab check``),
``progress`` (per trainee, the instructor's report) and ``session`` (the commands as functions).
"""

from runbook.labs.catalogue import LABS, Lab, get, names
from runbook.labs.checking import LabCheck, check_lab
from runbook.labs.session import (
    Hint,
    Reveal,
    Started,
    catalogue_rows,
    check,
    hint,
    progress_rows,
    report,
    restart,
    reveal,
    solve,
    start,
    stop,
)
from runbook.labs.state import ClientSettings, LabState

__all__ = [
    "LABS",
    "ClientSettings",
    "Hint",
    "Lab",
    "LabCheck",
    "LabState",
    "Reveal",
    "Started",
    "catalogue_rows",
    "check",
    "check_lab",
    "get",
    "hint",
    "names",
    "progress_rows",
    "report",
    "restart",
    "reveal",
    "solve",
    "start",
    "stop",
]
