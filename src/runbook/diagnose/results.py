"""The two result types of a diagnosis: what an attempt produced (:class:`Outcome`) and the
verdict on it (:class:`Diagnosis`). Plain data, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Causes under which Redis-compatible clients (redis-cli, OpenSSL's defaults) connect and only strict
#: clients refuse: findings with their fix, never a broken connection.
STRICT_ONLY = ("ca-not-strict", "server-name-cn-only", "chain-not-strict")


@dataclass(frozen=True)
class Diagnosis:
    """One-line verdict on a connection attempt. ``cause`` is a stable id (see :data:`CAUSES`)."""

    cause: str
    summary: str
    evidence: list[str]
    fix: str
    notebook: str = ""

    @property
    def ok(self) -> bool:
        return self.cause == "ok"

    @property
    def connects(self) -> bool:
        """Redis-compatible clients connect: ``ok``, or only strict clients refuse (:data:`STRICT_ONLY`)."""
        return self.ok or self.cause in STRICT_ONLY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    """What one attempt produced: an error (or none), how far it got, and facts from probes."""

    error: BaseException | None = None
    stage: str = ""  # connect | handshake | command | replication | "" (unknown)
    reply: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None
