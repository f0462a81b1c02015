"""The text of a client-side error: an exception and its causes/contexts, on one line each,
plus the OpenSSL reason and verify message ``ssl`` attaches. What the table's ``client`` rows read."""

from __future__ import annotations

import re


def error_chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first (no cycles)."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def describe_error(exc: BaseException) -> str:
    """``"SSLCertVerificationError: [SSL: ...] certificate verify failed: ... "`` on one line."""
    parts = [str(a) for a in exc.args if isinstance(a, str)] or [str(exc)]
    text = " ".join(" ".join(parts).split())
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def text_of(exc: BaseException | None) -> list[str]:
    """Every text the chain of ``exc`` carries: one line per exception, its OpenSSL reason, verify message."""
    out = []
    for e in error_chain(exc):
        out.append(describe_error(e))
        reason = getattr(e, "reason", None)
        if isinstance(reason, str):
            out.append(reason)
        verify = getattr(e, "verify_message", None)
        if isinstance(verify, str) and verify:
            out.append(f"certificate verify failed: {verify}")
    return out
