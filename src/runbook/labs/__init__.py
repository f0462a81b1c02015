"""Break-fix labs for training: a real broken setup left running, a ticket with the symptom only,
a live check that refuses fixes which weaken TLS, hints in three tiers, a debrief, and progress."""

from runbook.labs.catalogue import LABS, get, names
from runbook.labs.checking import LabCheck
from runbook.labs.session import (
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
