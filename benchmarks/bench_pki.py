"""Chain creation time per key type: runbook.pki in-process vs the equivalent openssl CLI commands.

A "chain" is what `pki create` writes: CA + server certificate + one client certificate, keys
included, written to disk. The openssl side runs `pki.openssl_commands(...)` (the same commands
notebook 01 shows) in bash. Prints a markdown table of medians; run with `make bench` or
`.venv/bin/python benchmarks/bench_pki.py [--repeat N]`.

Targets (issue 2): an ECDSA chain in under 50 ms in-process; RSA no slower than the openssl CLI.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from runbook import pki


def time_inprocess(key_type: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            pki.create_pki(Path(tmp) / "pki", pki.PkiSpec(key_type=key_type))
            out.append(time.perf_counter() - t0)
    return out


def time_openssl(key_type: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            script = pki.openssl_commands(
                str(Path(tmp) / "pki"), ["localhost"], ["127.0.0.1", "::1"], key_type=key_type
            )
            t0 = time.perf_counter()
            subprocess.run(["bash", "-euo", "pipefail", "-c", script], check=True, capture_output=True)
            out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--repeat", type=int, default=9, help="runs per key type (RSA key generation varies a lot)"
    )
    parser.add_argument("--key-types", default=",".join(pki.KEY_TYPES))
    args = parser.parse_args()
    print("| key type | runbook.pki (median ms) | openssl CLI (median ms) | openssl time / runbook time |")
    print("| --- | ---: | ---: | ---: |")
    for key_type in args.key_types.split(","):
        repeat = args.repeat if key_type != "rsa-4096" else max(3, args.repeat // 2)
        ours = statistics.median(time_inprocess(key_type, repeat)) * 1000
        theirs = statistics.median(time_openssl(key_type, repeat)) * 1000
        print(f"| {key_type} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.1f} |")


if __name__ == "__main__":
    main()
