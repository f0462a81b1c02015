"""``tls-handshake`` and ``redis-ping``: does a correctly configured client get in and get PONG?

The trust handshake verifies the chain against the given CA but ignores dates and names
(``cert-expiry`` and ``hostname-verified`` own those), so a trust failure fails this check alone.
"""

from __future__ import annotations

from pathlib import Path

from runbook.checks.verdicts import Add
from runbook.client.probe import Probe


def connection_checks(add: Add, base: Probe, ca_file: str, auth: bool, reachable_tls: bool) -> None:
    """``base`` is the verified handshake that sent (AUTH, when ``auth``, and) PING; ``reachable_tls``:
    some TLS handshake completed (without verification) when ``base`` failed."""
    if not base.ok:
        add("tls-handshake", "fail", base.error, _handshake_fix(base.error, reachable_tls))
        add("redis-ping", "skip", "no TLS connection")
        return
    add("tls-handshake", "pass", f"{base.protocol} {base.cipher}, trusted by {Path(ca_file).name}")
    lines = base.reply.decode(errors="replace").strip().splitlines()
    reply = (lines or [""])[-1]
    if auth and not base.reply.startswith(b"+OK"):
        reply = (lines or [""])[0]
    if reply == "+PONG":
        add("redis-ping", "pass", "PING answered PONG over TLS")
    else:
        add(
            "redis-ping",
            "fail",
            f"PING answered {reply or 'nothing'}",
            "give --user/--password-env for a server with requirepass or ACLs, or read the server log",
        )


def _handshake_fix(error: str, reachable_tls: bool) -> str:
    low = error.lower()
    if "refused" in low:
        return "nothing listens there: start redis-server or give its tls-port"
    if "wrong version number" in low or "record layer failure" in low or (not reachable_tls and "eof" in low):
        return "this port does not speak TLS: give the tls-port, not the plaintext port"
    if "unknown ca" in low or "certificate required" in low or "bad certificate" in low:
        return "the server does not accept this client certificate: issue it from tls-ca-cert-file's CA"
    if "certificate verify failed" in low:
        return "the server certificate is not issued by --ca: give the right CA or re-issue (notebook 01)"
    if "timed out" in low:
        return "no answer: check host, port and firewall"
    return "read the server log (notebook 02) and the message above"
