"""``bench``: what TLS costs on this machine (:mod:`runbook.bench`)."""

from __future__ import annotations

import argparse

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json
from runbook.results import all_ok, as_dicts


def _cmd_bench(a: argparse.Namespace) -> int:
    from runbook import bench

    report = bench.measure(a.work_dir, "quick" if a.quick else a.profile)
    results = bench.checks(report)
    if a.plot:
        bench.plot(report, a.plot)
    if a.json:
        print_json({**report.to_dict(), "ok": all_ok(results), "checks": as_dicts(results)})
    else:
        for table in bench.tables(report):
            print(table.text(display.TERMINAL_WIDTH), end="\n\n")
        print(display.checks_table(results, "Verdict").text(display.TERMINAL_WIDTH))
        if a.plot:
            print(f"\nplot: {a.plot}")
    return EXIT_OK if all_ok(results) else EXIT_FAILED


def register(sub: Subparsers) -> None:
    from runbook.bench import PROFILES

    p = sub.add_parser("bench", help="measure what TLS costs: throughput, handshakes, resumption, pooling")
    p.add_argument("--quick", action="store_true", help="the short profile (seconds, not minutes)")
    p.add_argument(
        "--profile", default="full", choices=list(PROFILES), help="how much to measure (default full)"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", metavar="FILE", help="write the plots as a PNG file")
    p.add_argument("--work-dir", help="state dir for the bench PKIs and servers (default $RUNBOOK_WORK_DIR)")
    p.set_defaults(func=_cmd_bench)
