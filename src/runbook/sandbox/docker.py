"""The docker backend: each node is a container of a local Redis image on the host network.

The container runs the image's own ``redis`` user. It sees two bind mounts, each at the same path
as on the host: the PKI read-only and the node's folder read-write (its ``redis.conf``, which
``CONFIG REWRITE`` rewrites, and ``redis.log``). Because the paths are the host's, everything
Redis reports (``CONFIG GET tls-*``, its config file, its log) names the host files: rotation
writes the files the container serves, diagnose reads its log, no translation anywhere. The
files the server reads are handed to the image's uid (its key 0600, its folder); the CA key never.

Stop is graceful: SIGTERM with ``docker stop -t``, the exit code checked, the container's own
output kept as ``container.log`` in the node folder, then ``docker rm``. Nothing is pulled.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from runbook.client import TlsClientFiles
from runbook.client.probe import answers_ping
from runbook.errors import RunbookError
from runbook.pki import PkiPaths
from runbook.sandbox.engine import docker, docker_image, image_info
from runbook.sandbox.node_config import conf_text
from runbook.sandbox.readiness import log_message, log_tail
from runbook.sandbox.state import Node

CONTAINER_LOG = "container.log"


def docker_run_args(
    name: str, node_dir: Path, pki_root: Path, image: str | None = None, user: str = ""
) -> list[str]:
    """``docker run`` arguments for one node: host network (loopback ports as recorded), never a
    pull, the PKI read-only and the node folder read-write at their host paths, the image's user."""
    pki_path, node_path = str(pki_root.resolve()), str(node_dir.resolve())
    return [
        "run",
        "-d",
        "--pull",
        "never",
        "--name",
        name,
        "--network",
        "host",
        *(["--user", user] if user else []),
        "--label",
        f"runbook.node={node_path}",
        "-v",
        f"{pki_path}:{pki_path}:ro",
        "-v",
        f"{node_path}:{node_path}",
        "-w",
        node_path,
        docker_image(image),
        "redis-server",
        f"{node_path}/redis.conf",
    ]


def container_name(node_dir: Path) -> str:
    """A container name unique to this work dir and node."""
    digest = hashlib.sha256(str(node_dir.resolve().parent).encode()).hexdigest()[:8]
    return f"runbook-{digest}-{node_dir.name}"


def served_files(directives: dict[str, str]) -> list[Path]:
    """The private keys a node's server reads (its own, its link identity): the image's user needs them."""
    keys = [directives.get("tls-key-file", ""), directives.get("tls-client-key-file", "")]
    return [Path(k.strip('"')) for k in keys if k.strip('"')]


def grant_container_access(pki_root: Path, node_dir: Path, keys: list[Path], uid: int, gid: int) -> None:
    """Let the image's user (``uid``:``gid``) read what it serves and write its folder. Changes owners.

    The keys it serves become owned by ``uid`` (still 0600); the PKI folders it must traverse get
    group ``gid`` with search (not list) permission; the node folder is its own. Other keys (the
    CA's) are left untouched. Needs root unless the files already belong to ``uid``.
    """
    try:
        for key in keys:
            if key.is_file() and key.stat().st_uid != uid:
                os.chown(key, uid, -1)
        for folder in {pki_root.resolve(), *(k.resolve().parent for k in keys)}:
            st = folder.stat()
            if st.st_gid != gid or not st.st_mode & 0o010:
                os.chown(folder, -1, gid)
                os.chmod(folder, (st.st_mode & 0o7777) | 0o010)
        for path in [node_dir, *node_dir.rglob("*")] if node_dir.exists() else []:
            if path.stat().st_uid != uid:
                os.chown(path, uid, gid)
    except PermissionError:
        raise RunbookError(
            f"the container's redis user (uid {uid}) cannot be given the server key in {pki_root}: "
            f"run as root, or `chown {uid} <key>` and `chmod g+x` its folder for gid {gid}"
        ) from None


def start_container(
    name: str,
    role: str,
    node_dir: Path,
    directives: dict[str, str],
    pki: PkiPaths,
    *,
    timeout: float,
    wait: bool,
    image: str | None = None,
) -> Node:
    """Start one node as a container (see the module docstring). Starts a container."""
    info = image_info(image)
    node_dir.mkdir(parents=True, exist_ok=True)
    (node_dir / "redis.conf").write_text(conf_text(directives))
    grant_container_access(pki.root, node_dir, served_files(directives), info.uid, info.gid)
    cname = container_name(node_dir)
    docker(["rm", "-f", cname], check=False)
    args = docker_run_args(cname, node_dir, pki.root, info.id, f"{info.uid}:{info.gid}")
    docker(args, timeout=120, image=info.image)
    pid = docker(["inspect", "-f", "{{.State.Pid}}", cname], check=False).strip()
    node = Node.from_directives(name, role, node_dir, directives, int(pid) if pid.isdigit() else 0, cname)
    if wait:
        try:
            wait_container(node, pki, timeout)
        except RunbookError:
            stop_container(node)
            raise
    return node


def container_log(node: Node) -> list[str]:
    """The container's own output (what Redis printed before its log file opened), as kept or live."""
    kept = Path(node.dir) / CONTAINER_LOG
    live = docker(["logs", node.container], check=False) if node.container else ""
    if live:
        return live.splitlines()
    try:
        return kept.read_text(errors="replace").splitlines()
    except OSError:
        return []


def _keep_log(node: Node) -> None:
    """Copy the container's stdout/stderr into ``container.log`` in the node folder. Writes a file."""
    (Path(node.dir) / CONTAINER_LOG).write_text(docker(["logs", node.container], check=False))


def wait_container(node: Node, pki: PkiPaths, timeout: float) -> None:
    """Block until the container answers a mutual-TLS PING, or raise with the server's reason."""
    deadline = time.monotonic() + timeout
    files = TlsClientFiles.from_pki(pki.root)
    while time.monotonic() < deadline:
        if not container_running(node):
            lines = log_tail(node) + container_log(node)
            reason = next((ln for ln in reversed(lines) if ln.strip()), "no log written")
            raise RunbookError(
                f"container {node.container} ({node.name}) exited at start: {log_message(reason)}"
            )
        if answers_ping(node.endpoint.with_files(files), timeout=1.0):  # raw socket: no client retries
            return
        time.sleep(0.1)
    raise RunbookError(
        f"container {node.container} did not answer a TLS PING on port {node.port} within {timeout:.0f}s: "
        f"read {node.log_path}"
    )


def container_running(node: Node) -> bool:
    """True while the node's container runs."""
    out = docker(["inspect", "-f", "{{.State.Running}}", node.container], timeout=10, check=False)
    return out.strip() == "true"


def stop_container(node: Node, timeout: float = 10.0) -> int | None:
    """Stop the node's container gracefully and remove it. Idempotent. Stops a container.

    SIGTERM via ``docker stop -t`` (Redis shuts down and exits 0), the container's output kept in
    ``container.log``, then ``docker rm``. Returns the exit code (None when there was no container).
    """
    state = docker(["inspect", "-f", "{{.State.Status}}", node.container], check=False).strip()
    if not state:
        return None
    if state == "running":
        docker(["stop", "-t", str(int(timeout)), node.container], timeout=timeout + 30)
    code = docker(["inspect", "-f", "{{.State.ExitCode}}", node.container], check=False).strip()
    _keep_log(node)
    docker(["rm", "-f", node.container], timeout=60)
    return int(code) if code.lstrip("-").isdigit() else None
