"""The matcher: an exception or :class:`Outcome` plus context -> :class:`Diagnosis`. Pure, no I/O
beyond reading a ``log_file`` or certificate named in the context.

The first row of :data:`~runbook.diagnose.signatures.SIGNATURES` whose conditions all hold names
the cause; its fix and notebook come from :data:`~runbook.diagnose.signatures.CAUSE_INFO`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runbook.diagnose.cert_facts import client_cert_facts
from runbook.diagnose.error_text import text_of
from runbook.diagnose.results import Diagnosis, Outcome
from runbook.diagnose.server_log import is_interesting, log_message, read_server_log
from runbook.diagnose.signatures import CAUSE_INFO, SIGNATURES, Signature


def _matches(sig: Signature, client_text: str, log_lines: Sequence[str], facts: Mapping[str, Any]) -> bool:
    if not (sig.client or sig.log or sig.facts):
        return False
    if any(not re.search(p, client_text, re.IGNORECASE) for p in sig.client):
        return False
    for pattern in sig.log:
        if not any(re.search(pattern, line, re.IGNORECASE) for line in log_lines):
            return False
    return all(k in facts and facts[k] == v for k, v in sig.facts.items())


def diagnose(
    exc_or_outcome: BaseException | Outcome | None, context: Mapping[str, Any] | None = None
) -> Diagnosis:
    """Name the cause of a failed (or successful) connection attempt. Pure: no I/O.

    ``exc_or_outcome``: the exception the client raised (redis-py or ``ssl``), an :class:`Outcome`,
    or ``None`` for a success. ``context`` (all optional) may carry ``tls`` (bool: the client used
    TLS), ``client_cert`` (bool: it presented a certificate), ``log`` (server log lines), ``stage``,
    ``server_speaks`` ("tls"/"resp"/"nothing"), ``hello_alert``, ``server_alert``, ``link``
    ("up"/"down"), ``outgoing_client_auth``, ``client_cert_client_auth``, ``client_cert_validity``
    and ``evidence`` (extra lines to show).
    """
    ctx = _normalise(context)
    if isinstance(exc_or_outcome, Outcome):
        outcome = exc_or_outcome
        ctx = {**ctx, **outcome.facts}
        if outcome.stage:
            ctx.setdefault("stage", outcome.stage)
        exc = outcome.error
        evidence = [*outcome.evidence]
    else:
        exc = exc_or_outcome
        evidence = []
    if exc is None and "stage" not in ctx:
        ctx["stage"] = "done"
    # derived fact: the attempt completed and no replication/cluster link is down
    ctx["healthy"] = exc is None and ctx.get("stage") == "done" and ctx.get("link") != "down"
    texts = text_of(exc)
    shown_texts = [t for t in texts if " " in t]  # the bare OpenSSL reason codes only serve matching
    if ctx.get("server_alert"):
        texts.append(f"alert {ctx['server_alert']}")
    log_lines = [str(line) for line in ctx.get("log", []) or []]
    extra = [str(e) for e in ctx.get("evidence", []) or []]
    evidence = list(dict.fromkeys([*shown_texts, *evidence, *extra]))
    client_text = " | ".join(texts)
    for sig in SIGNATURES:
        if _matches(sig, client_text, log_lines, ctx):
            relevant = [ln for ln in log_lines if any(re.search(p, ln, re.IGNORECASE) for p in sig.log)] or [
                ln for ln in log_lines if "SSL routines" in ln and is_interesting(ln)
            ]
            shown = relevant or [ln for ln in log_lines if is_interesting(ln)][-3:]
            return _verdict(sig.cause, [*evidence, *(f"server log: {ln}" for ln in shown[-3:])])
    shown = [f"server log: {ln}" for ln in log_lines if is_interesting(ln)][-3:]
    return _verdict("unknown", [*evidence, *shown] or ["no error text"])


def _normalise(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """Accept the obvious spellings: ``server_log``/``log_lines`` for ``log``, ``log_file`` (read
    it), and a certificate path as ``client_cert`` (its EKU and dates become facts)."""
    ctx = dict(context or {})
    for alias in ("server_log", "log_lines"):
        if "log" not in ctx and alias in ctx:
            ctx["log"] = ctx[alias]
    if "log" not in ctx and ctx.get("log_file"):
        ctx["log"] = read_server_log(ctx["log_file"])
    if isinstance(ctx.get("log"), str):
        ctx["log"] = ctx["log"].splitlines()
    ctx["log"] = [log_message(str(line)) for line in ctx.get("log") or []]
    cert = ctx.get("client_cert")
    if isinstance(cert, str | Path):
        ctx = {**client_cert_facts(cert), **{k: v for k, v in ctx.items() if k != "client_cert"}}
    return ctx


def _verdict(cause: str, evidence: list[str]) -> Diagnosis:
    info = CAUSE_INFO[cause]
    return Diagnosis(cause, info.summary, evidence, info.fix, info.notebook)
