"""A snapshot of the files a node reads, by content: read through symlinks, one SHA-256 per file.

Writers change files in many ways: rename over (``mv``), truncate and rewrite, or swap a whole
directory at once (a Kubernetes secret volume renames a new ``..data`` symlink over the old one,
and every file is a symlink through ``..data``). Modification times say little across these
(a rename keeps the source's mtime; two writes within the clock's resolution look equal), so
changes are found by comparing content digests only. Nothing here writes.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from runbook.watch.target import NodeFiles


@dataclass(frozen=True)
class Snapshot:
    """The bytes and digests of a node's files at one moment; ``missing`` lists roles that could not
    be read (deleted, dangling symlink, unreadable) with the reason."""

    data: dict[str, bytes] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        """A comparable identity of the whole set (roles and digests)."""
        return tuple(sorted(self.digests.items()))

    @property
    def complete(self) -> bool:
        return not self.missing


def read(files: NodeFiles) -> Snapshot:
    """Read every file the node uses (following symlinks). Reads files only."""
    data: dict[str, bytes] = {}
    missing: dict[str, str] = {}
    for role in files.roles:
        path = files.local(role)
        try:
            data[role] = path.read_bytes()
        except FileNotFoundError:
            missing[role] = f"{path} is missing" + (" (dangling symlink)" if path.is_symlink() else "")
        except OSError as exc:
            missing[role] = f"{path} cannot be read ({exc.strerror or exc})"
    digests = {r: hashlib.sha256(b).hexdigest() for r, b in data.items()}
    return Snapshot(data, digests, missing)


def watch_dirs(files: NodeFiles) -> set[Path]:
    """The directories whose changes may change the files: each path's own directory (where a
    ``..data`` symlink or a renamed-over file changes) and the directory it resolves to."""
    dirs: set[Path] = set()
    for role in files.roles:
        path = files.local(role)
        dirs.add(path.parent.absolute())
        with contextlib.suppress(OSError):
            dirs.add(path.resolve(strict=True).parent)
    return {d for d in dirs if d.is_dir()}
