"""The watcher's state as a node_exporter textfile (prometheus_client), written atomically.

Series (labels ``target`` = ``host:port``, as in the fleet's series, and ``node`` = the node's name:
``host:port`` again unless it was given one, e.g. the inventory name under ``runbook fleet watch``):

* ``redis_tls_watch_last_reload_timestamp_seconds`` - the last reload attempt (Unix time, 0: none);
* ``redis_tls_watch_last_reload_success`` - 1 when it reloaded and verified, 0 otherwise;
* ``redis_tls_watch_reloads_total{result}`` - reloads by result (reloaded, rolled-back, failed);
* ``redis_tls_watch_served_certificate_info{serial}`` - 1, the serial a fresh handshake presents;
* ``redis_tls_watch_certificate_expiry_timestamp_seconds`` - notAfter of the served certificate;
* ``redis_tls_watch_chain_expiry_timestamp_seconds`` - the earliest notAfter of the served chain (the
  leaf and the intermediates its file serves with it): an intermediate expiring first is seen;
* ``redis_tls_watch_warnings_total`` - warning-level checks of renewed sets that were loaded anyway
  (e.g. a chain strict clients refuse): each one is also a ``warning`` event;
* ``redis_tls_watch_node_state{state}`` - 1 for the node's current state, 0 for the others;
* ``redis_tls_watch_last_pass_timestamp_seconds`` - when the watcher last looked (liveness).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from runbook import files
from runbook.watch.report import STATES, WatchReport


def registry(report: WatchReport) -> Any:
    from prometheus_client import CollectorRegistry, Counter, Gauge

    reg = CollectorRegistry()

    def gauge(name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, ["target", "node", *labels], registry=reg)

    last = gauge("redis_tls_watch_last_reload_timestamp_seconds", "Last reload attempt (Unix time)")
    success = gauge("redis_tls_watch_last_reload_success", "1 when the last reload was verified")
    reloads = Counter(
        "redis_tls_watch_reloads", "Reloads by result", ["target", "node", "result"], registry=reg
    )
    warnings = Counter(
        "redis_tls_watch_warnings",
        "Warning-level checks of loaded renewals",
        ["target", "node"],
        registry=reg,
    )
    info = gauge("redis_tls_watch_served_certificate_info", "Serial a fresh handshake presents", "serial")
    expiry = gauge(
        "redis_tls_watch_certificate_expiry_timestamp_seconds", "notAfter of the served certificate"
    )
    chain_expiry = gauge(
        "redis_tls_watch_chain_expiry_timestamp_seconds",
        "Earliest notAfter of the served leaf and the intermediates served with it",
    )
    state = gauge("redis_tls_watch_node_state", "1 for the node's current state", "state")
    seen = gauge("redis_tls_watch_last_pass_timestamp_seconds", "When the watcher last looked (Unix time)")
    now = time.time()
    for n in report.nodes:
        who = (n.target or n.node, n.node)
        last.labels(*who).set(n.last_reload)
        success.labels(*who).set(1 if n.last_result == "reloaded" else 0)
        for result, count in n.reloads.items():
            reloads.labels(*who, result).inc(count)
        warnings.labels(*who).inc(n.warnings)
        if n.served_serial:
            info.labels(*who, n.served_serial).set(1)
            expiry.labels(*who).set(n.not_after)
            chain_expiry.labels(*who).set(n.chain_not_after or n.not_after)
        for s in STATES:
            state.labels(*who, s).set(1 if n.state == s else 0)
        seen.labels(*who).set(now)
    return reg


def write(report: WatchReport, path: Path | str) -> Path:
    """Write the textfile atomically (temp file + rename, mode 0644). Writes a file."""
    return files.write_prometheus_textfile(registry(report), path)
