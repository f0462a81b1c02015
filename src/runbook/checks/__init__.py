"""A live TLS audit of one Redis endpoint, from the client side -> ``list[CheckResult]``.

Stable check ids (docs/audit-checks.md; the CLI, the notebook and Prometheus use them):

``tls-handshake``  ``redis-ping``  ``protocol-floor``  ``tls13-supported``  ``weak-ciphers-refused``
``client-cert-required``  ``plaintext-refused``  ``hostname-verified``  ``chain-strict``
``cert-expiry``  ``key-strength``

Each check owns exactly one concern, so one misconfiguration fails one check. The modules, from
the bottom up:

* ``verdicts``: the check ids and how a check family records a verdict;
* ``probes``: the audit's probe contexts and :class:`~runbook.checks.probes.Prober` (an endpoint, a
  timeout, AUTH) over :mod:`runbook.client.probe`, whose connections never raise;
* one module per check family: ``connection`` (tls-handshake, redis-ping), ``protocols``
  (protocol-floor, tls13-supported), ``ciphers`` (the sslyze scan, weak-ciphers-refused),
  ``access`` (client-cert-required, plaintext-refused) and ``certificates`` (hostname-verified,
  chain-strict, cert-expiry, key-strength);
* ``report``: :func:`run_audit` / :func:`audit` -> :class:`AuditReport`;
* ``prometheus``: the report as node_exporter textfile metrics;
* ``refusals``: three wrong clients, live, for trainees.

Side effects: network connections to the target only (and the Prometheus file when asked).
"""

from __future__ import annotations

from runbook.checks.ciphers import (
    CipherScan,
    is_legacy_cipher,
    is_weak_cipher,
    scan_tls12_ciphers,
)
from runbook.checks.probes import WRONG_NAME
from runbook.checks.prometheus import STATUS_VALUE, prometheus_registry, write_prometheus
from runbook.checks.refusals import Refusal, explain_refusals
from runbook.checks.report import AuditReport, audit, run_audit
from runbook.checks.verdicts import CHECK_IDS, Add, Verdicts

__all__ = [
    "CHECK_IDS",
    "STATUS_VALUE",
    "WRONG_NAME",
    "Add",
    "AuditReport",
    "CipherScan",
    "Refusal",
    "Verdicts",
    "audit",
    "explain_refusals",
    "is_legacy_cipher",
    "is_weak_cipher",
    "prometheus_registry",
    "run_audit",
    "scan_tls12_ciphers",
    "write_prometheus",
]
