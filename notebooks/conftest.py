"""nbval set-up: each notebook runs alone, in its own fresh work dir, against the committed outputs.

The committed outputs come from `python -m runbook notebooks --refresh` (the notebooks in sequence in
one fresh work dir); tests/test_notebooks_harness.py runs that sequence once through the pipeline and
compares it with the committed outputs. Here every notebook starts from an empty work dir instead, so
the two legs together prove that each notebook's prerequisites are idempotent (alone == committed ==
in sequence) while each notebook is executed only twice per suite.

nbval starts a notebook's kernel when its first cell is set up; the kernel inherits
``RUNBOOK_WORK_DIR``, which is set here just before. nbval items do not use fixtures, so the sandbox
Redis each notebook starts is stopped in `pytest_sessionfinish`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(tempfile.mkdtemp(prefix="runbook-nbval-"))
# as before this file ran notebooks alone: the rest of the session sees a throwaway work dir too
_USED: list[Path] = [ROOT / "session"]
os.environ["RUNBOOK_WORK_DIR"] = str(_USED[0])


def work_dir_for(notebook: Path) -> Path:
    """The fresh work dir the notebook ``notebook`` runs in (one per notebook, none shared)."""
    return ROOT / notebook.stem


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    work = work_dir_for(Path(str(item.path)))
    if not _USED or _USED[-1] != work:
        assert not work.exists(), f"{work} is not fresh"
        _USED.append(work)
    os.environ["RUNBOOK_WORK_DIR"] = str(work)  # before nbval starts this notebook's kernel


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from runbook import sandbox

    for work in _USED:
        box = sandbox.status(work)
        if box is not None:  # which backend the regression run really exercised
            image = f"{box.image}, " if box.image else ""
            print(f"\nnbval: {work.name}: sandbox on the {box.backend} backend ({image}Redis {box.server_version})")
        sandbox.stop(work)
    shutil.rmtree(ROOT, ignore_errors=True)
