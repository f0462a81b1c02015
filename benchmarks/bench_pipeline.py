"""Full headless run of every notebook (sandbox target, default parameters): total and per notebook.

    .venv/bin/python benchmarks/bench_pipeline.py [--repeat N] [--html] [--only 01,02] [--budget 90]

Each repetition runs ``pipeline.run`` in a fresh work dir (what ``make demo`` does on a fresh
clone), so every notebook really creates its PKI / starts its sandbox. Prints, per notebook, the
median wall time and its share of the median total (kernel start included: papermill starts a
fresh kernel per notebook), then the run overhead (validation, summary, scan, sandbox stop and,
with --html, the report). Exits 1 when the median total exceeds ``--budget`` seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from runbook import pipeline

ROOT = Path(__file__).resolve().parents[1]


def one_run(html: bool, only: list[str]) -> tuple[float, dict[str, float], bool]:
    with tempfile.TemporaryDirectory(prefix="runbook-bench-") as tmp:
        t0 = time.perf_counter()
        summary = pipeline.run(
            work=Path(tmp) / "work",
            output_dir=Path(tmp) / "out",
            notebooks=ROOT / "notebooks",
            only=only,
            html=html,
            progress=False,
        )
        total = time.perf_counter() - t0
    if not summary.ok:
        print(summary.failure_line(), file=sys.stderr)
    return total, {n.name: n.seconds for n in summary.notebooks}, summary.ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--html", action="store_true", help="include the HTML report")
    ap.add_argument("--only", default="", help="notebook numbers, e.g. 01,02 (default: all)")
    ap.add_argument("--budget", type=float, default=90.0, help="seconds the median total may take")
    a = ap.parse_args()
    only = [o for o in a.only.split(",") if o]
    totals: list[float] = []
    per: dict[str, list[float]] = {}
    for _ in range(a.repeat):
        total, seconds, ok = one_run(a.html, only)
        if not ok:
            return 1
        totals.append(total)
        for name, s in seconds.items():
            per.setdefault(name, []).append(s)
    total = statistics.median(totals)
    print(f"full headless run, sandbox target, defaults, {a.repeat} run(s), html={a.html}")
    print(f"{'notebook':<28} {'median s':>9} {'share':>6}")
    for name, values in per.items():
        med = statistics.median(values)
        print(f"{name:<28} {med:>9.2f} {med / total:>6.0%}")
    notebooks = sum(statistics.median(v) for v in per.values())
    print(f"{'(run overhead)':<28} {total - notebooks:>9.2f} {(total - notebooks) / total:>6.0%}")
    print(f"{'TOTAL':<28} {total:>9.2f}   budget {a.budget:.0f}s: {'ok' if total <= a.budget else 'OVER'}")
    return 0 if total <= a.budget else 1


if __name__ == "__main__":
    raise SystemExit(main())
