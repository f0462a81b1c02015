"""``runbook watch``: reload Redis when renewed certificate files appear, safely.

cert-manager, ``step ca renew``, certbot or a Vault agent rewrite the files; Redis never re-reads
them by itself. The watcher asks each node which files it reads (``CONFIG GET tls-*``), watches
them (inotify, or polling), waits until a renewed set is settled and consistent, reloads it with
ONE ``CONFIG SET``, verifies a fresh handshake presents the new serial, and rolls back to the
last good copy when the reload or the verification fails. Modules, top down:

``cli`` (the command) -> ``loop`` (passes, settle, order) -> ``reload`` (CONFIG SET, verify,
rollback), ``consistency`` (is the set safe), ``fileset`` (content snapshots), ``state`` (last
good copies), ``observer`` (inotify / poll), ``metrics`` (Prometheus), ``report``, ``target``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use: `runbook --help` does not load redis and cryptography
    from runbook.watch.loop import Watcher, watch, watch_once
    from runbook.watch.report import NodeStatus, WatchEvent, WatchReport
    from runbook.watch.target import WatchTarget, parse_node

_HOME = {
    "Watcher": "loop",
    "watch": "loop",
    "watch_once": "loop",
    "NodeStatus": "report",
    "WatchEvent": "report",
    "WatchReport": "report",
    "WatchTarget": "target",
    "parse_node": "target",
}
__all__ = [
    "NodeStatus",
    "WatchEvent",
    "WatchReport",
    "WatchTarget",
    "Watcher",
    "parse_node",
    "watch",
    "watch_once",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"runbook.watch.{_HOME[name]}"), name)
    raise AttributeError(f"module 'runbook.watch' has no attribute {name!r}")
