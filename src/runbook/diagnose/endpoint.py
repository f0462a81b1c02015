"""Diagnose a live endpoint: connect the way a client would, probe when it fails, read the server
log when it can (the sandbox's, or ``log_file``), and name the cause. Read-only."""

from __future__ import annotations

import re
import ssl
import time
from pathlib import Path
from typing import Any

from runbook import pki
from runbook.client import Endpoint, TlsClientFiles
from runbook.client.probe import plaintext_ping
from runbook.diagnose.cert_facts import cert_facts, describe_cert
from runbook.diagnose.chain_facts import missing_intermediate
from runbook.diagnose.error_text import text_of
from runbook.diagnose.probes import (
    ClientSpec,
    attempt,
    listen_for_alert,
    peer_certificate,
    probe_hello,
    probe_tls,
    versions_bad,
)
from runbook.diagnose.results import Diagnosis, Outcome
from runbook.diagnose.server_log import (
    failed_key_is_encrypted,
    log_size,
    read_server_log,
    sandbox_log_for,
    wait_new_lines,
)
from runbook.diagnose.strictness import strict_verdict
from runbook.diagnose.verdict import diagnose
from runbook.errors import RunbookError


def diagnose_endpoint(
    endpoint: Endpoint,
    *,
    tls: bool = True,
    min_version: ssl.TLSVersion | None = None,
    max_version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    timeout: float = 3.0,
    log_file: str | Path | None = None,
    work: str | Path | None = None,
    settle: float = 8.0,
) -> Diagnosis:
    """Connect to ``endpoint`` the way the client would and say why it fails (or ``ok``).

    The client trusts ``endpoint.files.ca`` (the system store when empty), presents
    ``endpoint.files.cert``/``key`` when given (a key inside the certificate file when only
    ``cert`` is given), verifies ``endpoint.hostname``; with ``tls=False`` it speaks plaintext;
    ``min_version``/``max_version``/``ciphers`` limit it as the failing client was limited.

    Read-only: opens a few short connections (the attempt, then probes when it fails: does the
    port speak TLS or plaintext, which alert the server sends, which certificate it presents) and
    reads the server log: ``log_file``, or the sandbox node's log when ``port`` belongs to the
    sandbox of ``work``. For a replica or cluster node whose link is down without a visible TLS
    reason it waits up to ``settle`` seconds for the link (a primary delays a diskless sync by 5 s).
    """
    ca, cert, key = endpoint.files.ca, endpoint.files.cert, endpoint.files.key
    files = TlsClientFiles(
        str(ca or ""), str(cert) if cert else None, str(key or cert) if cert or key else None
    )
    spec = ClientSpec(
        endpoint.with_files(files),  # a key inside the certificate file when only cert is given
        tls=tls,
        min_version=min_version,
        max_version=max_version,
        ciphers=ciphers,
        mode="compatible",  # as Redis, redis-cli and OpenSSL verify; strictness is judged below
    )
    if key and not cert:
        raise RunbookError("--key given without --cert: pass both, or neither")
    log_path = Path(log_file) if log_file else sandbox_log_for(endpoint.port, work)
    before = log_size(log_path)
    outcome = attempt(spec, timeout)
    deadline = time.monotonic() + settle
    while (
        outcome.ok
        and outcome.facts.get("link") == "down"
        and time.monotonic() < deadline
        and not _link_failure_evident(spec, timeout, outcome, log_path)
    ):
        time.sleep(0.25)  # a fresh replica waits for its primary (diskless sync delay): give it time
        outcome = attempt(spec, timeout)
    log: list[str] = []
    if log_path is not None:
        if outcome.stage == "connect":
            log = read_server_log(log_path)
        elif outcome.facts.get("link") == "down":
            log = read_server_log(log_path)[-40:]
        elif not outcome.ok:
            log = wait_new_lines(log_path, before)  # read before the probes add their own lines
    _gather(spec, timeout, outcome)
    if outcome.ok and outcome.facts.get("link") != "down" and spec.tls:
        refused = strict_verdict(spec, timeout)
        if refused is not None:
            return refused
    context: dict[str, Any] = {"log": log}
    if log_path is not None and failed_key_is_encrypted(log, log_path.parent):
        context["server_key_encrypted"] = True
    return diagnose(outcome, context)


def _link_failure_evident(spec: ClientSpec, timeout: float, outcome: Outcome, log_path: Path | None) -> bool:
    """A down link is a failure (not a sync in progress) when the node's log shows a TLS error on
    the link, or the certificate it presents to its primary lacks clientAuth."""
    if log_path is not None:
        recent = read_server_log(log_path)[-20:]
        link_errors = (
            r"SSL routines|alert|Error condition on socket|Writing to master|reading from the server"
        )
        if any(re.search(link_errors, ln) and "Error accepting" not in ln for ln in recent):
            return True  # (Error accepting ... is about incoming clients, not the link)
    probe = Outcome(None, "done", facts=dict(outcome.facts))
    _gather(spec, min(timeout, 1.5), probe)
    return probe.facts.get("outgoing_client_auth") is False


def _gather(spec: ClientSpec, timeout: float, outcome: Outcome) -> None:
    """Facts that tell similar failures apart (extra read-only connections, only after a failure)."""
    facts, ev = outcome.facts, outcome.evidence
    short = min(timeout, 1.5)
    eku, validity, cert = cert_facts(spec.files.cert, "clientAuth")
    if cert is not None:
        facts["client_cert_client_auth"] = eku
        facts["client_cert_validity"] = validity
    if outcome.ok:
        ev.append(f"connected: {facts.get('protocol') or 'plaintext'} {facts.get('cipher', '')}".rstrip())
        if facts.get("link") in ("up", "syncing"):
            ev.append(f"{facts.get('role', 'node')}: link to its primary is {facts['link']}")
        if facts.get("link") == "down":
            ev.append(f"{facts.get('role', 'node')}: link to its primary or peers is down")
            if facts.get("link_tls") is False:
                ev.append("the link does not use TLS (tls-replication / tls-cluster is no)")
                return
            out_file = facts.get("tls_client_cert_file") or ""
            out_eku, _, out_cert = cert_facts(out_file, "clientAuth") if out_file else (None, "", None)
            if out_cert is None and spec.tls:
                out_cert = peer_certificate(spec, short)
                out_eku = None if out_cert is None else "clientAuth" in pki.cert_info(out_cert).eku
            if out_cert is not None:
                facts["outgoing_client_auth"] = out_eku
                ev.append(describe_cert("certificate the node presents to its peers", out_cert))
        return
    if outcome.stage == "connect":
        return
    if not spec.tls:
        facts["server_speaks"] = "tls" if probe_tls(spec.endpoint, short) else "nothing"
        return
    text = " ".join(text_of(outcome.error))
    handshake_broke = re.search(
        r"timed out|wrong version number|WRONG_VERSION|record layer|packet length|EOF|reset|closed",
        text,
        re.I,
    )
    if outcome.stage == "handshake" and handshake_broke and plaintext_ping(spec.endpoint, short).ok:
        facts["server_speaks"] = "resp"
        return
    if versions_bad(spec):
        ev.append("the client offers only TLS versions below 1.2")
    if outcome.stage == "handshake" and re.search(r"handshake failure|HANDSHAKE_FAILURE", text, re.I):
        hello = probe_hello(spec, short)
        facts["hello_alert"] = hello.removeprefix("alert ") if hello.startswith("alert") else ""
        ev.append(f"probe: the server answers the ClientHello with {hello}")
    if outcome.stage == "command" and re.search(r"EOF|reset|closed", text, re.I):
        alert = listen_for_alert(spec, short)
        if alert:
            facts["server_alert"] = alert
            ev.append(f"probe: the server sends alert {alert!r} after the handshake")
    if re.search(r"verify failed|certificate verify|Hostname mismatch|IP address mismatch", text, re.I):
        peer = peer_certificate(spec, short)
        if peer is not None:
            ev.append(describe_cert("server certificate", peer))
            link = (
                missing_intermediate(peer, spec.files.ca, spec.files.cert) if "local issuer" in text else None
            )
            facts["missing_intermediate"] = link is not None
            if link is not None:
                ev.append(
                    f"the server sends its certificate without {link.subject.rfc4514_string()}, the "
                    f"intermediate between it and {link.issuer.rfc4514_string()} (the CA the client trusts)"
                )
