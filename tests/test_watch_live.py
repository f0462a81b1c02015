"""Proof under load: renewed files reloaded by a separate ``runbook watch`` process drop nothing.

Three processes besides the server: this test runs the load (pooled clients on long-lived
connections, reconnecting clients doing a fresh mutual-TLS handshake per command), the watcher
runs as ``python -m runbook watch`` (the daemon as deployed), and a writer process renews the
files twice. Zero failed commands, zero failed reconnects, both new serials served in turn.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runbook import loadgen, sandbox
from runbook.client import Endpoint
from watch_support import make_site, write

pytestmark = pytest.mark.integration


def test_two_renewals_under_load_drop_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    events: list[dict[str, Any]] = []
    seen = threading.Condition()
    cmd = [
        sys.executable, "-m", "runbook", "watch", "--host", "127.0.0.1", "--port", str(site.node.port),
        "--ca", str(site.pki / "ca.crt"), "--cert", str(site.pki / "redis-client.crt"),
        "--key", str(site.pki / "redis-client.key"), "--state-dir", str(tmp_path / "state"),
        "--settle", "0.5", "--interval", "2", "--json",
    ]  # fmt: skip
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            with seen:
                events.append(json.loads(line))
                seen.notify_all()

    def wait_for(kind: str, count: int, timeout: float = 60) -> dict[str, Any]:
        def found() -> list[dict[str, Any]]:
            return [e["event"] for e in events if e.get("event", {}).get("kind") == kind]

        with seen:
            seen.wait_for(lambda: len(found()) >= count, timeout)
            assert len(found()) >= count, f"no {kind} #{count}: {events}"
            return found()[-1]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for("watching", 1)
        load = loadgen.LoadGen(
            Endpoint("127.0.0.1", site.node.port, files=site.tls), pooled=2, reconnecting=2, batch=100,
            max_commands=2_000_000, max_seconds=90,
        )  # fmt: skip
        serials, lags = [], []
        with load:
            while load.totals().reconnects < 5:  # every kind of client is connected and working
                time.sleep(0.01)
            mark = load.mark()
            for i in (1, 2):
                cert, key, new = site.renew(f"r{i}")
                done = write(
                    "replace", cert, site.live / "redis-server.crt", key, site.live / "redis-server.key"
                )
                event = wait_for("reloaded", i)
                assert event["new_serial"] == new, event
                lags.append(event["time"] - done)
                serials.append(new)
                soak_from, deadline = time.monotonic(), time.monotonic() + 30
                while time.monotonic() < deadline and (  # the load keeps running on the new certificate
                    new not in load.window(mark).serials
                    or load.window(mark).commands < 25_000 * i
                    or time.monotonic() - soak_from < 2.0
                ):
                    time.sleep(0.05)
            window = load.window(mark)
        totals = load.totals()
        executed = load.server_total()  # every counted command really ran on the server
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(timeout=20) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
        sandbox.stop_node(site.node)
    print(
        f"watch under load: window {window.summary()}; whole run {totals.summary()}; "
        f"file written -> verified reload {', '.join(f'{s:.2f}' for s in lags)} s"
    )  # figures for the report
    assert window.failed_commands == 0 and window.failed_reconnects == 0, window.errors
    assert totals.failed_commands == 0 and totals.failed_reconnects == 0, totals.errors
    assert window.commands >= 10_000, window.summary()
    assert executed == totals.commands
    order = [s for s in window.serials if s in serials]
    assert order == serials, (window.serials, serials)  # both new serials served, in turn
    kinds = [e["event"]["kind"] for e in events if "event" in e]
    assert kinds.count("reloaded") == 2 and not {"failed", "rolled-back", "refused"} & set(kinds), kinds
