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
        **_in_folder(node_dir),
        "protected-mode": "yes",
    }


def served_conf(
    node_dir: Path,
    tls_port: int,
    cert: Path,
    key: Path,
    ca: Path,
    *,
    bind: str = "127.0.0.1 ::1",
    **extra: str,
) -> dict[str, str]:
    """The directives of a mutual-TLS-only node serving files the runbook did not make (an operator's
    deployment, the adoption notebook's guide PKI, the test corpus): TLS 1.2+1.3 on ``tls_port``, nothing
    persisted. ``extra``: more directives, ``_`` for ``-`` (e.g. ``replicaof="127.0.0.1 6380"``)."""
    return {
        "bind": bind,
        "port": "0",
        "tls-port": str(tls_port),
        "tls-cert-file": str(cert),
        "tls-key-file": str(key),
        "tls-ca-cert-file": str(ca),
        "tls-auth-clients": "yes",
        "tls-protocols": '"TLSv1.2 TLSv1.3"',
        **_in_folder(node_dir),
        **{k.replace("_", "-"): v for k, v in extra.items()},
    }


def _in_folder(node_dir: Path) -> dict[str, str]:
    """A node kept in its own folder (config, log, pid), in the foreground, nothing persisted."""
    return {
        "dir": str(node_dir),
        "logfile": str(node_dir / "redis.log"),
        "pidfile": str(node_dir / "redis.pid"),
        "daemonize": "no",
        "save": '""',
        "appendonly": "no",
    }


def conf_text(directives: dict[str, str]) -> str:
    """Directives (already quoted values) -> redis.conf lines."""
    return config.conf_text(directives)
