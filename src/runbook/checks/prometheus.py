"""The audit as Prometheus node_exporter textfile metrics (``runbook check --prometheus FILE``).

``redis_tls_check_status`` is 0 pass, 1 warn, 2 fail, -1 skip per check; ``redis_tls_audit_ok`` is 1
when no check failed (warnings do not fail the audit, as they do not fail the CLI's exit code).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from runbook import files as _files
from runbook.checks.report import AuditReport

STATUS_VALUE = {"pass": 0, "warn": 1, "fail": 2, "skip": -1}


def prometheus_registry(report: AuditReport) -> Any:
    """The audit as node_exporter textfile metrics (a prometheus_client registry)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    check = Gauge(
        "redis_tls_check_status",
        "Result of one audit check: 0 pass, 1 warn, 2 fail, -1 skip",
        ["target", "check"],
        registry=registry,
    )
    for c in report.checks:
        check.labels(report.target, c.id).set(STATUS_VALUE[c.status])
    expiry = Gauge(
        "redis_tls_cert_expiry_timestamp_seconds",
        "notAfter of a certificate seen by the audit, as a Unix timestamp",
        ["target", "role", "subject", "serial"],
        registry=registry,
    )
    for cert in report.certificates:
        when = dt.datetime.fromisoformat(cert["not_after"]).timestamp()
        expiry.labels(report.target, cert["role"], cert["subject"], cert["serial"]).set(when)
    ok = Gauge("redis_tls_audit_ok", "1 when no audit check failed", ["target"], registry=registry)
    ok.labels(report.target).set(1 if report.ok else 0)
    last = Gauge(
        "redis_tls_audit_timestamp_seconds", "When the audit ran (Unix time)", ["target"], registry=registry
    )
    last.labels(report.target).set(time.time())
    took = Gauge("redis_tls_audit_duration_seconds", "How long the audit took", ["target"], registry=registry)
    took.labels(report.target).set(round(report.seconds, 3))
    return registry


def write_prometheus(report: AuditReport, path: Path | str) -> Path:
    """Write the textfile atomically (temp file + rename, mode 0644). Writes a file; idempotent."""
    return _files.write_prometheus_textfile(prometheus_registry(report), path)
