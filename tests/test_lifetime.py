"""Expiry relative to a certificate's lifetime (runbook.pki.expiry): pure, no server."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from runbook import pki

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
KEY = ec.generate_private_key(ec.SECP256R1())


def _cert(lifetime: dt.timedelta, left: dt.timedelta) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "t")])
    end = NOW + left
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(1)
        .not_valid_before(end - lifetime)
        .not_valid_after(end)
        .sign(KEY, hashes.SHA256())
    )


H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("lifetime", "left", "status", "text"),
    [
        (24 * H, 20 * H, "pass", "20 h left of 24 h"),  # a fresh step certificate: never "0 days"
        (24 * H, 7 * H, "warn", "expires in 7 h of 24 h"),  # under a third: the renewer is late
        (24 * H, 2 * H, "fail", "2 h left of 24 h: renewal is overdue"),  # under a tenth
        (90 * D, 29 * D, "warn", "expires in 29 days"),  # cert-manager renews at 30 days left
        (90 * D, 40 * D, "pass", "40 days left"),
        (365 * D, 100 * D, "pass", "100 days left"),  # long-lived: --warn-days (30) applies, not 1/3
        (365 * D, 20 * D, "warn", "expires in 20 days"),
        (365 * D, 9 * D, "fail", "9 days left: renewal is overdue"),
        (110 * D, 10 * D + H, "warn", "expires in 10 days"),
        (24 * H, -H, "fail", "expired 2026-12-01 11:00Z"),
    ],
)
def test_expiry_is_judged_against_the_lifetime(
    lifetime: dt.timedelta, left: dt.timedelta, status: str, text: str
) -> None:
    judged = pki.expiry(_cert(lifetime, left), warn_days=30, now=NOW)
    assert (judged.status, judged.text) == (status, text)


def test_not_yet_valid_fails() -> None:
    cert = _cert(24 * H, 48 * H)  # starts in 24 h
    assert pki.expiry(cert, now=NOW).status == "fail"
