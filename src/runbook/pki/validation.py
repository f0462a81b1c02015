"""Check what an operator types before anything is built: hostnames, IPs, client names, days."""

from __future__ import annotations

import ipaddress
import re

from runbook.errors import RunbookError

LOCAL_HOSTNAMES = ("localhost",)
LOCAL_IPS = ("127.0.0.1", "::1")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_hostname(name: str) -> str:
    """Return ``name`` lower-cased if it is a valid DNS name (optionally ``*.`` wildcard)."""
    candidate = name.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        raise RunbookError(f"{name!r} is an IP address, not a hostname: pass it with --ip instead")
    labels = candidate.split(".")
    if labels and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    if not candidate or len(candidate) > 253 or not all(_LABEL.match(label) for label in labels):
        raise RunbookError(
            f"invalid hostname {name!r}: use letters, digits, hyphens and dots (e.g. redis.example.com)"
        )
    return candidate


def validate_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IPv4/IPv6 address or raise a RunbookError naming the fix."""
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        raise RunbookError(f"invalid IP address {value!r}: use a literal like 10.0.0.5 or ::1") from None


def validate_client_name(name: str) -> str:
    """Client names become file names and a SAN, so they must be DNS-like."""
    if not _LABEL.match(name) and not all(_LABEL.match(part) for part in name.split(".")):
        raise RunbookError(f"invalid client name {name!r}: use letters, digits and hyphens (e.g. app-worker)")
    return name


def validate_days(days: int, what: str) -> int:
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise RunbookError(f"{what} must be a positive number of days, got {days!r}: e.g. 365")
    return days
