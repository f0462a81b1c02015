"""What every lint rule shares: the ``add`` callback, integer values, the loaded pairs, EKU lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509

from runbook.config.parsing import ParsedConfig

Add = Any  # callable(severity, directive, message, fix)


@dataclass
class Pair:
    """A certificate and private key loaded from the file directives of one role (server/client)."""

    cert: x509.Certificate | None = None
    key: Any = None


def int_value(conf: ParsedConfig, name: str, default: int) -> int | None:
    """The directive as an int, ``default`` when absent, None when it is not a number."""
    value = conf.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None


def eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    """The extended key usages of ``cert``, None when it has no EKU extension (any use)."""
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
