"""The watcher's state dir: a copy of the last good set of each node, to roll back to.

``<state>/<host>_<port>/good/`` holds the files the node last served successfully (keys 0600,
folders 0700, written atomically); ``origin.json`` records the paths the node read before any
rollback. A rollback points the server at these copies (``CONFIG SET`` naming them) so the old
certificate keeps being served even though the operator's files are broken; the server must be
able to read the state dir (same user, or a shared volume in Kubernetes). Writes files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from runbook import files
from runbook.watch.fileset import Snapshot
from runbook.watch.target import PARAMETER, ROLES, WatchTarget

FILE_NAMES: dict[str, str] = {
    "cert": "cert.pem",
    "key": "key.pem",
    "client_cert": "client-cert.pem",
    "client_key": "client-key.pem",
    "ca": "ca.pem",
}
PRIVATE_ROLES = ("key", "client_key")


def default_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "redis-tls-runbook" / "watch"


class StateDir:
    """Per-node folders under ``root`` (created 0700)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()

    def node_dir(self, target: WatchTarget) -> Path:
        safe = f"{target.endpoint.host}_{target.endpoint.port}".replace(":", "_").replace("/", "_")
        return files.ensure_private_dir(self.root / safe)

    def good_dir(self, target: WatchTarget) -> Path:
        return self.node_dir(target) / "good"

    def contains(self, path: Path) -> bool:
        return path.absolute().is_relative_to(self.root)

    def save_good(self, target: WatchTarget, snapshot: Snapshot) -> Path:
        """Replace the node's last good copy with ``snapshot`` (staged in a temp folder, then renamed)."""
        node = self.node_dir(target)
        tmp, old, good = node / ".good.tmp", node / ".good.old", node / "good"
        shutil.rmtree(tmp, ignore_errors=True)
        files.ensure_private_dir(tmp)
        files.write_all(
            [
                files.PlannedWrite(
                    tmp / FILE_NAMES[r], data, files.PRIVATE if r in PRIVATE_ROLES else files.PUBLIC
                )
                for r, data in snapshot.data.items()
            ]
        )
        shutil.rmtree(old, ignore_errors=True)
        if good.exists():
            good.rename(old)
        tmp.rename(good)
        shutil.rmtree(old, ignore_errors=True)
        return good

    def load_good(self, target: WatchTarget) -> Snapshot | None:
        """The last good copy (or the previous one, if a save was interrupted), or None."""
        node = self.node_dir(target)
        for folder in (node / "good", node / ".good.old"):
            if (folder / FILE_NAMES["cert"]).is_file():
                data = {r: (folder / n).read_bytes() for r, n in FILE_NAMES.items() if (folder / n).is_file()}
                return Snapshot(data, {r: hashlib.sha256(b).hexdigest() for r, b in data.items()})
        return None

    def good_settings(self, target: WatchTarget, roles: list[str]) -> list[tuple[str, str]] | None:
        """``CONFIG SET`` pairs pointing the server at the good copy, or None without a full copy."""
        good = self.good_dir(target)
        paths = {r: good / FILE_NAMES[r] for r in roles}
        if not all(p.is_file() for p in paths.values()):
            return None
        return [(PARAMETER[r], str(paths[r])) for r in roles]

    def save_origin(self, target: WatchTarget, reported: dict[str, str]) -> None:
        path = self.node_dir(target) / "origin.json"
        files.write_file(path, json.dumps({r: reported.get(r, "") for r in ROLES}).encode(), files.PRIVATE)

    def load_origin(self, target: WatchTarget) -> dict[str, str] | None:
        path = self.node_dir(target) / "origin.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None
