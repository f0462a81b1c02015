"""A fleet audit of many loopback TLS servers: sequential vs parallel (target: 50 servers under 10 s).

Starts ``--servers`` redis-servers (default 50; ``save ""``, no persistence, one shared PKI, each
in its own folder), writes a runbook fleet inventory for them, and measures the full audit
(``runbook.fleet.audit``, sslyze cipher scan included unless ``--no-cipher-scan``) with
``parallel=1`` and ``parallel=--parallel`` (default 8), then ``python -m runbook fleet audit`` end
to end in a fresh interpreter. Reports wall time, CPU time, peak Python allocations (tracemalloc,
measured in a separate pass so it does not slow the timed ones) and the process's peak RSS, and
the load average (the machine may be shared). Stops every server it started. Exit 1 when the
parallel audit misses the target. Run: ``.venv/bin/python benchmarks/bench_fleet.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from runbook import fleet, inventory, pki, sandbox

TARGET_SECONDS = 10.0


def start_servers(root: Path, count: int) -> list[sandbox.Node]:
    paths = pki.PkiPaths(root / "pki")
    nodes: list[sandbox.Node] = []
    try:
        for i in range(count):
            folder = root / f"redis-{i:02d}"
            conf = sandbox.base_conf(folder, paths, sandbox.free_port())
            nodes.append(sandbox.start_node(folder.name, "primary", folder, conf, paths, wait=False))
        for node in nodes:
            sandbox.wait_ready(node, paths, timeout=60)
    except BaseException:
        for node in nodes:
            sandbox.stop_node(node)
        raise
    return nodes


def write_inventory(root: Path, nodes: list[sandbox.Node]) -> Path:
    data = {
        "defaults": {"server_name": "localhost", "ca": "pki/ca.crt", "cert": "pki/redis-client.crt",
                     "key": "pki/redis-client.key"},
        "nodes": [{"name": n.name, "host": "127.0.0.1", "port": n.port} for n in nodes],
    }  # fmt: skip
    path = root / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def timed_audit(
    nodes: list[inventory.FleetNode], parallel: int, scan: bool
) -> tuple[float, float, fleet.FleetReport]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    report, _ = fleet.audit(nodes, parallel=parallel, scan_ciphers=scan)
    return time.perf_counter() - t0, time.process_time() - cpu0, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--no-cipher-scan", action="store_true", help="audit without the sslyze scan")
    parser.add_argument("--skip-sequential", action="store_true")
    a = parser.parse_args()
    scan = not a.no_cipher_scan
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        pki.create_pki(root / "pki", pki.PkiSpec())
        t0 = time.perf_counter()
        servers = start_servers(root, a.servers)
        print(f"started {len(servers)} TLS redis-servers in {time.perf_counter() - t0:.1f} s")
        try:
            path = write_inventory(root, servers)
            nodes = inventory.load(path).nodes
            fleet.audit(nodes[:1], parallel=1, scan_ciphers=scan)  # warm-up: imports, sslyze/nassl
            rows = []
            runs = ([] if a.skip_sequential else [1]) + [a.parallel]
            for parallel in runs:
                wall, cpu, report = timed_audit(nodes, parallel, scan)
                assert report.ok, report.summary_line()
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                rows.append((parallel, wall, cpu, rss))
                print(f"parallel={parallel}: {wall:.2f} s wall, {cpu:.2f} s CPU (this process), "
                      f"{report.summary_line()}, peak RSS so far {rss:.0f} MiB")  # fmt: skip
            tracemalloc.start()
            fleet.audit(nodes, parallel=a.parallel, scan_ciphers=scan)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"parallel={a.parallel}: peak Python allocations {peak / 2**20:.1f} MiB (tracemalloc pass, untimed)"
            )
            cmd = [sys.executable, "-m", "runbook", "fleet", "audit", "--inventory", str(path), "--parallel",
                   str(a.parallel), "--json", *([] if scan else ["--no-cipher-scan"])]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            cli_wall = time.perf_counter() - t0
            child = resource.getrusage(resource.RUSAGE_CHILDREN)
            print(f"CLI `runbook fleet audit --parallel {a.parallel}` end to end: {cli_wall:.2f} s wall, "
                  f"{child.ru_utime + child.ru_stime:.2f} s CPU, peak RSS {child.ru_maxrss / 1024:.0f} MiB, exit {proc.returncode}")  # fmt: skip
        finally:
            for node in servers:
                sandbox.stop_node(node)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    best = rows[-1][1]
    if len(rows) == 2:
        print(f"speed-up parallel {a.parallel} vs sequential: {rows[0][1] / best:.1f}x")
    met = best < TARGET_SECONDS
    print(f"target: {a.servers} servers audited in under {TARGET_SECONDS:.0f} s with --parallel {a.parallel}: "
          f"{'met' if met else 'NOT met'} ({best:.2f} s)")  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
