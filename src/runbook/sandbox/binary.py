"""The process backend: the local ``redis-server`` binary, its version, and one process per node.

:func:`prove_tls_support` is what ``runbook doctor`` runs: a real start with a tls-port and a
throwaway PKI, a mutual-TLS PING, a stop.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from runbook.errors import RunbookError
from runbook.pki import PkiPaths, PkiSpec, create_pki
from runbook.sandbox.node_config import base_conf, conf_text
from runbook.sandbox.ports import free_port
from runbook.sandbox.readiness import pid_alive, wait_ready
from runbook.sandbox.state import Node

MIN_VERSION = (6, 2, 0)
INSTALL_HINT = "install it: apt-get install redis-server redis-tools (or conda env create -f environment.yml)"


def redis_server_binary() -> str:
    """Path of ``redis-server`` on PATH, or a RunbookError saying how to get it."""
    found = shutil.which("redis-server")
    if not found:
        raise RunbookError(f"redis-server not found on PATH: {INSTALL_HINT}")
    return found


def redis_server_version(binary: str | None = None) -> tuple[int, int, int]:
    """The version of ``redis-server`` as a tuple, e.g. (7, 0, 15)."""
    out = subprocess.run(
        [binary or redis_server_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise RunbookError(f"cannot read the redis-server version from {out.strip()!r}: {INSTALL_HINT}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def check_binary() -> tuple[int, int, int]:
    """The version of redis-server, or a RunbookError naming the fix when it is missing or too old."""
    version = redis_server_version()
    if version < MIN_VERSION:
        raise RunbookError(
            f"redis-server {'.'.join(map(str, version))} is too old for TLS: {INSTALL_HINT} (>= 6.2)"
        )
    return version


def start_process(
    name: str,
    role: str,
    node_dir: Path,
    directives: dict[str, str],
    pki: PkiPaths,
    *,
    timeout: float = 10.0,
    wait: bool = True,
) -> Node:
    """Write ``redis.conf`` from ``directives`` and start redis-server on it. Starts a process.

    With ``wait``, blocks until a mutual-TLS PING answers; if the server exits first, raises a
    RunbookError quoting the last log line (the server's own reason) and leaves nothing running.
    """
    node_dir.mkdir(parents=True, exist_ok=True)
    (node_dir / "redis.conf").write_text(conf_text(directives))
    proc = spawn_process(node_dir)
    node = Node.from_directives(name, role, node_dir, directives, proc.pid)
    if wait:
        try:
            wait_ready(node, pki, timeout=timeout, proc=proc)
        except RunbookError:
            stop_process(node)
            raise
    return node


def spawn_process(node_dir: Path) -> subprocess.Popen[bytes]:
    """Start redis-server on ``node_dir/redis.conf`` as it is on disk, detached from our session
    (its own session, no terminal, output to its logfile), so it outlives the command that started
    it. Starts a process; waits for nothing."""
    return subprocess.Popen(
        [redis_server_binary(), str(node_dir / "redis.conf")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=node_dir,
    )


def stop_process(node: Node, timeout: float = 10.0) -> None:
    """Stop a node's process (SIGTERM, then SIGKILL after ``timeout``). Idempotent."""
    if not pid_alive(node.pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(node.pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(node.pid, signal.SIGKILL)
    while pid_alive(node.pid):
        time.sleep(0.05)


def prove_tls_support(timeout: float = 10.0) -> tuple[int, int, int]:
    """Start redis-server once with a tls-port and a throwaway PKI, PING it, stop it.

    Returns the version. Raises a RunbookError naming the fix when redis-server is missing,
    too old, or built without TLS.
    """
    version = check_binary()
    with tempfile.TemporaryDirectory(prefix="runbook-doctor-") as tmp:
        pki = PkiPaths(Path(tmp) / "pki")
        create_pki(pki.root, PkiSpec())
        node_dir = Path(tmp) / "node"
        try:
            node = start_process(
                "doctor", "primary", node_dir, base_conf(node_dir, pki, free_port()), pki, timeout=timeout
            )
        except RunbookError as exc:
            raise RunbookError(f"redis-server does not speak TLS here ({exc}): {INSTALL_HINT}") from None
        stop_process(node)
    return version
