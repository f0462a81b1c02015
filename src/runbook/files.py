"""Safe file writes: private from the first byte, atomic, never silently overwriting.

Private keys are created with mode 0600 by ``os.open`` (no chmod afterwards), written to a
temporary file in the destination directory and renamed over the target, so a reader never
sees a partial file; run as root, a replacement keeps the owner of the file it replaces. :func:`write_all` stages a whole set of files before renaming any, so a
failure part-way leaves nothing behind. :func:`backup` copies files into a timestamped folder
before they are replaced.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRIVATE = 0o600
PUBLIC = 0o644


@dataclass(frozen=True)
class PlannedWrite:
    """One file to write: where, what, and with which mode."""

    path: Path
    data: bytes
    mode: int = PUBLIC


def utc_stamp(now: float | None = None) -> str:
    """A sortable UTC timestamp for folder names, e.g. ``20261128T162300Z``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def first_unreadable(named: Iterable[tuple[str, str]]) -> tuple[str, str, str] | None:
    """The first ``(label, path)`` this user cannot read, as ``(label, path, why)``; None when all
    can be read (empty paths are skipped). Reads one byte of each file."""
    for label, path in named:
        if not path:
            continue
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            return label, path, exc.strerror or type(exc).__name__
    return None


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 if missing; return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _stage(item: PlannedWrite) -> Path:
    """Write ``item`` to a fresh temp file beside its target, created with its final mode."""
    item.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = item.path.with_name(f".{item.path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, item.mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(item.data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    # os.open honours the umask, which can only narrow the mode; widen nothing here.
    _keep_owner(tmp, item.path)
    return tmp


def _keep_owner(tmp: Path, target: Path) -> None:
    """As root, give a replacement the owner and group of the file it replaces (a key the server's
    own user reads, e.g. ``redis`` or a container's uid, stays readable to it after a rotation)."""
    if os.geteuid() != 0:
        return
    try:
        st = target.stat()
    except OSError:
        return
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_all(items: Sequence[PlannedWrite]) -> list[Path]:
    """Atomically write every item: all are staged first, then renamed into place.

    If staging any file fails, every staged temp file is removed and no target is touched.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for item in items:
            staged.append((_stage(item), item.path))
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    return [target for _, target in staged]


def write_file(path: Path, data: bytes, mode: int = PUBLIC) -> Path:
    """Atomically write one file with ``mode`` from its first byte."""
    return write_all([PlannedWrite(path, data, mode)])[0]


def write_prometheus_textfile(registry: Any, path: Path | str) -> Path:
    """Write a prometheus_client registry as a node_exporter textfile: atomically (temp file +
    rename), mode 0644, into a directory that must exist. Writes a file; idempotent."""
    from prometheus_client import generate_latest

    target = Path(path)
    if not target.parent.is_dir():
        from runbook.errors import RunbookError

        raise RunbookError(
            f"directory {target.parent} does not exist: create it or give another --prometheus"
        )
    return write_file(target, generate_latest(registry), PUBLIC)


def backup(files: Iterable[Path], root: Path, backups_dir: Path | None = None) -> Path | None:
    """Copy the existing ``files`` (paths under ``root``) to ``backups/<UTC stamp>/``.

    Relative layout and file modes are kept (private files stay 0600 from the first byte).
    Returns the backup folder, or ``None`` when none of the files exists.
    """
    existing = [f for f in files if f.exists()]
    if not existing:
        return None
    base = backups_dir if backups_dir is not None else root / "backups"
    ensure_private_dir(base)
    stamp = utc_stamp()
    dest = base / stamp
    n = 1
    while dest.exists():
        dest = base / f"{stamp}-{n}"
        n += 1
    ensure_private_dir(dest)
    writes = []
    for f in existing:
        rel = f.resolve().relative_to(root.resolve()) if f.is_absolute() else f
        writes.append(PlannedWrite(dest / rel, f.read_bytes(), f.stat().st_mode & 0o777))
    write_all(writes)
    return dest


def restore(backup_dir: Path, root: Path) -> list[Path]:
    """Put every file of ``backup_dir`` back under ``root`` byte for byte (atomic, modes kept)."""
    writes = [
        PlannedWrite(root / p.relative_to(backup_dir), p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(backup_dir.rglob("*"))
        if p.is_file()
    ]
    return write_all(writes)
