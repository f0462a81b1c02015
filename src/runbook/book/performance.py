"""Notebook 06's steps: the benchmark's PKIs, the measurement (sandbox only), its tables, plot and verdicts.

:func:`setup` turns the notebook's parameters into a :class:`BenchRun` (the target and the profile,
both validated, nothing started); every later step takes it or the report it measured. Under the
external target nothing is measured (the benchmark starts its own loopback servers): the report is
None, each table and the plot are None, and the verdicts are ``skip`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook import bench, display, pki, sandbox
from runbook.book.target import Target, from_params
from runbook.results import CheckResult


@dataclass(frozen=True)
class BenchRun:
    """What notebook 06 measures against (the target) and how much (the profile)."""

    target: Target
    profile: bench.Profile

    @property
    def work(self) -> Path:
        return self.target.work


def setup(
    work_dir: str | Path | None,
    profile: str = "quick",
    target: str = "sandbox",
    redis_host: str = "",
    redis_port: int = 0,
    server_name: str = "",
    ca_file: str = "",
    client_cert: str = "",
    client_key: str = "",
    *,
    backend: str = "",
) -> BenchRun:
    """The notebook's parameters checked (an unknown profile or target raises one line); starts nothing."""
    chosen = bench.profile(profile)
    tgt = from_params(
        work_dir,
        target,
        redis_host,
        redis_port,
        server_name,
        ca_file,
        client_cert,
        client_key,
        backend=backend,
    )
    return BenchRun(tgt, chosen)


def bench_pkis(run: BenchRun) -> dict[str, pki.PkiPaths]:
    """The benchmark's own PKI per key type (written once, kept for the next run); none under the external
    target. Finds ``redis-benchmark`` first: its absence raises, naming the package to install."""
    bench.redis_benchmark_binary()
    return run.target.local(lambda: {kt: bench.bench_pki(run.work, kt) for kt in bench.KEY_TYPES}) or {}


def pki_rows(pkis: dict[str, pki.PkiPaths]) -> list[tuple[str, str, str]]:
    """(bench PKI, server key type, client key type) per benchmark PKI."""
    return [
        (kt, pki.inspect(p.server_cert).key_type, pki.inspect(p.client_cert()).key_type)
        for kt, p in pkis.items()
    ]


def redis_server_version() -> tuple[int, int, int]:
    """The local ``redis-server``'s version, e.g. (7, 0, 15)."""
    return sandbox.redis_server_version()


def measure(run: BenchRun) -> bench.BenchReport | None:
    """Run the benchmark on its own loopback servers (starts and stops processes); None (skipped) under
    the external target."""
    return run.target.local(bench.measure, run.work, run.profile, progress=True)


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


def cost_table(report: bench.BenchReport | None) -> display.Table | None:
    """Plaintext vs TLS per workload (None when nothing was measured)."""
    return bench.cost_table(report) if report else None


def throughput_table(report: bench.BenchReport | None) -> display.Table | None:
    """Every redis-benchmark run (None when nothing was measured)."""
    return bench.throughput_table(report) if report else None


def handshake_table(report: bench.BenchReport | None) -> display.Table | None:
    """New connections per second by certificate key type (None when nothing was measured)."""
    return bench.handshake_table(report) if report else None


def resumption_table(report: bench.BenchReport | None) -> display.Table | None:
    """Full vs resumed handshakes (None when nothing was measured)."""
    return bench.resumption_table(report) if report else None


def pooling_table(report: bench.BenchReport | None) -> display.Table | None:
    """Pooled redis-py vs a connection per command (None when nothing was measured)."""
    return bench.pooling_table(report) if report else None


def comparison_table(report: bench.BenchReport | None) -> display.Table | None:
    """The runbook's settings vs a common guide's (None when nothing was measured)."""
    return bench.comparison_table(report) if report else None


def claim_line(report: bench.BenchReport | None) -> str:
    """For how many workloads the "TLS costs 5-10%" claim held here."""
    rows = bench.cost_rows(report) if report else []
    return f"the 5-10% claim held for {sum(r['claim_holds'] for r in rows)} of {len(rows)} workloads measured here"


def plot(report: bench.BenchReport | None, work: Path, show: bool = True) -> Any:
    """Draw the report to ``<work>/bench/tls_cost.png`` (writes a file) and return it as an image to show;
    None when nothing was measured or ``show`` is False."""
    if report is None:
        return None
    path = work / "bench" / "tls_cost.png"
    bench.plot(report, path)
    if not show:
        return None
    from IPython.display import Image

    return Image(filename=str(path))  # type: ignore[no-untyped-call]
