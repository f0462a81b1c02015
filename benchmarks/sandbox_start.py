"""Time to a verified sandbox per topology: start (until TLS PING / links are proven), verify, stop.

Run: .venv/bin/python benchmarks/sandbox_start.py [--rounds N]. Prints one line per topology.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from runbook import pki, sandbox, workdir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="runbook-bench-") as tmp:
        work = Path(tmp)
        pki.create_pki(workdir.pki_dir(work))
        for topology in sandbox.TOPOLOGIES:
            starts, verifies, stops = [], [], []
            for _ in range(rounds):
                t0 = time.perf_counter()
                box = sandbox.start(work, topology)
                t1 = time.perf_counter()
                results = sandbox.verify(box)
                t2 = time.perf_counter()
                sandbox.stop(work)
                t3 = time.perf_counter()
                assert all(r.ok for r in results), [r for r in results if not r.ok]
                starts.append(t1 - t0)
                verifies.append(t2 - t1)
                stops.append(t3 - t2)
            print(
                f"{topology:<10} nodes={len(box.nodes)} start {statistics.median(starts):.2f}s "
                f"(max {max(starts):.2f}s)  verify {statistics.median(verifies):.2f}s "
                f"({len(results)} checks)  stop {statistics.median(stops):.2f}s  rounds={rounds}"
            )


if __name__ == "__main__":
    main()
