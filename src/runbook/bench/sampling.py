"""How one figure is taken: loops bounded by a count and a time, the server's CPU time (Linux
per-thread accounting of the ``redis-server`` process), the client's, and medians of repeats."""

from __future__ import annotations

import contextlib
import glob
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by all threads of ``pid`` (Linux schedstat, ns precision), or None."""
    stats = glob.glob(f"/proc/{pid}/task/*/schedstat")
    if not stats:
        return None
    total = 0
    for path in stats:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(path).read_text().split()[0])
    return total / 1e9


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def per_op(delta: float | None, ops: int, scale: float) -> float | None:
    return None if delta is None or ops <= 0 else delta / ops * scale


def cpu_delta(pid: int, before: float | None) -> float | None:
    after = server_cpu_seconds(pid)
    return None if before is None or after is None else after - before


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def median_opt(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def bounded(fn: Callable[[], Any], count: int, max_seconds: float) -> tuple[int, float]:
    """Call ``fn`` up to ``count`` times or until ``max_seconds`` passed (at least once)."""
    done, start = 0, time.perf_counter()
    while done < count and (done == 0 or time.perf_counter() - start < max_seconds):
        fn()
        done += 1
    return done, time.perf_counter() - start
