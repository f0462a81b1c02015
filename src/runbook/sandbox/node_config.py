"""The redis.conf of a sandbox node: the strict TLS section on loopback, nothing persisted."""

from __future__ import annotations

from pathlib import Path

from runbook import config
from runbook.pki import PkiPaths


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
    """Directives (already quoted values) -> redis.conf lines."""
    return config.conf_text(directives)
