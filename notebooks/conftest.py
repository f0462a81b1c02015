"""nbval set-up: the notebooks run in sequence in one fresh work dir, like `make notebooks`.

The committed outputs were produced by `python -m runbook notebooks --refresh` from a fresh work
dir with default parameters; this makes the regression run start from the same state, and stops
any sandbox Redis the notebooks started.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_WORK = tempfile.mkdtemp(prefix="runbook-nbval-")
os.environ["RUNBOOK_WORK_DIR"] = _WORK


@pytest.fixture(scope="session", autouse=True)
def _stop_sandbox_after_notebooks() -> Iterator[None]:
    yield
    from runbook import sandbox

    sandbox.stop(_WORK)
    shutil.rmtree(_WORK, ignore_errors=True)
