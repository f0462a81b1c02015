"""A certificate writer process for the watch tests: behaves like the tools that renew files.

    python tests/watch_writer.py replace [--delay S] SRC DST [SRC DST ...]
        rename each SRC's copy over DST (atomic per file), waiting S seconds between files
        (a writer that replaces the certificate first and the key a moment later);
    python tests/watch_writer.py k8s VOLUME SRC NAME [SRC NAME ...]
        what kubelet does to a secret volume: a new timestamped dir ``..2026_...`` with the files,
        a ``..data_tmp`` symlink to it renamed over ``..data`` (one atomic swap), top-level
        symlinks NAME -> ..data/NAME, the previous timestamped dir removed;
    python tests/watch_writer.py delete PATH [PATH ...]

Prints one JSON line ``{"done": <unix time>}`` when finished (the moment the new set is in place).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def _copy_over(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.writer.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def replace(args: list[str]) -> None:
    delay = 0.0
    if args[0] == "--delay":
        delay, args = float(args[1]), args[2:]
    pairs = list(zip(args[::2], args[1::2], strict=True))
    for i, (src, dst) in enumerate(pairs):
        if i:
            time.sleep(delay)
        _copy_over(Path(src), Path(dst))


def k8s(args: list[str]) -> None:
    volume = Path(args[0])
    volume.mkdir(parents=True, exist_ok=True)
    data = volume / "..data"
    old = os.readlink(data) if data.is_symlink() else None
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S", time.gmtime()) + f".{time.monotonic_ns() % 10**9}"
    new_dir = volume / stamp
    new_dir.mkdir()
    names = []
    for src, name in zip(args[1::2], args[2::2], strict=True):
        shutil.copy2(src, new_dir / name)
        names.append(name)
    tmp = volume / "..data_tmp"
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(stamp, tmp)
    os.replace(tmp, data)  # the one atomic swap
    for name in names:
        link = volume / name
        if not link.is_symlink():
            os.symlink(f"..data/{name}", link)
    if old and old != stamp:
        shutil.rmtree(volume / old, ignore_errors=True)


def delete(args: list[str]) -> None:
    for p in args:
        Path(p).unlink()


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    {"replace": replace, "k8s": k8s, "delete": delete}[mode](rest)
    print(json.dumps({"done": time.time()}), flush=True)
