"""After a compatible attempt succeeds: would a strict client connect too? If not, say exactly why.

The diagnosis connects as Redis, ``redis-cli`` and OpenSSL do (``compatible`` mode), so a CA made
by a guide's ``openssl req -x509`` lines is never blamed as "untrusted". A second attempt in
``strict`` mode (Python 3.13's default context) then tells whether strict clients refuse the same
server; when they do, :func:`runbook.pki.strict_findings` names what (``ca-not-strict``,
``server-name-cn-only``) with the fix for the operator's own files. One extra connection, read-only.
"""

from __future__ import annotations

import dataclasses

from runbook import pki
from runbook.diagnose.chain_facts import certs_in
from runbook.diagnose.error_text import text_of
from runbook.diagnose.probes import ClientSpec, attempt, peer_certificate
from runbook.diagnose.results import Diagnosis
from runbook.diagnose.signatures import CAUSE_INFO


def strict_verdict(spec: ClientSpec, timeout: float) -> Diagnosis | None:
    """None when a strict client connects as well (or the attempt fails for an unrelated reason),
    else the strictness cause with evidence and the fix naming the client's CA file. Opens one or two
    connections."""
    strict = dataclasses.replace(spec, mode="strict")
    outcome = attempt(strict, timeout)
    if outcome.ok or outcome.stage != "handshake":
        return None
    error = " ".join(text_of(outcome.error)[:1]) or "refused"
    if "verify failed" not in error.lower() and "mismatch" not in error.lower():
        return None
    cas = certs_in(spec.files.ca)
    leaf = peer_certificate(spec, timeout)
    findings = pki.strict_findings(
        cas, [leaf] if leaf is not None else [], spec.endpoint.hostname, ca_path=spec.files.ca
    )
    evidence = [f"a compatible client (redis-cli, OpenSSL) connects; a strict client does not: {error}"]
    if not findings:
        info = CAUSE_INFO["chain-not-strict"]
        return Diagnosis("chain-not-strict", info.summary, evidence, info.fix, info.notebook)
    first = findings[0]
    evidence += [f.detail for f in findings]
    info = CAUSE_INFO[first.id]
    fixes = list(dict.fromkeys(f.fix for f in findings))
    return Diagnosis(first.id, info.summary, evidence, "; then ".join(fixes), info.notebook)
