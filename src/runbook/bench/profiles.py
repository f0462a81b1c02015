"""The workloads: how much each profile (``smoke``, ``quick``, ``full``) measures. Every loop is
bounded by a count and by a time limit."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from runbook.errors import RunbookError


@dataclass(frozen=True)
class Profile:
    """How much to measure. Every loop is bounded by a count and by ``max_seconds``."""

    name: str
    requests: int  # redis-benchmark -n without pipelining
    pipeline_requests: int  # redis-benchmark -n with pipelining
    tests: tuple[str, ...]  # redis-benchmark -t
    clients: tuple[int, ...]  # redis-benchmark -c
    pipelines: tuple[int, ...]  # redis-benchmark -P
    handshakes: int  # new connections per key type / resumption series
    churn_requests: int  # redis-benchmark -k 0 (a new connection per request)
    python_commands: int  # commands through a pooled redis-py client
    per_command: int  # redis-py commands with a new client (connection) each
    repeats: int  # each measurement is repeated, the median is kept
    max_seconds: float  # bound of one Python measurement loop
    timeout: float  # bound of one redis-benchmark run

    def __post_init__(self) -> None:
        counts = (
            self.requests,
            self.pipeline_requests,
            self.handshakes,
            self.churn_requests,
            self.per_command,
        )
        if min(counts) < 1 or self.python_commands < 1 or self.repeats < 1:
            raise RunbookError(f"profile {self.name!r} needs counts >= 1: fix its numbers")
        if not self.tests or not self.clients or not self.pipelines:
            raise RunbookError(f"profile {self.name!r} needs tests, clients and pipelines: fix its lists")


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke",
        requests=300,
        pipeline_requests=1600,
        tests=("get",),
        clients=(4,),
        pipelines=(1, 16),
        handshakes=3,
        churn_requests=8,
        python_commands=20,
        per_command=2,
        repeats=1,
        max_seconds=2.0,
        timeout=60.0,
    ),
    "quick": Profile(
        "quick",
        requests=4000,
        pipeline_requests=24000,
        tests=("get",),
        clients=(10,),
        pipelines=(1, 16),
        handshakes=10,
        churn_requests=16,
        python_commands=200,
        per_command=8,
        repeats=1,
        max_seconds=1.5,
        timeout=60.0,
    ),
    "full": Profile(
        "full",
        requests=50000,
        pipeline_requests=400000,
        tests=("get", "set"),
        clients=(1, 50),
        pipelines=(1, 16),
        handshakes=120,
        churn_requests=200,
        python_commands=3000,
        per_command=20,
        repeats=3,
        max_seconds=15.0,
        timeout=300.0,
    ),
}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise RunbookError(f"unknown bench profile {name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def with_profile(base: str, **changes: Any) -> Profile:
    """A copy of a named profile with some numbers changed (e.g. for tests)."""
    return replace(profile(base), **changes)
