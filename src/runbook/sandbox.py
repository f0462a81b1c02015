"""Local Redis servers for the runbook: start, status, stop (binary backend).

A sandbox lives in ``<work>/sandbox/``: ``sandbox.json`` records the topology, the PKI in use
and each node (role, loopback host, TLS port, pid, folder); each node's folder holds its
``redis.conf`` and ``redis.log``. Ports are free loopback ports chosen at start. Readiness is
proven by a real mutual-TLS PING, never by sleeping. :func:`ensure` is idempotent so every
notebook can call it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from runbook import workdir
from runbook.client import TlsClientFiles, redis_client
from runbook.errors import RunbookError
from runbook.pki import PkiPaths

LOOPBACK = "127.0.0.1"
MIN_VERSION = (6, 2, 0)
STATE_FILE = "sandbox.json"
INSTALL_HINT = "install it: apt-get install redis-server redis-tools (or conda env create -f environment.yml)"


# --------------------------------------------------------------------------- the binary


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


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------- nodes


@dataclass
class Node:
    """One running redis-server of the sandbox."""

    name: str
    role: str
    port: int
    pid: int
    dir: str
    host: str = LOOPBACK
    plaintext_port: int = 0
    tls: bool = True

    @property
    def conf_path(self) -> Path:
        return Path(self.dir) / "redis.conf"

    @property
    def log_path(self) -> Path:
        return Path(self.dir) / "redis.log"


@dataclass
class Sandbox:
    """A set of local redis-server processes sharing one PKI."""

    topology: str
    backend: str
    work_dir: str
    pki_dir: str
    nodes: list[Node] = field(default_factory=list)

    @property
    def primary(self) -> Node:
        return self.nodes[0]

    def client_files(self, client: str | None = "redis-client") -> TlsClientFiles:
        return TlsClientFiles.from_pki(self.pki_dir, client)

    def client(self, node: Node | None = None, client: str | None = "redis-client") -> redis.Redis:
        """A mutual-TLS redis-py client to ``node`` (default: the primary)."""
        target = node or self.primary
        return redis_client("localhost", target.port, self.client_files(client))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sandbox:
        nodes = [Node(**n) for n in data.get("nodes", [])]
        return cls(**{**data, "nodes": nodes})


def base_conf(node_dir: Path, pki: PkiPaths, tls_port: int, plaintext_port: int = 0) -> dict[str, str]:
    """The directives of a sandbox node: strict TLS on loopback, nothing persisted."""
    return {
        "bind": "127.0.0.1 ::1",
        "port": str(plaintext_port),
        "tls-port": str(tls_port),
        "tls-cert-file": str(pki.server_cert),
        "tls-key-file": str(pki.server_key),
        "tls-ca-cert-file": str(pki.ca_cert),
        "tls-auth-clients": "yes",
        "tls-protocols": '"TLSv1.2 TLSv1.3"',
        "dir": str(node_dir),
        "logfile": str(node_dir / "redis.log"),
        "pidfile": str(node_dir / "redis.pid"),
        "daemonize": "no",
        "save": '""',
        "appendonly": "no",
        "protected-mode": "yes",
    }


def conf_text(directives: dict[str, str]) -> str:
    return "".join(f"{k} {v}\n" for k, v in directives.items())


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


def start_node(
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

    Waits until a mutual-TLS PING answers; if the server exits first, raises a RunbookError
    quoting the last log line (the server's own reason).
    """
    node_dir.mkdir(parents=True, exist_ok=True)
    (node_dir / "redis.conf").write_text(conf_text(directives))
    proc = subprocess.Popen(
        [redis_server_binary(), str(node_dir / "redis.conf")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=node_dir,
    )
    node = Node(
        name=name,
        role=role,
        port=int(directives.get("tls-port", "0")),
        plaintext_port=int(directives.get("port", "0")),
        pid=proc.pid,
        dir=str(node_dir),
        tls=directives.get("tls-port", "0") != "0",
    )
    if wait:
        try:
            wait_ready(node, pki, timeout=timeout, proc=proc)
        except RunbookError:
            stop_node(node)
            raise
    return node


def wait_ready(
    node: Node, pki: PkiPaths, *, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until ``node`` answers PING over mutual TLS, or raise with the server's reason."""
    deadline = time.monotonic() + timeout
    files = TlsClientFiles.from_pki(pki.root)
    last = ""
    while time.monotonic() < deadline:
        exited = proc.poll() is not None if proc is not None else not pid_alive(node.pid)
        if exited:
            reason = next((ln for ln in reversed(log_tail(node)) if ln.strip()), "no log written")
            raise RunbookError(f"redis-server {node.name} exited at start: {_log_message(reason)}")
        try:
            client = redis_client("localhost", node.port, files, socket_timeout=1.0)
            if client.ping():
                client.close()
                return
        except (redis.RedisError, OSError) as exc:
            last = str(exc)
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
        exited = proc.poll() is not None if proc is not None else not pid_alive(node.pid)
        if exited:
            reason = next((ln for ln in reversed(log_tail(node)) if ln.strip()), "no log written")
            raise RunbookError(f"redis-server {node.name} exited at start: {_log_message(reason)}")
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


def _log_message(line: str) -> str:
    """Strip the ``pid:role date time level`` prefix of a Redis log line."""
    match = re.match(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.*#-] (.*)$", line)
    return match.group(1) if match else line.strip()


def stop_node(node: Node, timeout: float = 10.0) -> None:
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


# --------------------------------------------------------------------------- the sandbox


def state_path(work: Path) -> Path:
    return workdir.sandbox_dir(work) / STATE_FILE


def status(work: Path | str | None = None) -> Sandbox | None:
    """The recorded sandbox, or None when none was started (dead nodes are still listed)."""
    path = state_path(workdir.work_dir(work))
    if not path.is_file():
        return None
    return Sandbox.from_dict(json.loads(path.read_text()))


def healthy(box: Sandbox) -> bool:
    """True when every node's process runs and answers a mutual-TLS PING."""
    for node in box.nodes:
        if not pid_alive(node.pid):
            return False
        try:
            if not box.client(node).ping():
                return False
        except (redis.RedisError, OSError, RunbookError):
            return False
    return True


def _save(box: Sandbox) -> None:
    path = state_path(Path(box.work_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(box.to_dict(), indent=2) + "\n")


def start(work: Path | str | None = None, topology: str = "standalone", backend: str = "binary") -> Sandbox:
    """Start a fresh sandbox (stopping any recorded one first). Starts processes."""
    if topology != "standalone":
        raise RunbookError(f"unknown topology {topology!r}: choose standalone")
    if backend != "binary":
        raise RunbookError(f"unknown backend {backend!r}: choose binary")
    wd = workdir.work_dir(work)
    stop(wd)
    pki = PkiPaths(workdir.pki_dir(wd))
    if not pki.server_cert.exists():
        raise RunbookError(f"no server certificate in {pki.root}: run notebook 01 or `runbook pki create`")
    version = redis_server_version()
    if version < MIN_VERSION:
        raise RunbookError(
            f"redis-server {'.'.join(map(str, version))} is too old for TLS: {INSTALL_HINT} (>= 6.2)"
        )
    node_dir = workdir.sandbox_dir(wd) / "primary"
    node = start_node("primary", "primary", node_dir, base_conf(node_dir, pki, free_port()), pki)
    box = Sandbox(topology, backend, str(wd), str(pki.root), [node])
    _save(box)
    return box


def ensure(work: Path | str | None = None, topology: str = "standalone", backend: str = "binary") -> Sandbox:
    """Return the running sandbox if it is healthy and of ``topology``; otherwise start one."""
    box = status(work)
    if box is not None and box.topology == topology and box.backend == backend and healthy(box):
        return box
    return start(work, topology, backend)


def stop(work: Path | str | None = None) -> list[int]:
    """Stop every recorded node and forget the sandbox. Returns the pids stopped. Idempotent."""
    wd = workdir.work_dir(work)
    box = status(wd)
    if box is None:
        return []
    for node in box.nodes:
        stop_node(node)
    state_path(wd).unlink(missing_ok=True)
    return [n.pid for n in box.nodes]


def prove_tls_support(timeout: float = 10.0) -> tuple[int, int, int]:
    """Start redis-server once with a tls-port and a throwaway PKI, PING it, stop it.

    Returns the version. Raises a RunbookError naming the fix when redis-server is missing,
    too old, or built without TLS.
    """
    import tempfile

    from runbook.pki import PkiSpec, create_pki

    version = redis_server_version()
    if version < MIN_VERSION:
        raise RunbookError(
            f"redis-server {'.'.join(map(str, version))} is too old for TLS: {INSTALL_HINT} (>= 6.2)"
        )
    with tempfile.TemporaryDirectory(prefix="runbook-doctor-") as tmp:
        pki = PkiPaths(Path(tmp) / "pki")
        create_pki(pki.root, PkiSpec())
        node_dir = Path(tmp) / "node"
        try:
            node = start_node(
                "doctor", "primary", node_dir, base_conf(node_dir, pki, free_port()), pki, timeout=timeout
            )
        except RunbookError as exc:
            raise RunbookError(f"redis-server does not speak TLS here ({exc}): {INSTALL_HINT}") from None
        stop_node(node)
    return version
