"""Start, stop, status and reload of the whole sandbox (the functions notebooks and the CLI call).

Ports are free loopback ports chosen at start. Readiness is proven by a real mutual-TLS PING,
never by sleeping. :func:`ensure` is idempotent so every notebook can call it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from runbook import config, workdir
from runbook.errors import RunbookError
from runbook.pki import PkiPaths
from runbook.results import as_dicts
from runbook.sandbox.binary import check_binary
from runbook.sandbox.engine import image_info
from runbook.sandbox.link_checks import links
from runbook.sandbox.nodes import node_alive, stop_node
from runbook.sandbox.state import TOPOLOGIES, Sandbox, resolve_backend, save, state_path, status
from runbook.sandbox.topologies import start_topology


def start(
    work: Path | str | None = None,
    topology: str = "standalone",
    backend: str = "",
    *,
    image: str | None = None,
    pull: bool = False,
) -> Sandbox:
    """Start a fresh sandbox (stopping any recorded one first). Starts processes (or containers).

    ``standalone``: one TLS-only primary. ``replica``: a primary and a replica replicating over
    TLS (``master_link_status:up`` verified). ``cluster``: three primaries with ``tls-cluster yes``,
    all 16384 slots assigned, ``cluster_state:ok`` verified on every node.

    ``backend`` "" means ``$RUNBOOK_BACKEND`` or binary; never falls back to another backend.
    ``docker`` runs ``image`` (default ``$RUNBOOK_REDIS_IMAGE`` or the locally built one), pulled
    only with ``pull``; the Redis version is asked of the image.
    """
    backend = resolve_backend(backend)
    if topology not in TOPOLOGIES:
        raise RunbookError(f"unknown topology {topology!r}: choose {', '.join(TOPOLOGIES)}")
    wd = workdir.work_dir(work)
    stop(wd)
    pki = PkiPaths(workdir.pki_dir(wd))
    if not pki.server_cert.exists():
        raise RunbookError(f"no server certificate in {pki.root}: run notebook 01 or `runbook pki create`")
    if backend == "binary":
        version, image_name = check_binary(), ""
    else:
        info = image_info(image, pull=pull)
        version, image_name = info.version, info.image
    if topology != "standalone":
        config.ensure_node_client(pki.root)
    box = Sandbox(topology, backend, str(wd), str(pki.root), [], image_name, ".".join(map(str, version)))
    try:
        start_topology(box, wd, pki, version)
    except BaseException:
        for node in box.nodes:
            stop_node(node)
        raise
    save(box)
    return box


def ensure(work: Path | str | None = None, topology: str = "standalone", backend: str = "") -> Sandbox:
    """Return the running sandbox if it is healthy, of ``topology`` and ``backend``; otherwise start one."""
    backend = resolve_backend(backend)
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
        **({"image": box.image} if box.image else {}),
        "server_version": box.server_version,
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
