"""``protocol-floor`` and ``tls13-supported``: which TLS versions the server negotiates.

Probes for TLS 1.0/1.1 run at security level 0, because OpenSSL 3's default level refuses them on
the *client* side and would make a server that accepts them look correct. A probe counts as refused
only when the server answers with the ``protocol_version`` alert: a server that got past version
negotiation and failed later (for example because its own security level has no usable cipher)
has the old protocol enabled.
"""

from __future__ import annotations

import ssl
from typing import Any

from runbook.checks.probes import Prober, probe_context
from runbook.checks.verdicts import Add


def protocol_checks(add: Add, evidence: dict[str, Any], t: Prober) -> None:
    """Both checks, and ``protocols_refused`` / ``protocols_accepted`` in ``evidence``."""
    _floor_check(add, evidence, t)
    t13 = t.probe(probe_context(t.files, verify=False, version=ssl.TLSVersion.TLSv1_3))
    if t13.ok:
        evidence["protocols_accepted"].append("TLSv1.3")
        add("tls13-supported", "pass", f"TLSv1.3 handshake with {t13.cipher}")
    else:
        evidence["protocols_refused"].append("TLSv1.3")
        add(
            "tls13-supported",
            "fail",
            f"TLSv1.3 refused: {t13.error}",
            'set tls-protocols "TLSv1.2 TLSv1.3" (OpenSSL >= 1.1.1)',
        )
    t12 = t.probe(probe_context(t.files, verify=False, version=ssl.TLSVersion.TLSv1_2))
    evidence["protocols_accepted" if t12.ok else "protocols_refused"].append("TLSv1.2")


def _floor_check(add: Add, evidence: dict[str, Any], t: Prober) -> None:
    accepted, refused = [], []
    for label, version in (("TLSv1", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1)):
        probe = t.probe(probe_context(t.files, verify=False, version=version))
        if probe.ok:
            accepted.append(f"{label} (handshake completed)")
        elif "PROTOCOL_VERSION" in probe.error.upper() or "protocol version" in probe.error:
            refused.append(label)
        elif "NO_PROTOCOLS_AVAILABLE" in probe.error.upper():
            refused.append(f"{label} (not testable here)")
        else:
            accepted.append(f"{label} (version accepted, then: {probe.error})")
    evidence["protocols_refused"] = [p.split(" ")[0] for p in refused]
    evidence["protocols_accepted"] = [p.split(" ")[0] for p in accepted]
    if accepted:
        add(
            "protocol-floor",
            "fail",
            "server did not refuse " + "; ".join(accepted),
            'set tls-protocols "TLSv1.2 TLSv1.3" and restart or CONFIG SET tls-protocols',
        )
    else:
        add("protocol-floor", "pass", f"{' and '.join(refused)} refused with protocol_version")
