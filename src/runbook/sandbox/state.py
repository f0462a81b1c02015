"""What a sandbox is and where it is recorded: :class:`Sandbox`, :class:`Node`, ``sandbox.json``.

A sandbox lives in ``<work>/sandbox/``: ``sandbox.json`` records the topology, the PKI in use
and each node (role, loopback host, TLS port, pid, folder); each node's folder holds its
``redis.conf`` and ``redis.log``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import redis

from runbook import workdir
from runbook.client import Endpoint, TlsClientFiles, redis_client
from runbook.errors import RunbookError

LOOPBACK = "127.0.0.1"
HOSTNAME = "localhost"  # how clients reach a node, and the name its certificate carries
STATE_FILE = "sandbox.json"
TOPOLOGIES: tuple[str, ...] = ("standalone", "replica", "cluster")
BACKENDS: tuple[str, ...] = ("binary", "docker")
CLUSTER_SLOTS = 16384
BACKEND_ENV = "RUNBOOK_BACKEND"


def resolve_backend(backend: str = "") -> str:
    """``backend``, else ``$RUNBOOK_BACKEND``, else binary; an unknown name is a one-line error."""
    chosen = backend or os.environ.get(BACKEND_ENV, "") or "binary"
    if chosen not in BACKENDS:
        raise RunbookError(
            f"unknown backend {chosen!r}: choose {', '.join(BACKENDS)} (--backend or ${BACKEND_ENV})"
        )
    return chosen


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

    @classmethod
    def from_directives(
        cls, name: str, role: str, node_dir: Path, directives: dict[str, str], pid: int, container: str = ""
    ) -> Node:
        """The record of a node just started from ``directives`` (ports read from them)."""
        return cls(
            name=name,
            role=role,
            port=int(directives.get("tls-port", "0")),
            plaintext_port=int(directives.get("port", "0")),
            pid=pid,
            dir=str(node_dir),
            tls=directives.get("tls-port", "0") != "0",
            bus_port=int(directives.get("cluster-port", "0")),
            container=container,
        )

    @property
    def endpoint(self) -> Endpoint:
        """The node's TLS port as a client reaches it (``localhost``, verified for ``localhost``), named
        after the node; no client files: give them with :meth:`Endpoint.with_files`."""
        return Endpoint(HOSTNAME, self.port, HOSTNAME, name=self.name)

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
    image: str = ""  # docker backend: the image the nodes run
    server_version: str = ""  # asked of the server binary or the image at start

    @property
    def primary(self) -> Node:
        return self.nodes[0]

    def client_files(self, client: str | None = "redis-client") -> TlsClientFiles:
        return TlsClientFiles.from_pki(self.pki_dir, client)

    def client(self, node: Node | None = None, client: str | None = "redis-client") -> redis.Redis:
        """A mutual-TLS redis-py client to ``node`` (default: the primary)."""
        target = (node or self.primary).endpoint
        return redis_client(target.host, target.port, self.client_files(client))

    def endpoint(self, client: str | None = "redis-client") -> Endpoint:
        """The primary as a notebook's target (``localhost``, verified for ``localhost``)."""
        return replace(self.primary.endpoint, files=self.client_files(client), name="sandbox")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sandbox:
        nodes = [Node(**n) for n in data.get("nodes", [])]
        return cls(**{**data, "nodes": nodes})


def state_path(work: Path) -> Path:
    return workdir.sandbox_dir(work) / STATE_FILE


def status(work: Path | str | None = None) -> Sandbox | None:
    """The recorded sandbox, or None when none was started (dead nodes are still listed)."""
    path = state_path(workdir.work_dir(work))
    if not path.is_file():
        return None
    return Sandbox.from_dict(json.loads(path.read_text()))


def save(box: Sandbox) -> None:
    """Record ``box`` in ``sandbox.json``. Writes a file."""
    path = state_path(Path(box.work_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(box.to_dict(), indent=2) + "\n")
