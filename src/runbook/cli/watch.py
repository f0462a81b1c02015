"""``python -m runbook watch``: the reload watcher's command line (a daemon, or ``--once`` for cron).

Exit codes: 0 every node serves a good set (or SIGTERM/SIGINT ended the daemon: final state
written); 1 a set was refused, files are missing, or a reload failed (rolled back or not);
2 bad input (one line naming the fix).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runbook import display
from runbook.errors import RunbookError

SYNOPSIS = (
    "python -m runbook watch --host H --port N [--node H:N]... [--ca F --cert F --key F] [--server-name N] "
    "[--interval S] [--settle S] [--state-dir DIR] [--prometheus FILE] [--once] [--poll] [--json]"
)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``watch`` command to a subparsers object."""
    p: argparse.ArgumentParser = sub.add_parser(
        "watch",
        help="reload Redis when renewed certificate files appear (verify, roll back on failure)",
        description="Watch the TLS files each node reads; reload a settled, consistent renewed set with "
        "one CONFIG SET, verify the new serial, roll back on failure.",
    )
    p.add_argument("--host", required=True, help="Redis host to connect to")
    p.add_argument("--port", required=True, type=int, help="its TLS port")
    p.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="H:N",
        help="another node of the same group (repeatable)",
    )
    p.add_argument("--ca", help="CA certificate clients trust (default: the runbook work dir's pki/ca.crt)")
    p.add_argument("--cert", help="client certificate to connect with (mutual TLS)")
    p.add_argument("--key", help="its private key")
    p.add_argument(
        "--server-name", help="name the certificate must cover and handshakes verify (default --host)"
    )
    add_watch_options(p)
    p.set_defaults(func=cmd_watch)


def add_watch_options(p: argparse.ArgumentParser) -> None:
    """How to watch (shared by ``watch`` and ``fleet watch``): pace, state, outputs, one pass."""
    p.add_argument(
        "--interval", type=float, default=5.0, metavar="S", help="re-read files every S s (default 5)"
    )
    p.add_argument(
        "--settle",
        type=float,
        default=2.0,
        metavar="S",
        help="a renewed set must stay unchanged S s (default 2)",
    )
    p.add_argument(
        "--state-dir", metavar="DIR", help="last good copies (default ~/.local/state/redis-tls-runbook/watch)"
    )
    p.add_argument("--prometheus", metavar="FILE", help="write node_exporter textfile metrics (atomic)")
    p.add_argument("--once", action="store_true", help="one pass (cron/timer): reload if the files differ")
    p.add_argument("--poll", action="store_true", help="poll every --interval instead of inotify")
    p.add_argument("--json", action="store_true", help="JSON lines of events (--once: one JSON report)")


def _client_files(a: argparse.Namespace) -> Any:
    from runbook import workdir
    from runbook.client import TlsClientFiles

    if bool(a.cert) != bool(a.key):
        raise RunbookError("give --cert and --key together (the client certificate and its key)")
    if a.ca:
        files = TlsClientFiles(a.ca, a.cert, a.key)
    else:
        pki_dir = workdir.pki_dir(workdir.work_dir(None))
        if not (pki_dir / "ca.crt").is_file():
            raise RunbookError(
                "no --ca given and no runbook PKI in the work dir: pass --ca F --cert F --key F"
            )
        files = TlsClientFiles.from_pki(pki_dir)
        if a.cert:
            files = TlsClientFiles(files.ca, a.cert, a.key)
    for path in (files.ca, files.cert, files.key):
        if path and not Path(path).is_file():
            raise RunbookError(f"{path} not found: pass the client files with --ca/--cert/--key")
    return files


def targets_from_args(a: argparse.Namespace) -> list[Any]:
    from runbook.client import Endpoint, address
    from runbook.watch.target import WatchTarget, parse_node

    tls = _client_files(a)
    addresses = [(a.host, a.port), *(parse_node(n) for n in a.node)]
    if len(set(addresses)) != len(addresses):
        raise RunbookError("a node is given twice: give each --node once")
    group = address(a.host, a.port)
    return [WatchTarget(Endpoint(h, p, a.server_name or "", tls), group=group) for h, p in addresses]


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the loop ends after the current pass) instead of killing."""
    handler = lambda signum, frame: stop.set()  # noqa: E731
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _printer(as_json: bool) -> Any:
    from runbook.display import mark

    def show(event: Any) -> None:
        from dataclasses import asdict

        if as_json:
            print(json.dumps({"event": asdict(event)}), flush=True)
        else:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.time))
            print(f"{stamp} {mark(event.status)} {event.line()}", flush=True)

    return show


def cmd_watch(a: argparse.Namespace) -> int:
    """Run the watcher from parsed arguments; returns the exit code."""
    return run_watch(a, targets_from_args(a))


def run_watch(a: argparse.Namespace, targets: list[Any], *, fleet: dict[str, Any] | None = None) -> int:
    """Watch ``targets`` with the options of :func:`add_watch_options`; returns the exit code.

    ``fleet`` (``runbook fleet watch``: the inventory and the limit) keeps going past a node that
    cannot be watched (its status says why), adds those keys to the JSON report and prints the
    per-node table at the end.
    """
    from runbook.watch.loop import watch

    stop = threading.Event()
    with _stopping_on_signals(stop):
        report = watch(
            targets,
            interval=a.interval,
            settle=a.settle,
            state_dir=a.state_dir,
            prometheus=a.prometheus,
            once=a.once,
            poll=a.poll,
            stop_event=stop,
            on_event=None if (a.json and a.once) else _printer(a.json),
            keep_going=fleet is not None,
        )
    if a.json:
        data = {**(fleet or {}), **report.to_dict()}
        print(json.dumps(data if a.once else {"report": data}, default=str), flush=True)
    elif fleet is not None:
        print(report.table().text(display.TERMINAL_WIDTH))
    else:
        bad = [n for n in report.nodes if not n.ok]
        for n in bad:
            print(f"{n.node}: {n.state}: {n.detail}" + (f": {n.fix}" if n.fix else ""), file=sys.stderr)
        print(f"{'ok' if report.ok else 'attention'}: {len(report.nodes)} node(s), {report.passes} pass(es)")
    if not a.once and stop.is_set():
        return 0  # ended by a signal: a clean stop, the final state is written
    return report.exit_code
