"""Every sandbox a run's work dir holds: the main one (``<work>/sandbox/``) and the ones notebooks
start in sub-work-dirs (the fleet's ``<work>/fleet/<sub>/``, and any later notebook's).

The pipeline stops all of them at the end of a run, whatever failed: a kernel that dies part-way
(killed, out of memory) never runs its exit handlers. Where a sandbox records itself is known by
:func:`runbook.sandbox.state_path` alone; this module only looks for those records.
"""

from __future__ import annotations

from pathlib import Path


def work_dirs(root: Path) -> list[Path]:
    """The work dirs under ``root`` (``root`` first) that record a sandbox. Reads the disk only."""
    from runbook import sandbox

    found = []
    for record in sorted(root.rglob(sandbox.STATE_FILE)):
        # <work>/sandbox/sandbox.json -> <work>; kept only when the sandbox module names it so
        work = record.parent.parent
        if sandbox.state_path(work) == record:
            found.append(work)
    return sorted(found, key=lambda p: (p != root, str(p)))


def states(root: Path) -> dict[str, str]:
    """Each sandbox record under ``root`` (relative work dir -> its text): what a notebook started."""
    from runbook import sandbox

    return {str(w.relative_to(root)): sandbox.state_path(w).read_text() for w in work_dirs(root)}


def stop_all(root: Path) -> list[int]:
    """Stop every sandbox under ``root`` (the main one and the sub-work-dirs'). Stops processes.

    Returns the pids stopped. Idempotent; a sandbox that fails to stop does not keep the others
    running (the first error is raised after every other one was stopped).
    """
    from runbook import sandbox

    stopped: list[int] = []
    first: BaseException | None = None
    for work in work_dirs(root) if root.is_dir() else []:
        try:
            stopped += sandbox.stop(work)
        except Exception as exc:  # keep stopping the rest; report the first failure after
            first = first or exc
    if first is not None:
        raise first
    return stopped
