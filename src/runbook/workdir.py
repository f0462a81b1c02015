"""Where the runbook keeps its state: the work dir and its fixed layout.

``RUNBOOK_WORK_DIR`` overrides the default ``build/work`` under the project root (the folder
holding ``pyproject.toml``), so notebooks run from ``notebooks/`` and the CLI run from the
repository share one work dir. Layout::

    <work>/pki/          ca.crt, ca.key, redis-server.crt, ... (notebook 01)
    <work>/sandbox/      sandbox.json, one folder per node with redis.conf and redis.log
    <work>/summaries/    NN_name.json, the summary record each notebook writes
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV = "RUNBOOK_WORK_DIR"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) with a pyproject.toml, else cwd."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "src" / "runbook").is_dir():
            return folder
    return here


def work_dir(explicit: str | Path | None = None) -> Path:
    """Resolve the work dir: explicit argument, then ``$RUNBOOK_WORK_DIR``, then build/work."""
    chosen = explicit or os.environ.get(ENV) or project_root() / "build" / "work"
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def pki_dir(work: Path) -> Path:
    return work / "pki"


def sandbox_dir(work: Path) -> Path:
    return work / "sandbox"


def write_summary(work: Path, notebook: str, record: dict[str, Any]) -> Path:
    """Write a notebook's summary record to ``<work>/summaries/<notebook>.json`` (no secrets)."""
    folder = work / "summaries"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_summary(work: Path, notebook: str) -> dict[str, Any] | None:
    path = work / "summaries" / f"{notebook}.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
