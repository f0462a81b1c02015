"""Benchmark: what a server-certificate rotation costs the clients of a live Redis.

Starts one TLS redis-server on a free loopback port with a throwaway PKI, runs the load generator
(pooled long-lived clients + clients that reconnect for every command), measures a baseline window
with no rotation, then rotates the server certificate ``--rotations`` times and reports for each
window: commands, failed commands, reconnects, failed reconnects and the worst round-trip latency.

    .venv/bin/python benchmarks/bench_rotation.py [--rotations 3] [--window 2.0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from runbook import display, loadgen, pki, rotation, sandbox
from runbook.client import Endpoint, TlsClientFiles, redis_client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument("--window", type=float, default=2.0, help="seconds per window (baseline and soak)")
    parser.add_argument("--reloads", type=int, default=5, help="bare CONFIG SET reloads measured alone")
    parser.add_argument("--pooled", type=int, default=2)
    parser.add_argument("--reconnecting", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-rotation-") as tmp:
        root = Path(tmp)
        pki.create_pki(root / "pki", pki.PkiSpec())
        paths = pki.PkiPaths(root / "pki")
        node_dir = root / "node"
        node = sandbox.start_node(
            "bench", "primary", node_dir, sandbox.base_conf(node_dir, paths, sandbox.free_port()), paths
        )
        tls = TlsClientFiles.from_pki(paths.root)
        rows = []
        try:
            with loadgen.running(
                Endpoint("127.0.0.1", node.port, files=tls),
                pooled=args.pooled,
                reconnecting=args.reconnecting,
                batch=100,
                max_seconds=600,
            ) as load:
                time.sleep(0.5)
                mark = load.mark()
                time.sleep(args.window)
                base = load.window(mark)
                rows.append(("baseline (no rotation)", base, 0.0, "-"))
                for i in range(args.rotations):
                    mark = load.mark()
                    t0 = time.monotonic()
                    report = rotation.rotate(
                        "server", paths.root, [("127.0.0.1", node.port)], soak_seconds=args.window
                    )
                    took = time.monotonic() - t0
                    rows.append((f"rotation {i + 1}", load.window(mark), took, report.status))
                # the reload alone: one CONFIG SET re-reading the files, window = the call + 0.25 s
                target = rotation.discover_node("127.0.0.1", node.port, tls)
                admin = redis_client("localhost", node.port, tls, single_connection_client=True)
                for i in range(args.reloads):
                    mark = load.mark()
                    t0 = time.monotonic()
                    rotation.reload_tls(
                        admin, [("tls-cert-file", target.cert_file), ("tls-key-file", target.key_file)]
                    )
                    took = time.monotonic() - t0
                    time.sleep(0.25)
                    rows.append((f"CONFIG SET reload {i + 1}", load.window(mark), took, "reloaded"))
                admin.close()
            total = load.totals()
            executed = load.server_total()
        finally:
            sandbox.stop_node(node)

    table = display.Table(
        [
            "window",
            "status",
            "seconds",
            "commands",
            "cmd/s",
            "failed",
            "reconnects",
            "failed reconnects",
            "worst latency ms",
        ],
        [
            (
                name,
                status,
                f"{w.seconds:.2f}" + (f" (call {took:.3f})" if took else ""),
                w.commands,
                f"{w.rate:.0f}",
                w.failed_commands,
                w.reconnects,
                w.failed_reconnects,
                f"{w.worst_latency_ms:.1f}",
            )
            for name, w, took, status in rows
        ],
        "server-certificate rotation under load (loopback, TLS 1.3, mutual TLS)",
    )
    print(table.text())
    print(
        f"total: {total.commands} commands, {total.failed_commands} failed, {total.reconnects} reconnects, "
        f"{total.failed_reconnects} failed; server executed {executed} (must equal the commands counted)"
    )
    return 0 if total.ok and executed == total.commands else 1


if __name__ == "__main__":
    raise SystemExit(main())
