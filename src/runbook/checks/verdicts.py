"""The audit's stable check ids, and how a check family reports a verdict.

Stable check ids (docs/audit-checks.md documents them; the CLI, the notebook and Prometheus use
them): each check owns exactly one concern, so one misconfiguration fails one check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from runbook.results import CheckResult

CHECK_IDS: tuple[str, ...] = (
    "tls-handshake",
    "redis-ping",
    "protocol-floor",
    "tls13-supported",
    "weak-ciphers-refused",
    "client-cert-required",
    "plaintext-refused",
    "hostname-verified",
    "chain-strict",
    "cert-expiry",
    "key-strength",
)

Add = Callable[..., None]
"""``add(check_id, status, detail, fix="")``: how a check family records its verdict."""
_Add = Add


class Verdicts:
    """The verdicts and evidence of one audit run, filled in by the check families."""

    def __init__(self, target: str) -> None:
        self.results: dict[str, CheckResult] = {}
        self.evidence: dict[str, Any] = {"target": target}

    def add(self, check_id: str, status: str, detail: str, fix: str = "") -> None:
        self.results[check_id] = CheckResult(check_id, status, detail, fix)  # type: ignore[arg-type]

    def skip(self, check_ids: Iterable[str], reason: str) -> None:
        for check_id in check_ids:
            self.add(check_id, "skip", reason)

    def ordered(self) -> list[CheckResult]:
        """Every check of :data:`CHECK_IDS`, in that order."""
        return [self.results[c] for c in CHECK_IDS]
