"""Shared fixtures: a real PKI and a real TLS sandbox Redis on a free loopback port.

Nothing here is mocked: the PKI is built by `runbook.pki`, the server is a real `redis-server`
started by `runbook.sandbox`, and readiness is a real mutual-TLS PING.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
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


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., sandbox.Node]]:
    """Start redis-server nodes on a PKI with edited base directives; stop them all afterwards.

    ``start(paths, wait=True, **directives)``: directive names with ``_`` for ``-``.
    """
    started: list[sandbox.Node] = []

    def start(paths: pki.PkiPaths, wait: bool = True, **directives: str) -> sandbox.Node:
        """``wait=False`` for servers a verified PING cannot reach (wrong name, expired, lax CA)."""
        node_dir = tmp_path / f"node{len(started)}"
        conf = sandbox.base_conf(node_dir, paths, sandbox.free_port())
        conf.update({k.replace("_", "-"): v for k, v in directives.items()})
        node = sandbox.start_node(f"n{len(started)}", "primary", node_dir, conf, paths, wait=wait)
        started.append(node)
        if not wait:
            wait_tls(node.port)
        return node

    yield start
    for node in started:
        sandbox.stop_node(node)


def wait_tls(port: int) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:``port`` (10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")
