"""Benchmark: what `adopt --migrate` costs the clients of a live deployment, and how long it takes.

Each run builds a deployment the way a common guide does (the real ``openssl`` lines: a CA without
keyUsage), serves it with a primary and a replica linked over TLS on loopback, writes a key with a TTL,
and migrates it to the strict profile (``runbook.adopt.migrate``: re-sign, bundle, retire, each step
verified) while two pooled redis-py clients and one reconnect-per-command client count every command
(notebook 09's steps, ``runbook.book.adopt``). Reports per run: the migration's wall time, the commands,
failed commands, new connections, refused connections and the worst round trip during it, and whether the
proof held (clean assessment, strict clients verify, replica linked, key kept).

    .venv/bin/python benchmarks/bench_adopt.py [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from runbook import display
from runbook.book import adopt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    ok = True
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="bench-adopt-") as tmp:
            site = adopt.prepare(Path(tmp))
            try:
                site.assess()
                site.write_marker()
                t0 = time.monotonic()
                site.migrate()
                took = time.monotonic() - t0
                proof = site.prove()
            finally:
                site.finish()
        load = site.load
        assert load is not None and site.migration is not None
        proven = all(c.status == "pass" for c in proof)
        ok = ok and proven and load.ok
        rows.append(
            (
                run,
                site.migration.status,
                f"{took:.1f}",
                f"{load.commands:,}",
                load.failed_commands,
                load.reconnects,
                load.failed_reconnects,
                f"{load.worst_latency_ms:.0f} ms",
                "yes" if proven else "NO",
            )
        )
    header = ["run", "status", "seconds", "commands", "failed", "new conns", "refused", "worst RTT", "proven"]
    print(
        display.Table(header, rows, "adopt --migrate under load (guide deployment, primary + replica)").text()
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
