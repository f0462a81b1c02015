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

from runbook import config, workdir
from runbook.client import Endpoint, TlsClientFiles, redis_client
from runbook.errors import RunbookError
from runbook.pki import PkiPaths
from runbook.results import CheckResult, as_dicts

LOOPBACK = "127.0.0.1"
MIN_VERSION = (6, 2, 0)
STATE_FILE = "sandbox.json"
TOPOLOGIES: tuple[str, ...] = ("standalone", "replica", "cluster")
BACKENDS: tuple[str, ...] = ("binary", "docker")
CLUSTER_SLOTS = 16384
IMAGE_ENV = "RUNBOOK_REDIS_IMAGE"
DEFAULT_IMAGE = "redis:7.2"
DOCKER_PKI = "/tls"
DOCKER_DATA = "/data"
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
    bus_port: int = 0
    container: str = ""

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

    def endpoint(self, client: str | None = "redis-client") -> Endpoint:
        """The primary as a notebook's target (``localhost``, verified for ``localhost``)."""
        return Endpoint("localhost", self.primary.port, "localhost", self.client_files(client))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sandbox:
        nodes = [Node(**n) for n in data.get("nodes", [])]
        return cls(**{**data, "nodes": nodes})


def base_conf(
    node_dir: Path,
    pki: PkiPaths,
    tls_port: int,
    plaintext_port: int = 0,
    *,
    replication: bool = False,
    cluster: bool = False,
) -> dict[str, str]:
    """The directives of a sandbox node: the strict TLS section of :func:`runbook.config.render`
    on loopback, nothing persisted.

    With ``replication``/``cluster`` the outgoing links present the clientAuth certificate
    ``clients/redis-node.crt`` (see :func:`runbook.config.ensure_node_client`).
    """
    settings = config.settings_for_pki(
        pki.root,
        "strict",
        tls_port=tls_port,
        plaintext_port=plaintext_port,
        replication=replication,
        cluster=cluster,
    )
    return {
        "bind": "127.0.0.1 ::1",
        **config.directives(settings),
        "dir": str(node_dir),
        "logfile": str(node_dir / "redis.log"),
        "pidfile": str(node_dir / "redis.pid"),
        "daemonize": "no",
        "save": '""',
        "appendonly": "no",
        "protected-mode": "yes",
    }


def conf_text(directives: dict[str, str]) -> str:
    return config.conf_text(directives)


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
    backend: str = "binary",
) -> Node:
    """Write ``redis.conf`` from ``directives`` and start redis-server on it. Starts a process.

    Waits until a mutual-TLS PING answers; if the server exits first, raises a RunbookError
    quoting the last log line (the server's own reason). ``backend="docker"`` runs the official
    image instead (host network, the PKI mounted read-only at /tls, the node folder at /data).
    """
    node_dir.mkdir(parents=True, exist_ok=True)
    if backend == "docker":
        return _start_container(name, role, node_dir, directives, pki, timeout=timeout, wait=wait)
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
        bus_port=int(directives.get("cluster-port", "0")),
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
        if tls_answers("localhost", node.port, files, timeout=1.0):  # raw socket: no client retries
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
    if node.container:
        _docker(["rm", "-f", node.container], timeout=timeout + 20, check=False)
        return
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


def node_alive(node: Node) -> bool:
    """True while the node's process (or container) runs."""
    if node.container:
        out = _docker(["inspect", "-f", "{{.State.Running}}", node.container], timeout=10, check=False)
        return out.strip() == "true"
    return pid_alive(node.pid)


def healthy(box: Sandbox) -> bool:
    """True when every node runs, answers a mutual-TLS PING, and its links are up over TLS."""
    for node in box.nodes:
        if not node_alive(node):
            return False
        try:
            if not box.client(node).ping():
                return False
        except (redis.RedisError, OSError, RunbookError):
            return False
    return all(r.ok for r in links(box))


def command(client: redis.Redis, *args: Any) -> Any:
    """``client.execute_command`` with a typed signature (redis-py leaves it untyped)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _info(box: Sandbox, node: Node, section: str) -> dict[str, Any]:
    client = box.client(node)
    try:
        info: dict[str, Any] = command(client, "INFO", section)
        return info
    finally:
        client.close()


def _cluster_info(box: Sandbox, node: Node) -> dict[str, str]:
    client = box.client(node)
    try:
        text = str(command(client, "CLUSTER", "INFO"))
    finally:
        client.close()
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


def links(box: Sandbox) -> list[CheckResult]:
    """The state of the TLS links between nodes: replication (replica) or cluster bus (cluster)."""
    results: list[CheckResult] = []
    try:
        if box.topology == "replica":
            for node in box.nodes[1:]:
                info = _info(box, node, "replication")
                status = str(info.get("master_link_status", "down"))
                results.append(
                    CheckResult(
                        f"replication-link:{node.name}",
                        "pass" if status == "up" else "fail",
                        f"master_link_status:{status} (replica of {box.primary.name}, over TLS)",
                        "" if status == "up" else f"read {node.log_path}",
                    )
                )
        elif box.topology == "cluster":
            for node in box.nodes:
                ci = _cluster_info(box, node)
                ok = (
                    ci.get("cluster_state") == "ok"
                    and ci.get("cluster_slots_assigned") == str(CLUSTER_SLOTS)
                    and ci.get("cluster_known_nodes") == str(len(box.nodes))
                )
                results.append(
                    CheckResult(
                        f"cluster-state:{node.name}",
                        "pass" if ok else "fail",
                        f"cluster_state:{ci.get('cluster_state')}, slots {ci.get('cluster_slots_assigned')}"
                        f"/{CLUSTER_SLOTS}, {ci.get('cluster_known_nodes')} nodes (tls-cluster yes)",
                        "" if ok else f"read {node.log_path}",
                    )
                )
    except (redis.RedisError, OSError) as exc:
        results.append(CheckResult("links", "fail", " ".join(str(exc).split()), "restart the sandbox"))
    return results


def _save(box: Sandbox) -> None:
    path = state_path(Path(box.work_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(box.to_dict(), indent=2) + "\n")


def _check_binary() -> tuple[int, int, int]:
    version = redis_server_version()
    if version < MIN_VERSION:
        raise RunbookError(
            f"redis-server {'.'.join(map(str, version))} is too old for TLS: {INSTALL_HINT} (>= 6.2)"
        )
    return version


def _node_dir(wd: Path, name: str) -> Path:
    folder = workdir.sandbox_dir(wd) / name
    if folder.exists():  # a previous run's cluster nodes.conf or RDB must not leak into this one
        shutil.rmtree(folder)
    return folder


def start(work: Path | str | None = None, topology: str = "standalone", backend: str = "binary") -> Sandbox:
    """Start a fresh sandbox (stopping any recorded one first). Starts processes.

    ``standalone``: one TLS-only primary. ``replica``: a primary and a replica replicating over
    TLS (``master_link_status:up`` verified). ``cluster``: three primaries with ``tls-cluster yes``,
    all 16384 slots assigned, ``cluster_state:ok`` verified on every node.
    """
    if topology not in TOPOLOGIES:
        raise RunbookError(f"unknown topology {topology!r}: choose {', '.join(TOPOLOGIES)}")
    if backend not in BACKENDS:
        raise RunbookError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")
    wd = workdir.work_dir(work)
    stop(wd)
    pki = PkiPaths(workdir.pki_dir(wd))
    if not pki.server_cert.exists():
        raise RunbookError(f"no server certificate in {pki.root}: run notebook 01 or `runbook pki create`")
    version = _check_binary() if backend == "binary" else docker_check()
    if topology != "standalone":
        config.ensure_node_client(pki.root)
    box = Sandbox(topology, backend, str(wd), str(pki.root), [])
    try:
        if topology == "standalone":
            node_dir = _node_dir(wd, "primary")
            conf = base_conf(node_dir, pki, free_port())
            box.nodes.append(_start(box, "primary", "primary", node_dir, conf, pki))
        elif topology == "replica":
            _start_replica(box, wd, pki)
        else:
            _start_cluster(box, wd, pki, version)
    except BaseException:
        for node in box.nodes:
            stop_node(node)
        raise
    _save(box)
    return box


def _start(box: Sandbox, name: str, role: str, node_dir: Path, conf: dict[str, str], pki: PkiPaths) -> Node:
    try:
        return start_node(name, role, node_dir, conf, pki, backend=box.backend)
    except RunbookError as exc:
        if box.backend == "binary" and "tls" in str(exc).lower():
            raise RunbookError(f"{exc} (is redis-server built with TLS? run `runbook doctor`)") from None
        raise


def _start_replica(box: Sandbox, wd: Path, pki: PkiPaths, timeout: float = 20.0) -> None:
    primary_dir = _node_dir(wd, "primary")
    conf = base_conf(primary_dir, pki, free_port(), replication=True)
    conf["repl-diskless-sync-delay"] = "0"  # the default 5 s would delay the first sync
    primary = _start(box, "primary", "primary", primary_dir, conf, pki)
    box.nodes.append(primary)
    replica_dir = _node_dir(wd, "replica")
    conf = base_conf(replica_dir, pki, free_port(), replication=True)
    conf["replicaof"] = f"{LOOPBACK} {primary.port}"
    box.nodes.append(_start(box, "replica", "replica", replica_dir, conf, pki))
    _wait_links(box, timeout)


def _start_cluster(box: Sandbox, wd: Path, pki: PkiPaths, version: tuple[int, int, int]) -> None:
    """Start three cluster nodes in parallel (then wait for each), and form the cluster."""
    for i in range(3):
        name = f"node-{i + 1}"
        node_dir = _node_dir(wd, name)
        port, bus = _cluster_ports(version)
        conf = base_conf(node_dir, pki, port, cluster=True)
        conf.update(
            {
                "cluster-enabled": "yes",
                "cluster-config-file": str(node_dir / "nodes.conf"),
                "cluster-node-timeout": "3000",
                "repl-diskless-sync-delay": "0",
            }
        )
        if version >= (7, 0, 0):
            conf["cluster-port"] = str(bus)
        node = start_node(name, "primary", node_dir, conf, pki, backend=box.backend, wait=False)
        node.bus_port = bus
        box.nodes.append(node)
    for node in box.nodes:
        if node.container:
            _wait_container(node, pki, 30.0)
        else:
            wait_ready(node, pki, timeout=30.0)
    form_cluster(box, version)


def _cluster_ports(version: tuple[int, int, int]) -> tuple[int, int]:
    """(TLS port, cluster bus port). Before Redis 7 the bus is always port + 10000."""
    for _ in range(200):
        port = free_port()
        bus = free_port() if version >= (7, 0, 0) else port + 10000
        if bus != port and bus <= 65535 and _port_free(bus):
            return port, bus
    raise RunbookError("no free pair of loopback ports for a cluster node: free some ports and retry")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def form_cluster(box: Sandbox, version: tuple[int, int, int] = (7, 0, 0), timeout: float = 30.0) -> None:
    """Assign the 16384 slots evenly, join the nodes (CLUSTER MEET over TLS), wait for cluster_state:ok."""
    count = len(box.nodes)
    bounds = [round(i * CLUSTER_SLOTS / count) for i in range(count + 1)]
    for i, node in enumerate(box.nodes):
        client = box.client(node)
        try:
            command(client, "CLUSTER", "SET-CONFIG-EPOCH", i + 1)
            first, last = bounds[i], bounds[i + 1] - 1
            if version >= (7, 0, 0):
                command(client, "CLUSTER", "ADDSLOTSRANGE", first, last)
            else:
                command(client, "CLUSTER", "ADDSLOTS", *range(first, last + 1))
        finally:
            client.close()
    for i, node in enumerate(box.nodes[:-1]):  # a full mesh of MEETs: no waiting for gossip
        client = box.client(node)
        try:
            for other in box.nodes[i + 1 :]:
                command(client, "CLUSTER", "MEET", LOOPBACK, other.port, other.bus_port or other.port + 10000)
        finally:
            client.close()
    _wait_links(box, timeout)


def _wait_links(box: Sandbox, timeout: float) -> None:
    """Poll until every link check passes; raise with the failing checks and the fix."""
    deadline = time.monotonic() + timeout
    results: list[CheckResult] = []
    while time.monotonic() < deadline:
        results = links(box)
        if results and all(r.ok for r in results):
            return
        time.sleep(0.1)
    bad = "; ".join(f"{r.id}: {r.detail}" for r in results if not r.ok)
    hint = next((r.fix for r in results if r.fix), "read the node logs")
    raise RunbookError(f"{box.topology} links not up over TLS within {timeout:.0f}s ({bad}): {hint}")


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


def status_dict(box: Sandbox | None) -> dict[str, Any]:
    """The ``sandbox status --json`` document: topology, PKI in use, nodes, links, health."""
    if box is None:
        return {
            "topology": None,
            "backend": None,
            "pki_dir": None,
            "healthy": False,
            "nodes": [],
            "links": [],
        }
    return {
        "topology": box.topology,
        "backend": box.backend,
        "work_dir": box.work_dir,
        "pki_dir": box.pki_dir,
        "healthy": healthy(box),
        "nodes": [
            {
                "name": n.name,
                "role": n.role,
                "host": n.host,
                "port": n.port,
                "tls": n.tls,
                "pid": n.pid,
                "alive": node_alive(n),
                "plaintext_port": n.plaintext_port,
                **({"bus_port": n.bus_port} if n.bus_port else {}),
                **({"container": n.container} if n.container else {}),
            }
            for n in box.nodes
        ],
        "links": as_dicts(links(box)) if all(node_alive(n) for n in box.nodes) else [],
    }


def reload_tls(box: Sandbox) -> list[tuple[str, config.ApplyReport]]:
    """Re-apply each node's TLS directives from its redis.conf without a restart. Changes the servers.

    One atomic ``CONFIG SET`` per node (certificates and keys are re-read), then ``CONFIG REWRITE``
    since the sandbox owns the file. Ports are left alone (changing them re-binds listeners).
    """
    reports = []
    for node in box.nodes:
        items = config.parse(node.conf_path).as_directives()
        tls = {k: v for k, v in items.items() if k in config.TLS_DIRECTIVES and k not in ("port", "tls-port")}
        client = box.client(node)
        try:
            reports.append((node.name, config.apply_tls(client, tls, owned_dir=box.work_dir)))
        finally:
            client.close()
    return reports


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class HandshakeDetails:
    """What ``openssl s_client`` would show about a handshake with a server."""

    protocol: str
    cipher: str
    server_subject: str
    server_issuer: str
    server_serial: str
    server_not_after: str
    server_sans: list[str]


def handshake(
    host: str, port: int, files: TlsClientFiles, server_hostname: str = "localhost"
) -> HandshakeDetails:
    """A real mutual-TLS handshake with ``host:port`` (strict verification). Opens a connection."""
    from cryptography import x509

    from runbook.client import tls_context
    from runbook.pki import cert_info

    ctx = tls_context(files)
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        cipher = tls.cipher()
        protocol = tls.version() or ""
    if der is None:
        raise RunbookError(f"{host}:{port} sent no certificate: check tls-cert-file")
    info = cert_info(x509.load_der_x509_certificate(der))
    return HandshakeDetails(
        protocol=protocol,
        cipher=cipher[0] if cipher else "",
        server_subject=info.subject,
        server_issuer=info.issuer,
        server_serial=info.serial,
        server_not_after=info.not_after,
        server_sans=info.sans,
    )


def server_version(host: str, port: int, files: TlsClientFiles, *, server_name: str | None = None) -> str:
    """``redis_version`` from INFO server over mutual TLS ("" when it cannot be read).

    With ``server_name`` the certificate is verified for that name (SNI), not for ``host``.
    """
    if server_name is not None:
        try:
            reply = tls_command(host, port, files, "INFO", "server", server_name=server_name)
        except OSError:
            return ""
        found = re.search(rb"redis_version:([^\r\n]+)", reply)
        return found.group(1).decode() if found else ""
    try:
        client = redis_client(host, port, files, socket_timeout=3.0)
        info: dict[str, Any] = command(client, "INFO", "server")
        client.close()
    except (redis.RedisError, OSError):
        return ""
    return str(info.get("redis_version", ""))


def plaintext_answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """True when a plaintext ``PING`` on ``host:port`` gets a Redis reply. Opens a connection."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH", b"-"))


def tls_answers(
    host: str, port: int, files: TlsClientFiles, timeout: float = 3.0, *, server_name: str = "localhost"
) -> bool:
    """True when a TLS ``PING`` with ``files`` (with or without a client certificate) gets PONG.

    The server's certificate is verified for ``server_name`` (sent as SNI)."""
    from runbook.client import tls_context

    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            tls_context(files).wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            tls.sendall(b"PING\r\n")
            reply = tls.recv(64)
    except OSError:  # ssl.SSLError is an OSError: a refused handshake or an alert after it
        return False
    return reply.startswith(b"+PONG")


def verify_endpoint(
    host: str,
    port: int,
    files: TlsClientFiles,
    *,
    name: str = "",
    plaintext_port: int | None = None,
    server_name: str = "localhost",
) -> list[CheckResult]:
    """Real connections to one server: mutual-TLS PING answers, a client without a certificate is
    refused, plaintext is refused on the TLS port (and on ``plaintext_port`` when given).
    TLS connections verify the certificate for ``server_name``."""
    suffix = f":{name}" if name else ""
    ok = tls_answers(host, port, files, server_name=server_name)
    results = [
        CheckResult(
            f"tls-ping{suffix}",
            "pass" if ok else "fail",
            "mutual-TLS PING answered PONG" if ok else "no PONG over mutual TLS",
            "" if ok else "check the TLS port, the certificates and the server log",
        )
    ]
    let_in = tls_answers(host, port, TlsClientFiles(files.ca), server_name=server_name)
    results.append(
        CheckResult(
            f"mutual-tls-enforced{suffix}",
            "fail" if let_in else "pass",
            "a TLS client without a certificate got PONG"
            if let_in
            else "a TLS client without a certificate is refused",
            "set tls-auth-clients yes" if let_in else "",
        )
    )
    plain = plaintext_answers(host, port)
    results.append(
        CheckResult(
            f"plaintext-refused{suffix}",
            "fail" if plain else "pass",
            "plaintext PING answered on the TLS port" if plain else "plaintext on the TLS port is refused",
            "check tls-port" if plain else "",
        )
    )
    if plaintext_port:
        plain = plaintext_answers(host, plaintext_port)
        results.append(
            CheckResult(
                f"plaintext-port{suffix}",
                "fail" if plain else "pass",
                "the plaintext port answers PING" if plain else "the plaintext port does not answer",
                "set port 0" if plain else "",
            )
        )
    return results


def tls_command(
    host: str, port: int, files: TlsClientFiles, *args: str, server_name: str, timeout: float = 5.0
) -> bytes:
    """Send one command over mutual TLS, verified for ``server_name`` (SNI); the raw RESP reply.

    For a server reached by an address its certificate does not name (redis-py verifies the host it
    connects to). Opens one connection; raises OSError (ssl.SSLError) when the handshake fails.
    """
    from runbook.client import tls_context

    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    chunks: list[bytes] = []
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        tls_context(files).wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        tls.sendall(payload)
        while True:
            chunk = tls.recv(65536)
            chunks.append(chunk)
            data = b"".join(chunks)
            if not chunk or _resp_complete(data):
                return data


def _resp_complete(data: bytes) -> bool:
    """True when ``data`` holds one whole RESP reply (simple, error, integer, bulk, flat array)."""
    if not data.endswith(b"\r\n"):
        return False
    if data[:1] in (b"+", b"-", b":"):
        return True
    if data[:1] == b"$":
        head, _, rest = data.partition(b"\r\n")
        size = int(head[1:])
        return size < 0 or len(rest) >= size + 2
    if data[:1] == b"*":
        head, _, rest = data.partition(b"\r\n")
        count = int(head[1:])
        return count <= 0 or rest.count(b"\r\n") >= 2 * count
    return True


def plaintext_port_check(
    host: str, port: int, files: TlsClientFiles, *, server_name: str, name: str = ""
) -> CheckResult:
    """``CONFIG GET port`` over mutual TLS: pass when 0 (no plaintext listener). Opens one connection.

    A server that refuses ``CONFIG`` (renamed or ACL-restricted, as on managed services) gives a
    ``skip``: the plaintext port cannot be told from the client side without it.
    """
    check_id = f"plaintext-port-closed:{name}" if name else "plaintext-port-closed"
    try:
        reply = tls_command(host, port, files, "CONFIG", "GET", "port", server_name=server_name)
    except OSError as exc:
        return CheckResult(
            check_id, "skip", f"CONFIG GET port failed ({' '.join(str(exc).split())}): cannot tell"
        )
    lines = reply.split(b"\r\n")
    if reply.startswith(b"-") or len(lines) < 5:
        why = lines[0][1:].decode(errors="replace") if reply.startswith(b"-") else "no port in the reply"
        return CheckResult(
            check_id, "skip", f"CONFIG GET port refused ({why}): cannot tell the plaintext port"
        )
    value = lines[4].decode(errors="replace")
    if value == "0":
        return CheckResult(check_id, "pass", "CONFIG GET port is 0: no plaintext listener")
    return CheckResult(check_id, "fail", f"plaintext port {value} is open", "set port 0")


def verify_external(endpoint: Endpoint) -> list[CheckResult]:
    """Verify an external server with real connections only (nothing is started, stopped or changed):
    mutual-TLS PING, a client without a certificate refused, plaintext refused on the TLS port,
    and the plaintext port closed when ``CONFIG GET port`` is allowed (else a ``skip``)."""
    ep = endpoint
    results = verify_endpoint(ep.host, ep.port, ep.files, name="target", server_name=ep.server_name)
    return [
        *results,
        plaintext_port_check(ep.host, ep.port, ep.files, server_name=ep.server_name, name="target"),
    ]


def handshake_rows(hs: HandshakeDetails, expected_serial: str | None = None) -> list[tuple[str, object]]:
    """Rows for a handshake table; the last row compares the serial with ``expected_serial`` when
    given (the sandbox's own certificate), else states that the chain and the name were verified."""
    rows: list[tuple[str, object]] = [
        ("protocol", hs.protocol),
        ("cipher", hs.cipher),
        ("server certificate", hs.server_subject),
        ("issued by", hs.server_issuer),
        ("names", ", ".join(hs.server_sans)),
    ]
    if expected_serial is not None:
        return [*rows, ("serial is redis-server.crt's", hs.server_serial == expected_serial)]
    return [*rows, ("chain and name verified (strict)", True)]


def verify(box: Sandbox) -> list[CheckResult]:
    """Verify every node of the sandbox with real connections, then its TLS links."""
    files = box.client_files()
    results: list[CheckResult] = []
    for node in box.nodes:
        results += verify_endpoint("localhost", node.port, files, name=node.name)
        try:
            client = box.client(node)
            got: dict[str, Any] = client.config_get("port")  # type: ignore[assignment]
            port = str(got.get("port", "?"))
            client.close()
        except (redis.RedisError, OSError) as exc:
            port = f"unknown ({' '.join(str(exc).split())})"
        results.append(
            CheckResult(
                f"plaintext-port-closed:{node.name}",
                "pass" if port == "0" else "fail",
                "CONFIG GET port is 0: no plaintext listener"
                if port == "0"
                else f"plaintext port {port} is open",
                "" if port == "0" else "set port 0",
            )
        )
    return results + links(box)


# --------------------------------------------------------------------------- docker backend


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
    import hashlib

    digest = hashlib.sha256(str(node_dir.resolve().parent).encode()).hexdigest()[:8]
    return f"runbook-{digest}-{node_dir.name}"


def _start_container(
    name: str,
    role: str,
    node_dir: Path,
    directives: dict[str, str],
    pki: PkiPaths,
    *,
    timeout: float,
    wait: bool,
) -> Node:
    (node_dir / "redis.conf").write_text(conf_text(container_conf(directives, pki.root, node_dir)))
    cname = container_name(node_dir)
    _docker(["rm", "-f", cname], check=False)
    _docker(docker_run_args(cname, node_dir, pki.root), timeout=300)
    pid = _docker(["inspect", "-f", "{{.State.Pid}}", cname], check=False).strip()
    node = Node(
        name=name,
        role=role,
        port=int(directives.get("tls-port", "0")),
        plaintext_port=int(directives.get("port", "0")),
        pid=int(pid) if pid.isdigit() else 0,
        dir=str(node_dir),
        tls=directives.get("tls-port", "0") != "0",
        bus_port=int(directives.get("cluster-port", "0")),
        container=cname,
    )
    if wait:
        try:
            _wait_container(node, pki, timeout)
        except RunbookError:
            stop_node(node)
            raise
    return node


def _wait_container(node: Node, pki: PkiPaths, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    files = TlsClientFiles.from_pki(pki.root)
    last = ""
    while time.monotonic() < deadline:
        if not node_alive(node):
            logs = _docker(["logs", "--tail", "5", node.container], check=False).strip().splitlines()
            reason = next((ln for ln in reversed(log_tail(node) or logs) if ln.strip()), "no log written")
            raise RunbookError(f"container {node.container} exited at start: {_log_message(reason)}")
        if tls_answers("localhost", node.port, files, timeout=1.0):  # raw socket: no client retries
            return
        last = "no PONG yet"
        time.sleep(0.1)
    raise RunbookError(f"container {node.container} did not answer a TLS PING within {timeout:.0f}s ({last})")


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
