"""How long a full audit of a loopback TLS Redis takes (target: under 2 s).

Starts a throwaway PKI and sandbox redis-server in a temporary work dir, then measures:
the first audit in this process (includes importing sslyze/nassl), warm full audits, the audit
without the sslyze cipher scan, the sslyze TLS 1.2 enumeration alone, and the CLI end to end
(a fresh interpreter). Prints one line per figure. Run: ``.venv/bin/python benchmarks/bench_audit.py``.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runbook import pki, sandbox, workdir
from runbook.client import Endpoint, TlsClientFiles

RUNS = 5


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        work = Path(tmp)
        pki.create_pki(workdir.pki_dir(work), pki.PkiSpec())
        box = sandbox.start(work)
        try:
            port = box.primary.port
            files = TlsClientFiles.from_pki(workdir.pki_dir(work))

            def full() -> object:
                from runbook import checks

                return checks.audit(Endpoint("localhost", port, files=files))

            def no_scan() -> object:
                from runbook import checks

                return checks.audit(Endpoint("localhost", port, files=files), scan_ciphers=False)

            def scan_only() -> object:
                from runbook import checks

                return checks.scan_tls12_ciphers(Endpoint("localhost", port, "localhost"))

            first = timed(full)
            warm = [timed(full) for _ in range(RUNS)]
            light = [timed(no_scan) for _ in range(RUNS)]
            scans = [timed(scan_only) for _ in range(RUNS)]
            check_cmd = [sys.executable, "-m", "runbook", "check", "--host", "localhost", "--port", str(port)]
            check_cmd += ["--ca", files.ca, "--cert", str(files.cert), "--key", str(files.key), "--json"]
            cli = [
                timed(lambda: subprocess.run(check_cmd, capture_output=True, check=True)) for _ in range(3)
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(check_cmd, capture_output=True, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            print(f"first full audit in a fresh process (imports sslyze): {first:.2f} s")
            print(
                f"full audit, warm, median of {RUNS}: {statistics.median(warm):.2f} s (max {max(warm):.2f} s)"
            )
            print(f"audit without the sslyze scan, median of {RUNS}: {statistics.median(light):.2f} s")
            print(
                f"sslyze TLS 1.2 cipher enumeration alone, median of {RUNS}: {statistics.median(scans):.2f} s"
            )
            print(f"`python -m runbook check --json` end to end, median of 3: {statistics.median(cli):.2f} s")
            print(f"`python -m runbook check --json` CPU time (user+sys, load-independent): {cpu:.2f} s")
        finally:
            sandbox.stop(work)


if __name__ == "__main__":
    main()
