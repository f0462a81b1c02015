"""Applying a rotation: backup, atomic swap, the ONE ``CONFIG SET`` reload, verify, rollback.

:class:`Rotation` does it node by node, each node verified before the next: every file about to
change is copied to ``<pki>/backups/<UTC stamp>/``, the new files are staged beside the old and
renamed over them, one ``CONFIG SET`` naming the node's TLS files reloads them, and a fresh
strict handshake, a connection opened before the reload, replication links and the cluster state
are checked. On the first failure the backup is restored byte for byte and every node touched so
far is reloaded and shown serving its old certificate again. Writes files, touches servers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runbook import files, pki
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError
from runbook.rotation.report import Fault, RotationReport
from runbook.rotation.targets import NodeTarget, call
from runbook.rotation.verify import Verifier


def reload_tls(client: redis.Redis, settings: Sequence[tuple[str, str]]) -> None:
    """Reload TLS with ONE ``CONFIG SET`` naming every file in ``settings``. Touches the server.

    Redis 7 takes several parameters in one atomic call. Redis 6.2 takes one: naming any TLS
    file re-reads all of them, so the first one is enough there.
    """
    args = [part for pair in settings for part in pair]
    try:
        call(client, "CONFIG", "SET", *args)
    except redis.ResponseError as exc:
        if len(settings) > 1 and "number of arguments" in str(exc).lower():
            call(client, "CONFIG", "SET", *settings[0])
        else:
            raise


@dataclass
class NodeWork:
    """One node's share of a rotation: files to write, ``CONFIG SET`` pairs, certificates after/before.

    ``restore_settings``: the ``CONFIG SET`` pairs that put the node back on a rollback when the
    change points it at other paths (a new link certificate file); None: ``settings`` again (same
    paths, their old bytes restored from the backup).
    """

    node: NodeTarget
    writes: list[files.PlannedWrite]
    settings: list[tuple[str, str]]
    expect: x509.Certificate | None  # certificate the node must present after the reload
    old: x509.Certificate | None
    relink: bool = False
    restore_settings: list[tuple[str, str]] | None = None


class _Failed(Exception):
    """A reload or verification failed: roll back."""


class Rotation(Verifier):
    """Shared machinery: backup, per-node swap + reload + verify (see :class:`Verifier`), rollback."""

    def __init__(
        self,
        report: RotationReport,
        paths: pki.PkiPaths,
        tls: Callable[[], TlsClientFiles],
        nodes: Sequence[NodeTarget],
        server_hostname: str | None,
        fault: Fault | None,
        relink: bool,
    ) -> None:
        super().__init__(report, tls, nodes, server_hostname)
        self.paths = paths
        self.fault = fault
        self.relink = relink
        self.backup_dir: Path | None = None
        self.done: list[NodeWork] = []
        self.root: Path = paths.root

    def backup(self, work: Sequence[NodeWork], extra: Sequence[Path] = ()) -> tuple[Path | None, Path]:
        targets = list(dict.fromkeys([w.path for nw in work for w in nw.writes] + list(extra)))
        root = (
            Path(os.path.commonpath([str(p.resolve().parent) for p in targets]))
            if targets
            else self.paths.root
        )
        backup_dir = files.backup([p.resolve() for p in targets], root, self.paths.root / "backups")
        self.report.backup = str(backup_dir) if backup_dir else None
        self.report.add("backup", "pass", f"{len(targets)} files copied to backups/<UTC stamp>/ (modes kept)")
        return backup_dir, root

    def run(self, work: Sequence[NodeWork], extra_writes: Sequence[files.PlannedWrite] = ()) -> bool:
        """Swap, reload and verify node by node; roll everything back on the first failure."""
        backup_dir, root = self.backup(work, [w.path for w in extra_writes])
        self.backup_dir, self.root = backup_dir, root
        written: set[Path] = set()
        done: list[NodeWork] = []
        try:
            if extra_writes:
                files.write_all(list(extra_writes))
                written.update(w.path.resolve() for w in extra_writes)
                self.report.add(
                    "swap:clients", "pass", f"{len(extra_writes)} client files renamed into place"
                )
            for nw in work:
                done.append(nw)
                self._swap(nw, written)
                if self.fault == "reload" and nw is work[0]:
                    self._inject_reload_fault(nw)
                if not self._reload(nw) or not self._verify(nw):
                    raise _Failed()
        except _Failed:
            self.rollback(done, backup_dir, root)
            return False
        except (OSError, RunbookError, redis.RedisError) as exc:
            self.report.add(
                "error", "fail", " ".join(str(exc).split())[:200], "rolled back; fix the cause and retry"
            )
            self.rollback(done, backup_dir, root)
            return False
        self.done = done
        return True

    def _swap(self, nw: NodeWork, written: set[Path]) -> None:
        """Stage the node's files beside the old ones and rename them over (once per shared file)."""
        pending = [w for w in nw.writes if w.path.resolve() not in written]
        if pending:
            files.write_all(pending)
            written.update(w.path.resolve() for w in pending)
        self.report.add(
            f"swap:{nw.node.name}",
            "pass",
            f"{len(pending)} files staged beside the old ones and renamed over them"
            if pending
            else "files already in place (shared with an earlier node)",
        )

    def _inject_reload_fault(self, nw: NodeWork) -> None:
        """Drill: a key that does not match lands on disk between preflight and reload."""
        key_path = nw.node.local(nw.node.key_file)
        stray = pki.generate_key("ecdsa-p256").private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        files.write_file(key_path, stray, files.PRIVATE)
        self.report.add("drill:reload-fault", "warn", "a mismatched key was put on disk before the reload")

    def _reload(self, nw: NodeWork) -> bool:
        if not nw.settings:
            return True
        client = self.clients[nw.node.name]
        names = " ".join(k for k, _ in nw.settings)
        try:
            reload_tls(client, nw.settings)
        except redis.RedisError as exc:
            self.report.add(
                f"reload:{nw.node.name}",
                "fail",
                f"CONFIG SET {names} refused: {' '.join(str(exc).split())[:160]}",
                "the backup is restored automatically; read the server log",
            )
            return False
        self.report.add(f"reload:{nw.node.name}", "pass", f"one CONFIG SET {names}")
        return True

    def _verify(self, nw: NodeWork, *, prefix: str = "verify") -> bool:
        node = nw.node
        ok = self.check_served(node, nw.expect, prefix) if nw.expect is not None else True
        ok = self.check_old_connection(node, prefix) and ok
        if not ok and prefix != "rollback":
            return False  # roll back at once: no wait for links while the node serves the wrong files
        ok = self.check_links(node, relink=self.relink and nw.relink, prefix=prefix) and ok
        return ok

    def rollback(self, done: Sequence[NodeWork], backup_dir: Path | None, root: Path) -> None:
        self.report.rolled_back = True
        if backup_dir is not None:
            restored = files.restore(backup_dir, root)
            self.report.add("rollback:restore", "pass", f"{len(restored)} files restored byte for byte")
        for nw in done:
            settings = nw.settings if nw.restore_settings is None else nw.restore_settings
            back = NodeWork(nw.node, [], settings, nw.old, nw.old, nw.relink)
            if not settings:
                continue
            try:
                reload_tls(self.clients[nw.node.name], settings)
                self.report.add(
                    f"rollback:{nw.node.name}:reload", "pass", "old files reloaded with one CONFIG SET"
                )
            except redis.RedisError as exc:
                self.report.add(
                    f"rollback:{nw.node.name}:reload",
                    "fail",
                    f"reload of the restored files refused: {' '.join(str(exc).split())[:120]}",
                    f"restore from {backup_dir} by hand and reload",
                )
            self._verify(back, prefix="rollback")
