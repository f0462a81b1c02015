"""Facts about local certificate files for the diagnosis: extended key usage, validity dates, and
a one-line description. Reads files only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cryptography import x509

from runbook import pki
from runbook.errors import RunbookError


def client_cert_facts(path: str | Path | None) -> dict[str, Any]:
    """Facts about the client's own certificate file for :func:`diagnose`: clientAuth and dates."""
    eku, validity, cert = cert_facts(str(path) if path else None, "clientAuth")
    if cert is None:
        return {"client_cert": bool(path)}
    return {"client_cert": True, "client_cert_client_auth": eku, "client_cert_validity": validity}


def cert_facts(path: str | None, wanted: str) -> tuple[bool | None, str, x509.Certificate | None]:
    """(has the wanted EKU, validity state, certificate) of a local certificate file."""
    if not path:
        return None, "", None
    try:
        cert = pki.load_cert(Path(path))
    except (RunbookError, OSError, ValueError):
        return None, "", None
    info = pki.cert_info(cert)
    now = time.time()
    if cert.not_valid_after_utc.timestamp() <= now:
        validity = "expired"
    elif cert.not_valid_before_utc.timestamp() > now:
        validity = "not-yet-valid"
    else:
        validity = "valid"
    return wanted in info.eku or not info.eku, validity, cert


def describe_cert(label: str, cert: x509.Certificate) -> str:
    """One evidence line: subject, issuer, SANs, EKU and validity dates of ``cert``."""
    info = pki.cert_info(cert)
    return (
        f"{label}: subject {info.subject}, issuer {info.issuer}, SANs {', '.join(info.sans) or 'none'}, "
        f"EKU {', '.join(info.eku) or 'none'}, valid {info.not_before[:10]} to {info.not_after[:10]}"
    )
