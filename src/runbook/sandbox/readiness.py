"""Readiness: a node is up when a real PING answers (never a sleep); when it dies, say why.

The reason a server gives for exiting at start is the last line of its own log; the waits here
quote it (without the ``pid:role date`` prefix) so the error names the real cause.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import redis

from runbook.client import TlsClientFiles
from runbook.client.probe import answers_ping
from runbook.errors import RunbookError
from runbook.pki import PkiPaths
from runbook.sandbox.state import Node


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (zombies count as gone; our own children are reaped)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def log_tail(node: Node, lines: int = 20) -> list[str]:
    """The last lines of a node's log (empty when there is none yet)."""
    try:
        return node.log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def log_message(line: str) -> str:
    """Strip the ``pid:role date time level`` prefix of a Redis log line."""
    match = re.match(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.*#-] (.*)$", line)
    return match.group(1) if match else line.strip()


def _raise_if_exited(node: Node, proc: subprocess.Popen[bytes] | None) -> None:
    """Raise with the server's own reason (its last log line) once its process has exited."""
    exited = proc.poll() is not None if proc is not None else not pid_alive(node.pid)
    if exited:
        reason = next((ln for ln in reversed(log_tail(node)) if ln.strip()), "no log written")
        raise RunbookError(f"redis-server {node.name} exited at start: {log_message(reason)}")


def wait_listening(node: Node, timeout: float = 10.0) -> None:
    """Block until ``node`` accepts TCP on every address it binds, without speaking to it.

    For servers that may refuse every client on purpose (drills, labs, a deployment with its own
    PKI). A connect on 127.0.0.1 alone is not enough: Redis opens its bind addresses one after
    another, so ``::1`` may not listen yet; it logs "Ready to accept connections" once every
    listener is open, and both must hold. Raises RunbookError with the server's last log line.
    """
    port = node.port or node.plaintext_port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(node.pid):
            break
        with contextlib.suppress(OSError), socket.create_connection((node.host, port), timeout=0.5):
            if any("Ready to accept connections" in line for line in log_tail(node, 200)):
                return
        time.sleep(0.02)
    last = next((ln for ln in reversed(log_tail(node)) if ln.strip()), "no log written")
    raise RunbookError(f"redis-server {node.name} is not listening on port {port}: {log_message(last)}")


def wait_ready(
    node: Node, pki: PkiPaths, *, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until ``node`` answers PING over mutual TLS, or raise with the server's reason."""
    deadline = time.monotonic() + timeout
    files = TlsClientFiles.from_pki(pki.root)
    last = ""
    while time.monotonic() < deadline:
        _raise_if_exited(node, proc)
        if answers_ping(node.endpoint.with_files(files), timeout=1.0):  # raw socket: no client retries
            return
        last = "no PONG yet"
        time.sleep(0.05)
    raise RunbookError(
        f"redis-server {node.name} did not answer a TLS PING on port {node.port} within {timeout:.0f}s "
        f"({last}): read {node.log_path}"
    )


def wait_ready_plaintext(
    node: Node, *, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until ``node`` answers PING on its plaintext ``port``, or raise with the server's reason.

    For servers started with ``tls-port 0`` (e.g. the plaintext twin of a TLS server in a
    benchmark): start them with ``start_node(..., wait=False)``, then call this.
    """
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        _raise_if_exited(node, proc)
        try:
            client = redis.Redis(host=node.host, port=node.plaintext_port, socket_timeout=1.0)
            if client.ping():
                client.close()
                return
        except (redis.RedisError, OSError) as exc:
            last = str(exc)
        time.sleep(0.05)
    raise RunbookError(
        f"redis-server {node.name} did not answer a plaintext PING on port {node.plaintext_port} "
        f"within {timeout:.0f}s ({last}): read {node.log_path}"
    )
