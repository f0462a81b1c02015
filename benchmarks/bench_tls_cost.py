"""What TLS costs, measured with the full profile: prints the tables and the headline figures.

Usage::

    .venv/bin/python benchmarks/bench_tls_cost.py [--profile full|quick] [--json FILE] [--plot FILE]

It starts its own loopback redis-servers (see ``runbook.bench``) in a temporary work dir and
stops them. The figures it prints are what docs/figures.md quotes; they are compared with the
targets of the issue (ECDSA P-256 >= 4x RSA-4096 new connections; resumed >= 2x full
handshakes; the runbook's settings no slower than the guide's on every workload) and each
target is reported as met or not met: a benchmark states what it saw, it does not fail a build.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from runbook import bench, display

TARGET_ECDSA_OVER_RSA4096 = 4.0
TARGET_RESUMED_OVER_FULL = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", choices=list(bench.PROFILES))
    parser.add_argument("--json", help="also write the whole report as JSON to this file")
    parser.add_argument("--plot", help="also write the plots as a PNG file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-tls-cost-") as tmp:
        report = bench.measure(Path(tmp), args.profile, progress=True)
    print(
        f"redis {report.redis_version}, {report.openssl}, {report.cpus} CPUs, {platform.machine()}, "
        f"profile {report.profile}, {report.seconds:.0f}s\n"
    )
    for table in bench.tables(report):
        print(table.text(), end="\n\n")
    print(display.checks_table(bench.checks(report), "Verdict (tolerant thresholds)").text(), end="\n\n")

    ratio = bench.handshake_ratio(report) or 0.0
    resumed = {
        f"{kt} {p}": bench.resumption_ratio(report, kt, p) or 0.0
        for kt in (bench.RUNBOOK_KEY, bench.GUIDE_KEY)
        for p in bench.PROTOCOLS
    }
    rows = [
        (
            "ECDSA P-256 / RSA-4096 new connections (server CPU)",
            f"{ratio:.2f}x",
            f">= {TARGET_ECDSA_OVER_RSA4096}x",
            ratio >= TARGET_ECDSA_OVER_RSA4096,
        ),
        *[
            (
                f"resumed / full handshakes, {name} (server CPU)",
                f"{value:.2f}x",
                f">= {TARGET_RESUMED_OVER_FULL}x",
                value >= TARGET_RESUMED_OVER_FULL,
            )
            for name, value in resumed.items()
        ],
        *[
            (
                f"runbook / guide: {c.workload}",
                f"{c.speedup:.2f}x ops/s, {c.cpu_saving or 0:.2f}x server CPU",
                ">= 1x",
                c.speedup >= 1.0 or (c.cpu_saving or 0) >= 1.0,
            )
            for c in report.comparison
        ],
    ]
    print(
        display.Table(
            ["figure", "measured", "issue target", "met"],
            [(n, m, t, "met" if ok else "NOT met") for n, m, t, ok in rows],
            "Figures against the issue's targets",
        ).text()
    )
    print("\n" + json.dumps(bench.figures(report), indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    if args.plot:
        bench.plot(report, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
