"""Expiry judged against a certificate's own lifetime, so short-lived PKIs are not always "expiring".

A 24 h step certificate has "0 days" left all its life; a renewer (cert-manager, step, Vault agent)
renews at about 2/3 of the lifetime. So:

* ``warn`` when less than a third of the lifetime is left (``warn_days`` instead for long-lived
  certificates, those living longer than three times ``warn_days``, which are rotated by hand);
* ``fail`` when renewal is overdue: less than a tenth of the lifetime left (at most ``warn_days / 3``
  for long-lived ones), expired, or not valid yet;
* hours are shown when the lifetime or the time left is under two days.

Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

TWO_DAYS = dt.timedelta(days=2)


@dataclass(frozen=True)
class Expiry:
    """A certificate's validity judged now: ``status`` pass/warn/fail and a short text."""

    status: Literal["pass", "warn", "fail"]
    text: str
    left: dt.timedelta
    lifetime: dt.timedelta


def span(delta: dt.timedelta, *, hours: bool) -> str:
    """``20 h`` / ``45 min`` with ``hours``, else ``364 days``."""
    seconds = max(delta.total_seconds(), 0)
    if not hours:
        return f"{int(seconds // 86400)} days"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"


def expiry(cert: x509.Certificate, warn_days: int = 30, now: dt.datetime | None = None) -> Expiry:
    """Judge ``cert``'s validity at ``now`` against its lifetime (module docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    lifetime, left = end - start, end - now
    short = lifetime < TWO_DAYS or left < TWO_DAYS
    if start > now:
        return Expiry("fail", f"not valid before {start:%Y-%m-%d %H:%M}Z", left, lifetime)
    if left <= dt.timedelta(0):
        return Expiry("fail", f"expired {end:%Y-%m-%d %H:%M}Z", left, lifetime)
    long_lived = lifetime > dt.timedelta(days=3 * warn_days)
    warn_at = dt.timedelta(days=warn_days) if long_lived else lifetime / 3
    fail_at = min(lifetime / 10, dt.timedelta(days=warn_days) / 3)
    of = f" of {span(lifetime, hours=True)}" if short else ""
    text = f"{span(left, hours=short)} left{of}"
    if left < fail_at:
        return Expiry("fail", f"{text}: renewal is overdue", left, lifetime)
    if left < warn_at:
        return Expiry("warn", f"expires in {span(left, hours=short)}{of}", left, lifetime)
    return Expiry("pass", text, left, lifetime)


def judged_chain(chain: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of a served chain whose dates matter: the leaf and its intermediates. A
    self-signed root sent along is left out: clients verify against their own copy of it."""
    return [*chain[:1], *(c for c in chain[1:] if c.subject != c.issuer)]


def chain_not_after(chain: Sequence[x509.Certificate]) -> dt.datetime:
    """The earliest notAfter of a served chain (leaf and intermediates): when the chain stops verifying."""
    return min(c.not_valid_after_utc for c in judged_chain(chain))


def chain_expiry(
    chain: Sequence[x509.Certificate], warn_days: int = 30, now: dt.datetime | None = None
) -> list[Expiry]:
    """:func:`expiry` of the leaf and every intermediate of a served chain (:func:`judged_chain`),
    leaf first, each against its own lifetime."""
    now = now or dt.datetime.now(dt.UTC)
    return [expiry(c, warn_days, now) for c in judged_chain(chain)]
