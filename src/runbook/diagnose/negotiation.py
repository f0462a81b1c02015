"""The classic toolkit as functions: one verified handshake and what it negotiated (as
``openssl s_client -brief`` shows it), and which TLS versions and TLS 1.2 ciphers a server accepts.
Each opens short connections and changes nothing."""

from __future__ import annotations

import ssl
from collections.abc import Sequence

from cryptography.hazmat.primitives.serialization import Encoding

from runbook.client import LENIENT_CIPHERS, probe
from runbook.client.probe import Handshake
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


def handshake(spec: ClientSpec, timeout: float = 3.0) -> Handshake:
    """One verified handshake plus ``PING`` (:class:`~runbook.client.probe.Handshake`, ``reply``
    the answer); raises :class:`RunbookError` with the diagnosis if it fails."""
    outcome = attempt(spec, timeout)
    if not outcome.ok:
        d = diagnose(outcome)
        raise RunbookError(f"handshake to {spec.endpoint.address} failed: {d.cause}: {d.fix}")
    peer = peer_certificate(spec, timeout)
    return Handshake.of(
        outcome.facts.get("protocol", ""),
        outcome.facts.get("cipher", ""),
        peer.public_bytes(Encoding.DER) if peer is not None else None,
        reply=outcome.reply,
    )


def _handshake_ok(spec: ClientSpec, timeout: float) -> bool:
    try:
        ctx = spec.context()
    except (OSError, ValueError):
        return False
    return probe.handshake(spec.endpoint, ctx, timeout=timeout, read_chain=False).ok


def protocols_accepted(spec: ClientSpec, timeout: float = 2.0) -> dict[str, bool]:
    """Which TLS versions the server completes a handshake with (one connection per version).

    Old versions are offered at OpenSSL security level 0, so "refused" is the server's verdict.
    """
    out = {}
    for name, version in VERSIONS.items():
        old = version < ssl.TLSVersion.TLSv1_2
        limited = spec.limited(version, LENIENT_CIPHERS if old else spec.ciphers)
        out[name] = _handshake_ok(limited, timeout)
    return out


def ciphers_accepted(
    spec: ClientSpec, candidates: Sequence[str] = TLS12_CIPHERS, timeout: float = 2.0
) -> dict[str, bool]:
    """Which TLS 1.2 cipher suites the server accepts, one offered at a time (one connection each)."""
    out = {}
    for cipher in candidates:
        out[cipher] = _handshake_ok(spec.limited(ssl.TLSVersion.TLSv1_2, cipher), timeout)
    return out
