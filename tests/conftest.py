"""Shared fixtures: a real PKI and a real TLS sandbox Redis on a free loopback port.

Nothing here is mocked: the PKI is built by `runbook.pki`, the server is a real `redis-server`
started by `runbook.sandbox`, and readiness is a real mutual-TLS PING.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook import pki, sandbox, workdir


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which("redis-server"):
        return
    skip = pytest.mark.skip(
        reason="redis-server not on PATH: run `make test` (it installs it) or apt-get install redis-server"
    )
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def session_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work dir with a default ECDSA PKI (read-only for tests: copy it before changing files)."""
    work = tmp_path_factory.mktemp("work")
    pki.create_pki(workdir.pki_dir(work), pki.PkiSpec())
    return work


@pytest.fixture(scope="session")
def tls_sandbox(session_work: Path) -> Iterator[sandbox.Sandbox]:
    """A running standalone TLS-only sandbox (mutual TLS required), shared by the session."""
    box = sandbox.ensure(session_work)
    yield box
    sandbox.stop(session_work)


@pytest.fixture
def fresh_work(tmp_path: Path) -> Path:
    """An empty work dir for tests that build their own PKI or sandbox."""
    return tmp_path / "work"
