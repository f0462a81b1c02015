"""A live TLS audit of one Redis endpoint, from the client side -> ``list[CheckResult]``."""

from runbook.checks.ciphers import is_weak_cipher, scan_tls12_ciphers
from runbook.checks.prometheus import prometheus_registry, write_prometheus
from runbook.checks.refusals import Refusal, explain_refusals
from runbook.checks.report import AuditReport, audit, run_audit
from runbook.checks.verdicts import CHECK_IDS
