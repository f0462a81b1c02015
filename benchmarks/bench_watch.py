"""Benchmark: how long after renewed files land does ``runbook watch`` serve them (verified)?

Starts one TLS redis-server on a free loopback port with a throwaway PKI and runs the watcher on a
thread; a separate writer process (tests/watch_writer.py) renews the files ``--renewals`` times, as a
Kubernetes secret volume does (``..data`` swap) and as ``mv`` does (certificate, then key). Reported per
backend and settle time: the seconds from the writer having the new set in place to the watcher's
verified reload (fresh handshake presents the new serial), median and worst.

    .venv/bin/python benchmarks/bench_watch.py [--renewals 3] [--settle 2 0.3] [--interval 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from runbook import display, files, pki, rotation, sandbox
from runbook.client import Endpoint, TlsClientFiles
from runbook.watch import WatchEvent, WatchTarget, watch

WRITER = Path(__file__).resolve().parents[1] / "tests" / "watch_writer.py"


def _write(*args: object) -> float:
    done = subprocess.run(
        [sys.executable, str(WRITER), *map(str, args)], capture_output=True, text=True, check=True
    )
    stamp: float = json.loads(done.stdout.splitlines()[-1])["done"]
    return stamp


def _renew(root: Path, i: int) -> tuple[Path, Path]:
    ca = pki.Issued(pki.load_cert(root / "pki" / "ca.crt"), pki.load_key(root / "pki" / "ca.key"))
    issued = rotation.reissue_like(pki.load_cert(root / "pki" / "redis-server.crt"), ca)
    cert, key = root / "staged" / f"{i}.crt", root / "staged" / f"{i}.key"
    files.write_all(issued.planned_writes(cert, key))
    return cert, key


def _run(root: Path, layout: str, poll: bool, settle: float, interval: float, renewals: int) -> list[float]:
    p = root / "pki"
    vol = root / f"{layout}-{poll}-{settle}"
    if layout == "k8s":
        _write("k8s", vol, p / "redis-server.crt", "tls.crt", p / "redis-server.key", "tls.key")
        cert, key = vol / "tls.crt", vol / "tls.key"
    else:
        vol.mkdir()
        cert, key = vol / "redis-server.crt", vol / "redis-server.key"
        files.write_all(pki.Issued(pki.load_cert(p / "redis-server.crt"), pki.load_key(p / "redis-server.key"))
                        .planned_writes(cert, key))  # fmt: skip
    node_dir = root / f"node-{vol.name}"
    conf = sandbox.base_conf(node_dir, pki.PkiPaths(p), sandbox.free_port())
    conf.update({"tls-cert-file": str(cert), "tls-key-file": str(key)})
    node = sandbox.start_node("bench", "primary", node_dir, conf, pki.PkiPaths(p))
    reloads: list[WatchEvent] = []
    cond, stop = threading.Condition(), threading.Event()

    def on_event(e: WatchEvent) -> None:
        with cond:
            if e.kind == "reloaded":
                reloads.append(e)
            cond.notify_all()

    target = WatchTarget(Endpoint("127.0.0.1", node.port, files=TlsClientFiles.from_pki(p)))
    kw = {"interval": interval, "settle": settle, "poll": poll, "state_dir": root / f"state-{vol.name}"}
    thread = threading.Thread(
        target=watch, args=([target],), kwargs={**kw, "stop_event": stop, "on_event": on_event}
    )
    lags: list[float] = []
    try:
        thread.start()
        time.sleep(0.5)
        for i in range(renewals):
            new_cert, new_key = _renew(root, i)
            if layout == "k8s":
                done = _write("k8s", vol, new_cert, "tls.crt", new_key, "tls.key")
            else:
                done = _write("replace", new_cert, cert, new_key, key)
            with cond:
                cond.wait_for(lambda n=i: len(reloads) > n, timeout=interval + settle + 30)
            lags.append(reloads[i].time - done)
    finally:
        stop.set()
        thread.join(timeout=30)
        sandbox.stop_node(node)
    return lags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--renewals", type=int, default=3)
    parser.add_argument("--settle", type=float, nargs="+", default=[2.0, 0.3])
    parser.add_argument("--interval", type=float, default=5.0, help="--interval of the watcher (poll period)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        root = Path(tmp)
        pki.create_pki(root / "pki", pki.PkiSpec())
        (root / "staged").mkdir()
        for settle in args.settle:
            for layout in ("k8s", "replace"):
                for poll in (False, True):
                    lags = _run(root, layout, poll, settle, args.interval, args.renewals)
                    backend = "poll" if poll else "inotify"
                    rows.append([layout, backend, f"{settle:g}", f"{args.interval:g}", len(lags),
                                 f"{statistics.median(lags):.2f}", f"{max(lags):.2f}"])  # fmt: skip
    header = ["writer", "backend", "settle s", "interval s", "renewals", "median s", "worst s"]
    print(display.Table(header, rows, "files in place -> verified reload").text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
