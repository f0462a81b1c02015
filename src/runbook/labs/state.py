"""A lab on disk: ``<work>/labs/<name>/`` with ``lab.json`` (what runs), ``client.json`` (the
application's settings, which the trainee may edit), the lab's PKI, and one folder per node
(``redis.conf``, which the trainee may edit, and ``redis.log``).

The servers are redis-server processes in their own session (no terminal, output to their log),
so they keep running after ``runbook lab start`` exits. Stopping and restarting touch only the
processes recorded in ``lab.json``, and only while their command line still names the lab's
config (a recycled pid is never signalled).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook import config, files, sandbox
from runbook.client import Endpoint, TlsClientFiles
from runbook.errors import RunbookError
from runbook.sandbox import Node

LABS_DIR = "labs"
STATE_FILE = "lab.json"
CLIENT_FILE = "client.json"
ACTIVE_FILE = "active"
VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def labs_dir(work: Path) -> Path:
    return work / LABS_DIR


def version_name(version: ssl.TLSVersion | None) -> str:
    return next((k for k, v in VERSIONS.items() if v == version), "") if version is not None else ""


@dataclass(frozen=True)
class ClientSettings:
    """How the application connects (``client.json``): where, trusting what, as whom, how.

    The trainee may edit the file; a setting that is itself the fault is part of the lab.
    """

    endpoint: Endpoint
    tls: bool = True
    verify: bool = True
    min_version: str = "TLSv1.2"
    max_version: str = ""
    ciphers: str = ""

    def version(self, which: str) -> ssl.TLSVersion | None:
        value = self.min_version if which == "min" else self.max_version
        return VERSIONS[value] if value else None

    def to_dict(self) -> dict[str, Any]:
        e = self.endpoint
        return {
            "host": e.host,
            "port": e.port,
            "server_name": e.server_name,
            "tls": self.tls,
            "verify": self.verify,
            "ca": e.files.ca or None,
            "cert": e.files.cert,
            "key": e.files.key,
            "min_version": self.min_version,
            "max_version": self.max_version,
            "ciphers": self.ciphers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = CLIENT_FILE) -> ClientSettings:
        """Read the settings, or a RunbookError naming the field to correct in ``where``."""
        try:
            port = int(data["port"])
            host = str(data["host"])
        except (KeyError, TypeError, ValueError):
            raise RunbookError(
                f"{where}: host and port are required (port a number): correct the file"
            ) from None
        for key in ("min_version", "max_version"):
            if (data.get(key) or "") not in ("", *VERSIONS):
                raise RunbookError(
                    f"{where}: {key} {data[key]!r} is not one of {', '.join(VERSIONS)} (or empty)"
                )
        for key in ("tls", "verify"):
            if not isinstance(data.get(key, True), bool):
                raise RunbookError(f"{where}: {key} must be true or false")
        ca, cert, key_file = data.get("ca") or "", data.get("cert") or None, data.get("key") or None
        if bool(cert) != bool(key_file):
            raise RunbookError(f"{where}: cert and key go together: set both or neither")
        endpoint = Endpoint(
            host=host,
            port=port,
            server_name=str(data.get("server_name") or host),
            files=TlsClientFiles(str(ca), cert, key_file),
        )
        return cls(
            endpoint,
            tls=bool(data.get("tls", True)),
            verify=bool(data.get("verify", True)),
            min_version=data.get("min_version") or "",
            max_version=data.get("max_version") or "",
            ciphers=data.get("ciphers") or "",
        )


@dataclass
class LabState:
    """What one started lab runs and where (``lab.json``)."""

    name: str
    root: str
    pki_dir: str
    trainee: str
    started: float
    app_node: str
    nodes: list[Node] = field(default_factory=list)

    @property
    def client_path(self) -> Path:
        return Path(self.root) / CLIENT_FILE

    @property
    def app(self) -> Node:
        return self.node(self.app_node)

    @property
    def fleet(self) -> bool:
        return len(self.nodes) > 1

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise RunbookError(
            f"lab {self.name} has no node {name!r}: choose {', '.join(n.name for n in self.nodes)}"
        )

    def admin_files(self) -> TlsClientFiles:
        """The lab operator's own mutual-TLS identity (the lab PKI's CA and redis-client)."""
        return TlsClientFiles.from_pki(self.pki_dir)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabState:
        return cls(**{**data, "nodes": [Node(**n) for n in data.get("nodes", [])]})


def save(state: LabState) -> Path:
    """Write ``lab.json`` (atomic) and mark the lab as the active one. Writes files."""
    path = Path(state.root) / STATE_FILE
    files.write_file(path, (json.dumps(state.to_dict(), indent=2) + "\n").encode())
    files.write_file(labs_dir(Path(state.root).parent.parent) / ACTIVE_FILE, f"{state.name}\n".encode())
    return path


def load(work: Path, name: str | None = None) -> LabState:
    """The lab ``name`` (default: the one started last), or a RunbookError saying how to start one."""
    chosen = name or _active(work)
    path = labs_dir(work) / chosen / STATE_FILE if chosen else None
    if path is None or not path.is_file():
        which = f"lab {chosen} is not running" if chosen else "no lab is running"
        raise RunbookError(
            f"{which} in {work}: start one with `runbook lab start NAME` (see `runbook lab list`)"
        )
    return LabState.from_dict(json.loads(path.read_text()))


def _active(work: Path) -> str:
    marker = labs_dir(work) / ACTIVE_FILE
    return marker.read_text().strip() if marker.is_file() else ""


def clear_active(work: Path, name: str) -> None:
    marker = labs_dir(work) / ACTIVE_FILE
    if _active(work) == name:
        marker.unlink(missing_ok=True)


def read_client(state: LabState) -> ClientSettings:
    path = state.client_path
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunbookError(
            f"{path} is missing: restart the lab (`runbook lab stop` then `lab start`)"
        ) from None
    except json.JSONDecodeError as exc:
        raise RunbookError(f"{path} is not valid JSON (line {exc.lineno}): correct the file") from None
    return ClientSettings.from_dict(data, str(path))


def write_client(state: LabState, settings: ClientSettings) -> Path:
    """Replace ``client.json`` atomically (the previous version goes to ``<lab>/backups/``). Writes files."""
    files.backup([state.client_path], Path(state.root))
    return files.write_file(state.client_path, (json.dumps(settings.to_dict(), indent=2) + "\n").encode())


def set_directives(state: LabState, node: Node, changes: dict[str, str | None]) -> Path:
    """Edit a node's redis.conf in place: each directive replaced (first occurrence, later ones
    dropped), appended when absent, removed when its value is None. Values are redis.conf text
    (quoted as needed). The previous file goes to ``<lab>/backups/``. Writes files."""
    conf = node.conf_path
    wanted = {k.lower(): v for k, v in changes.items()}
    done: set[str] = set()
    out: list[str] = []
    for line in conf.read_text().splitlines():
        words = line.split(None, 1)
        name = words[0].lower() if words and not words[0].startswith("#") else ""
        if name in wanted:
            value = wanted[name]
            if name not in done and value is not None:
                out.append(f"{name} {value}")
            done.add(name)
            continue
        out.append(line)
    out += [f"{k} {v}" for k, v in wanted.items() if k not in done and v is not None]
    files.backup([conf], Path(state.root))
    return files.write_file(conf, ("\n".join(out) + "\n").encode())


def conf_value(node: Node, name: str, default: str = "") -> str:
    """A directive of the node's redis.conf as on disk (unquoted, last occurrence wins)."""
    parsed = config.parse(node.conf_path)
    return parsed.get(name, default) or default


# --------------------------------------------------------------------------- processes


def is_ours(node: Node) -> bool:
    """True while the node's pid runs redis-server on this node's config (never a recycled pid)."""
    if not sandbox.pid_alive(node.pid):
        return False
    try:
        cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return str(node.conf_path) in cmdline or (
        "redis-server" in cmdline and Path(f"/proc/{node.pid}/cwd").resolve() == Path(node.dir).resolve()
    )


def stop_nodes(state: LabState, names: list[str] | None = None) -> list[str]:
    """Stop the lab's recorded processes (all, or ``names``) that are still ours. Stops processes."""
    stopped = []
    for node in state.nodes:
        if names and node.name not in names:
            continue
        if is_ours(node):
            sandbox.stop_node(node)
            stopped.append(node.name)
    return stopped


def restart_nodes(state: LabState, names: list[str] | None = None, timeout: float = 5.0) -> list[Node]:
    """Restart nodes from their redis.conf as it is on disk, like ``systemctl restart redis``.

    Stops the recorded process (when ours), starts redis-server on the config, waits until its
    port accepts TCP or it exits (its log then says why), and records the new pid in ``lab.json``.
    Starts and stops processes; writes ``lab.json``.
    """
    chosen = [state.node(n) for n in names] if names else list(state.nodes)
    stop_nodes(state, [n.name for n in chosen])
    fresh: list[Node] = []
    for node in chosen:
        proc = sandbox.spawn_process(Path(node.dir))
        directives = config.parse(node.conf_path).as_directives()
        new = Node.from_directives(node.name, node.role, Path(node.dir), directives, proc.pid)
        _wait_up(new, timeout)
        state.nodes[state.nodes.index(node)] = new
        fresh.append(new)
    save(state)
    return fresh


def _wait_up(node: Node, timeout: float) -> None:
    port = node.port or node.plaintext_port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sandbox.pid_alive(node.pid):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.02)
