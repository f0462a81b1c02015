"""Lint rules on ciphers: TLS 1.2 ciphers must be ECDHE + AEAD, TLS 1.3 suites AES-GCM or ChaCha20."""

from __future__ import annotations

import re
from typing import Any

from runbook.client import cipher_suites
from runbook.config.lint_support import Add
from runbook.config.parsing import ParsedConfig
from runbook.config.settings import STRICT_CIPHERS, STRICT_CIPHERSUITES, STRICT_PROTOCOLS

_WEAK_NAME = re.compile(r"(RC4|3DES|DES|NULL|EXP|EXPORT|MD5|ADH|AECDH|ANON|IDEA|SEED|CAMELLIA|PSK|SRP)")
_AEAD_NAME = re.compile(r"(GCM|CHACHA20|CCM)")


def weak_ciphers(cipher_string: str) -> list[str]:
    """TLS 1.2 ciphers of an OpenSSL cipher string that are not ECDHE + AEAD, with the reason.

    Names are checked as written (so ciphers the local OpenSSL lacks, like RC4, are caught too)
    and the string is expanded by OpenSSL (so aliases such as ``HIGH`` or ``ALL`` are caught).
    """
    weak: dict[str, str] = {}
    for token in re.split(r"[:, ]+", cipher_string):
        if not token or token[0] in "!-+@" or "-" not in token or token.upper() != token:
            continue
        reason = _cipher_weakness(token, None)
        if reason:
            weak[token] = reason
    for cipher in cipher_suites(cipher_string) or []:
        name = cipher["name"]
        if name.startswith("TLS_"):
            continue
        reason = _cipher_weakness(name, cipher)
        if reason and name not in weak:
            weak[name] = reason
    return [f"{n} ({r})" for n, r in weak.items()]


def _cipher_weakness(name: str, info: dict[str, Any] | None) -> str:
    upper = name.upper()
    match = _WEAK_NAME.search(upper)
    if match:
        return match.group(1)
    aead = bool(info["aead"]) if info else bool(_AEAD_NAME.search(upper))
    if not aead:
        return "CBC, not AEAD"
    kea = info["kea"] if info else ("kx-ecdhe" if upper.startswith("ECDHE-") else "other")
    if kea != "kx-ecdhe":
        return "no ECDHE forward secrecy"
    if "CCM8" in upper:
        return "CCM8 short tag"
    return ""


def lint_ciphers(conf: ParsedConfig, add: Add) -> None:
    protos = (conf.get("tls-protocols") or STRICT_PROTOCOLS).split()
    tls12 = any(p in protos for p in ("TLSv1", "TLSv1.1", "TLSv1.2"))
    value = conf.get("tls-ciphers")
    if value is None:
        if tls12:
            add(
                "warn",
                "tls-ciphers",
                "tls-ciphers is not set: the OpenSSL default list includes CBC (non-AEAD) ciphers",
                f"set tls-ciphers {STRICT_CIPHERS}",
            )
    else:
        weak = weak_ciphers(value)
        if weak:
            shown = ", ".join(weak[:4]) + (f" and {len(weak) - 4} more" if len(weak) > 4 else "")
            add(
                "error",
                "tls-ciphers",
                f"tls-ciphers allows weak TLS 1.2 ciphers: {shown}",
                f"set tls-ciphers {STRICT_CIPHERS}",
            )
    suites = conf.get("tls-ciphersuites")
    if suites:
        bad = [s for s in suites.split(":") if s and s not in STRICT_CIPHERSUITES.split(":")]
        if bad:
            add(
                "warn",
                "tls-ciphersuites",
                f"tls-ciphersuites includes {', '.join(bad)} (not AES-GCM or ChaCha20-Poly1305)",
                f"set tls-ciphersuites {STRICT_CIPHERSUITES}",
            )
    if (conf.get("tls-prefer-server-ciphers") or "no").lower() != "yes":
        add(
            "info",
            "tls-prefer-server-ciphers",
            "tls-prefer-server-ciphers is off: the client's cipher order wins",
            "set tls-prefer-server-ciphers yes",
        )
