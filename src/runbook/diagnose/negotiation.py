"""The classic toolkit as functions: one verified handshake and what it negotiated (as
``openssl s_client -brief`` shows it), and which TLS versions and TLS 1.2 ciphers a server accepts.
Each opens short connections and changes nothing."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from runbook import pki
from runbook.client import Endpoint, address, probe
from runbook.diagnose.probes import ClientSpec, attempt, peer_certificate
from runbook.diagnose.verdict import diagnose
from runbook.errors import RunbookError

VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA",
)


@dataclass(frozen=True)
class Handshake:
    """What a handshake negotiated, as ``openssl s_client -brief`` would show it."""

    protocol: str
    cipher: str
    server_subject: str
    server_sans: list[str]
    server_not_after: str
    reply: str


def handshake(host: str, port: int, spec: ClientSpec, timeout: float = 3.0) -> Handshake:
    """One verified handshake plus ``PING``; raises :class:`RunbookError` with the diagnosis if it fails."""
    outcome = attempt(host, port, spec, timeout)
    if not outcome.ok:
        d = diagnose(outcome)
        raise RunbookError(f"handshake to {address(host, port)} failed: {d.cause}: {d.fix}")
    peer = peer_certificate(host, port, timeout, spec)
    info = pki.cert_info(peer) if peer is not None else None
    return Handshake(
        outcome.facts.get("protocol", ""),
        outcome.facts.get("cipher", ""),
        info.subject if info else "",
        info.sans if info else [],
        info.not_after[:10] if info else "",
        outcome.reply,
    )


def _handshake_ok(host: str, port: int, spec: ClientSpec, timeout: float) -> bool:
    try:
        ctx = spec.context()
    except (OSError, ValueError):
        return False
    where = Endpoint(host, port, spec.server_name or "")
    return probe.handshake(where, ctx, timeout=timeout, read_chain=False).ok


def protocols_accepted(host: str, port: int, spec: ClientSpec, timeout: float = 2.0) -> dict[str, bool]:
    """Which TLS versions the server completes a handshake with (one connection per version).

    Old versions are offered at OpenSSL security level 0, so "refused" is the server's verdict.
    """
    out = {}
    for name, version in VERSIONS.items():
        old = version < ssl.TLSVersion.TLSv1_2
        probe = ClientSpec(
            spec.ca, spec.cert, spec.key, spec.server_name, True, version, version,
            "DEFAULT:@SECLEVEL=0" if old else spec.ciphers, spec.key_password,
        )  # fmt: skip
        out[name] = _handshake_ok(host, port, probe, timeout)
    return out


def ciphers_accepted(
    host: str, port: int, spec: ClientSpec, candidates: Sequence[str] = TLS12_CIPHERS, timeout: float = 2.0
) -> dict[str, bool]:
    """Which TLS 1.2 cipher suites the server accepts, one offered at a time (one connection each)."""
    out = {}
    for cipher in candidates:
        probe = ClientSpec(
            spec.ca, spec.cert, spec.key, spec.server_name, True,
            ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, cipher, spec.key_password,
        )  # fmt: skip
        out[cipher] = _handshake_ok(host, port, probe, timeout)
    return out
