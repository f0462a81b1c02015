"""``runbook watch``: reload Redis when renewed certificate files appear, safely."""

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


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"runbook.watch.{_HOME[name]}"), name)
    raise AttributeError(f"module 'runbook.watch' has no attribute {name!r}")
