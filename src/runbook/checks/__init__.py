"""A live TLS audit of one Redis endpoint, from the client side -> ``list[CheckResult]``.

Stable check ids (docs/audit-checks.md; the CLI, the notebook and Prometheus use them):

``tls-handshake``  ``redis-ping``  ``protocol-floor``  ``tls13-supported``  ``weak-ciphers-refused``
``client-cert-required``  ``plaintext-refused``  ``hostname-verified``  ``chain-strict``
``cert-expiry``  ``key-strength``

Each check owns exactly one concern, so one misconfiguration fails one check. The modules, from
the bottom up:

* ``verdicts``: the check ids and how a check family records a verdict;
* ``probes``: handshakes, a plaintext PING and the presented chain, never raising for TLS errors;
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

from runbook.checks.access import _client_cert_check, _configured_plaintext_port, _plaintext_check
from runbook.checks.certificates import (
    _certificate_checks,
    _certs,
    _chain_strict_check,
    _expiry_check,
    _first_name,
    _hostname_check,
    _key_check,
    _key_ok,
    _matches,
    _names,
    _strict_chain_problem,
)
from runbook.checks.ciphers import (
    _CIPHER_FIX,
    _WEAK_MARKERS,
    CipherScan,
    _cipher_check,
    _reachable_ip,
    is_legacy_cipher,
    is_weak_cipher,
    scan_tls12_ciphers,
)
from runbook.checks.connection import _connection_checks, _handshake_fix
from runbook.checks.probes import (
    _LENIENT_CIPHERS,
    _NO_CHECK_TIME,
    WRONG_NAME,
    ProbeTarget,
    _auth,
    _context,
    _fetch_chain,
    _handshake,
    _is_ip,
    _one_line,
    _plaintext_ping,
    _Probe,
    _read_reply,
    _resp,
)
from runbook.checks.prometheus import STATUS_VALUE, prometheus_registry, write_prometheus
from runbook.checks.protocols import _floor_check, _protocol_checks
from runbook.checks.refusals import Refusal, explain_refusals
from runbook.checks.report import AuditReport, audit, run_audit
from runbook.checks.verdicts import CHECK_IDS, Add, Verdicts, _Add

__all__ = [
    "CHECK_IDS",
    "STATUS_VALUE",
    "WRONG_NAME",
    "_CIPHER_FIX",
    "_LENIENT_CIPHERS",
    "_NO_CHECK_TIME",
    "_WEAK_MARKERS",
    "Add",
    "AuditReport",
    "CipherScan",
    "ProbeTarget",
    "Refusal",
    "Verdicts",
    "_Add",
    "_Probe",
    "_auth",
    "_certificate_checks",
    "_certs",
    "_chain_strict_check",
    "_cipher_check",
    "_client_cert_check",
    "_configured_plaintext_port",
    "_connection_checks",
    "_context",
    "_expiry_check",
    "_fetch_chain",
    "_first_name",
    "_floor_check",
    "_handshake",
    "_handshake_fix",
    "_hostname_check",
    "_is_ip",
    "_key_check",
    "_key_ok",
    "_matches",
    "_names",
    "_one_line",
    "_plaintext_check",
    "_plaintext_ping",
    "_protocol_checks",
    "_reachable_ip",
    "_read_reply",
    "_resp",
    "_strict_chain_problem",
    "audit",
    "explain_refusals",
    "is_legacy_cipher",
    "is_weak_cipher",
    "prometheus_registry",
    "run_audit",
    "scan_tls12_ciphers",
    "write_prometheus",
]
