"""Notebook 06's steps: the benchmark's PKIs, the measurement (sandbox only), its verdicts."""

from __future__ import annotations

from runbook import bench, pki
from runbook.book.target import Target
from runbook.results import CheckResult


def bench_pkis(target: Target) -> dict[str, pki.PkiPaths]:
    """The benchmark's own PKI per key type (kept for the next run); none under the external target."""
    return target.local(lambda: {kt: bench.bench_pki(target.work, kt) for kt in bench.KEY_TYPES}) or {}


def measure(target: Target, profile: bench.Profile) -> bench.BenchReport | None:
    """Run the benchmark on its own loopback servers; None (skipped) under the external target."""
    return target.local(bench.measure, target.work, profile, progress=True)


def bench_checks(report: bench.BenchReport | None) -> dict[str, CheckResult]:
    """The verdicts by id: measured ones, or every one ``skip`` with the reason when nothing ran."""
    found = bench.checks(report) if report is not None else bench.skipped_checks()
    return {c.id: c for c in found}


def measure_line(report: bench.BenchReport | None) -> str:
    """One line on what was measured (or why nothing was)."""
    if report is None:
        return bench.EXTERNAL_SKIP
    connections = sum(h.connections for h in report.handshakes)
    return (
        f"profile {report.profile}: {len(report.throughput)} throughput runs, "
        f"{connections} new connections, {report.seconds:.1f} s"
    )
