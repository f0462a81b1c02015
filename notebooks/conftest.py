"""nbval set-up: the notebooks run in sequence in one fresh work dir, like `make notebooks`.

The committed outputs were produced by `python -m runbook notebooks --refresh` from a fresh work
dir with default parameters; this makes the regression run start from the same state. nbval items
do not use fixtures, so the sandbox Redis the notebooks start is stopped in `pytest_sessionfinish`.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_WORK = tempfile.mkdtemp(prefix="runbook-nbval-")
os.environ["RUNBOOK_WORK_DIR"] = _WORK


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from runbook import sandbox

    box = sandbox.status(_WORK)
    if box is not None:  # which backend the regression run really exercised
        image = f" ({box.image}, Redis {box.server_version})" if box.image else f" (Redis {box.server_version})"
        print(f"\nnbval: the notebooks' sandbox ran on the {box.backend} backend{image}")
    sandbox.stop(_WORK)
    shutil.rmtree(_WORK, ignore_errors=True)
