"""The two result types of a diagnosis: what an attempt produced (:class:`Outcome`) and the
verdict on it (:class:`Diagnosis`). Plain data, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
