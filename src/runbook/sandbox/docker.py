"""The docker backend: each node runs the official image (``RUNBOOK_REDIS_IMAGE``, default redis:7.2).

Host network (the loopback ports recorded are the container's), the PKI mounted read-only at
``/tls``, the node folder at ``/data`` (config and log), running as the calling user so 0600 keys
read. Used only where a Docker engine answers; the binary backend is the default.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from runbook.client import TlsClientFiles
from runbook.client.probe import answers_ping
from runbook.errors import RunbookError
from runbook.pki import PkiPaths
from runbook.sandbox.node_config import conf_text
from runbook.sandbox.readiness import log_message, log_tail
from runbook.sandbox.state import Node

IMAGE_ENV = "RUNBOOK_REDIS_IMAGE"
DEFAULT_IMAGE = "redis:7.2"
DOCKER_PKI = "/tls"
DOCKER_DATA = "/data"


def _docker(args: list[str], *, timeout: float = 30.0, check: bool = True) -> str:
    """Run the docker CLI; output on success, RunbookError (check) or "" otherwise."""
    exe = shutil.which("docker")
    if not exe:
        if check:
            raise RunbookError("the docker CLI is not on PATH: install Docker or use --backend binary")
        return ""
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        if check:
            raise RunbookError(f"docker {args[0]} timed out: is the Docker engine running?") from None
        return ""
    if done.returncode != 0:
        if check:
            msg = " ".join((done.stderr or done.stdout).split())[:300]
            raise RunbookError(
                f"docker {args[0]} failed ({msg}): start the Docker engine or use --backend binary"
            )
        return ""
    return done.stdout


def docker_available() -> tuple[bool, str]:
    """(True, server version) when a Docker engine answers; (False, reason) otherwise."""
    if not shutil.which("docker"):
        return False, "the docker CLI is not on PATH"
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, "docker info timed out"
    if done.returncode != 0 or not done.stdout.strip():
        return False, "no Docker engine answers (" + " ".join(done.stderr.split())[:160] + ")"
    return True, done.stdout.strip()


def docker_image() -> str:
    return os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE


def docker_check() -> tuple[int, int, int]:
    """Raise a RunbookError naming the fix unless a Docker engine answers; the image's Redis version."""
    ok, why = docker_available()
    if not ok:
        raise RunbookError(
            f"--backend docker needs a Docker engine: {why}; start one or use --backend binary"
        )
    match = re.search(r":(\d+)\.(\d+)(?:\.(\d+))?", docker_image())
    if match:
        return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    return 7, 2, 0


def container_conf(directives: dict[str, str], pki_root: Path, node_dir: Path) -> dict[str, str]:
    """The node's directives with host paths replaced by the container's mounts (/tls, /data)."""
    out = {}
    for key, value in directives.items():
        value = value.replace(str(pki_root.resolve()), DOCKER_PKI).replace(str(pki_root), DOCKER_PKI)
        out[key] = value.replace(str(node_dir.resolve()), DOCKER_DATA).replace(str(node_dir), DOCKER_DATA)
    return out


def docker_run_args(name: str, node_dir: Path, pki_root: Path, image: str | None = None) -> list[str]:
    """``docker run`` arguments for one node: host network (loopback ports as recorded), the PKI
    read-only, the node folder for config and log, running as the calling user so 0600 keys read."""
    return [
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--user",
        f"{os.getuid()}:{os.getgid()}",
        "-v",
        f"{pki_root.resolve()}:{DOCKER_PKI}:ro",
        "-v",
        f"{node_dir.resolve()}:{DOCKER_DATA}",
        "-w",
        DOCKER_DATA,
        image or docker_image(),
        "redis-server",
        f"{DOCKER_DATA}/redis.conf",
    ]


def container_name(node_dir: Path) -> str:
    """A container name unique to this work dir and node."""
    digest = hashlib.sha256(str(node_dir.resolve().parent).encode()).hexdigest()[:8]
    return f"runbook-{digest}-{node_dir.name}"


def start_container(
    name: str,
    role: str,
    node_dir: Path,
    directives: dict[str, str],
    pki: PkiPaths,
    *,
    timeout: float,
    wait: bool,
) -> Node:
    """Start one node as a container (see the module docstring). Starts a container."""
    node_dir.mkdir(parents=True, exist_ok=True)
    (node_dir / "redis.conf").write_text(conf_text(container_conf(directives, pki.root, node_dir)))
    cname = container_name(node_dir)
    _docker(["rm", "-f", cname], check=False)
    _docker(docker_run_args(cname, node_dir, pki.root), timeout=300)
    pid = _docker(["inspect", "-f", "{{.State.Pid}}", cname], check=False).strip()
    node = Node.from_directives(name, role, node_dir, directives, int(pid) if pid.isdigit() else 0, cname)
    if wait:
        try:
            wait_container(node, pki, timeout)
        except RunbookError:
            stop_container(node)
            raise
    return node


def wait_container(node: Node, pki: PkiPaths, timeout: float) -> None:
    """Block until the container answers a mutual-TLS PING, or raise with the server's reason."""
    deadline = time.monotonic() + timeout
    files = TlsClientFiles.from_pki(pki.root)
    last = ""
    while time.monotonic() < deadline:
        if not container_running(node):
            logs = _docker(["logs", "--tail", "5", node.container], check=False).strip().splitlines()
            reason = next((ln for ln in reversed(log_tail(node) or logs) if ln.strip()), "no log written")
            raise RunbookError(f"container {node.container} exited at start: {log_message(reason)}")
        if answers_ping(node.endpoint.with_files(files), timeout=1.0):  # raw socket: no client retries
            return
        last = "no PONG yet"
        time.sleep(0.1)
    raise RunbookError(f"container {node.container} did not answer a TLS PING within {timeout:.0f}s ({last})")


def container_running(node: Node) -> bool:
    """True while the node's container runs."""
    out = _docker(["inspect", "-f", "{{.State.Running}}", node.container], timeout=10, check=False)
    return out.strip() == "true"


def stop_container(node: Node, timeout: float = 10.0) -> None:
    """Remove the node's container (``docker rm -f``). Idempotent."""
    _docker(["rm", "-f", node.container], timeout=timeout + 20, check=False)
