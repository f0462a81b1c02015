"""Preflight: check new material before anything is touched, and the gate that stops a rotation.

:func:`preflight_leaf` checks one new certificate and key (key match, validity window, extended
key usage, names, strict X.509 chain to the CA each side trusts); it reads nothing and writes
nothing. :func:`stop_after_preflight` records the checks and stops a refused rotation or a dry run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509

from runbook import pki
from runbook.errors import RunbookError
from runbook.results import CheckResult, all_ok
from runbook.rotation.report import RotationReport
from runbook.rotation.targets import NodeTarget

_Add = Callable[[str, bool, str, str], None]


def _names_of(cert: x509.Certificate) -> list[str]:
    return [s.split(":", 1)[1] for s in pki.cert_info(cert).sans]


def preflight_leaf(
    prefix: str,
    new: x509.Certificate,
    key: pki.PrivateKey | None,
    *,
    purpose: Literal["server", "client"],
    client_trust: Sequence[x509.Certificate],
    server_trust: Sequence[x509.Certificate],
    names: Sequence[str] = (),
    old: x509.Certificate | None = None,
    needs_client_auth: bool = False,
) -> list[CheckResult]:
    """Check new material before anything is touched. Reads nothing, writes nothing.

    ``client_trust``: the CA(s) the clients trust (they verify a server certificate);
    ``server_trust``: the CA(s) the server trusts (it verifies client and link certificates).
    """
    out: list[CheckResult] = []

    def add(check: str, ok: bool, detail: str, fix: str) -> None:
        out.append(CheckResult(f"{prefix}{check}", "pass" if ok else "fail", detail, "" if ok else fix))

    _check_key_and_window(add, new, key)
    _check_eku(add, new, purpose, needs_client_auth)
    if purpose == "server":
        want = list(dict.fromkeys([*(names or ()), *(_names_of(old) if old is not None else [])]))
        _check_server_names_and_chain(add, new, want, client_trust)
        if needs_client_auth:
            ok, fix = "valid as a link client for the servers' CA", "issue it from the CA the servers trust"
            _check_chain(add, "link-chain", new, server_trust, ok, fix)
    else:
        ok, fix = (
            "chains to the CA the server trusts (strict X.509)",
            "issue it from the CA in the server's tls-ca-cert-file",
        )
        _check_chain(add, "chain", new, server_trust, ok, fix)
    return out


def _check_key_and_window(add: _Add, new: x509.Certificate, key: pki.PrivateKey | None) -> None:
    matches = key is not None and pki.key_matches(new, key)
    add(
        "key-match",
        matches,
        "the new key is the private half of the new certificate"
        if matches
        else "the new key does not belong to the new certificate",
        "pass the key that was issued with this certificate",
    )
    now = dt.datetime.now(dt.UTC)
    in_window = new.not_valid_before_utc <= now < new.not_valid_after_utc
    add(
        "validity",
        in_window,
        f"valid now, {(new.not_valid_after_utc - now).days} days left"
        if in_window
        else ("expired" if new.not_valid_after_utc <= now else "not valid yet"),
        "issue a certificate whose validity window contains now (check the clock)",
    )


def _check_eku(add: _Add, new: x509.Certificate, purpose: str, needs_client_auth: bool) -> None:
    info = pki.cert_info(new)
    wanted_eku = "serverAuth" if purpose == "server" else "clientAuth"
    ekus = [wanted_eku] + (["clientAuth"] if needs_client_auth and purpose == "server" else [])
    missing_eku = [e for e in ekus if e not in info.eku]
    add(
        "eku",
        not missing_eku,
        f"extended key usage {', '.join(info.eku) or 'none'}",
        f"issue it with {', '.join(missing_eku)}",
    )


def _check_server_names_and_chain(
    add: _Add, new: x509.Certificate, want: list[str], client_trust: Sequence[x509.Certificate]
) -> None:
    have = set(_names_of(new))
    missing = [n for n in want if n not in have and not _wildcard_covers(have, n)]
    add(
        "sans",
        not missing,
        f"covers {', '.join(want)}" if not missing else f"does not cover {', '.join(missing)}",
        "re-issue it with every name clients use in subjectAltName",
    )
    try:
        pki.verify_server_cert(new, client_trust, (want or _names_of(new) or ["localhost"])[0])
        add("chain", True, "chains to the CA the clients trust (strict X.509)", "")
    except RunbookError as exc:
        add("chain", False, str(exc), "issue it from the CA in ca.crt")


def _check_chain(
    add: _Add, check: str, new: x509.Certificate, server_trust: Sequence[x509.Certificate], ok: str, fix: str
) -> None:
    """``new`` is valid as a client of a server trusting ``server_trust`` (a client or link certificate)."""
    try:
        pki.verify_client_cert(new, server_trust)
        add(check, True, ok, "")
    except RunbookError as exc:
        add(check, False, str(exc), fix)


def _wildcard_covers(have: set[str], name: str) -> bool:
    parts = name.split(".", 1)
    return len(parts) == 2 and f"*.{parts[1]}" in have


def trust_of(path: Path) -> list[x509.Certificate]:
    try:
        return pki.load_certs(path)
    except RunbookError:
        return []


def stop_after_preflight(report: RotationReport, checks: list[CheckResult], dry_run: bool) -> bool:
    """Record the preflight; True when the rotation stops here (refused, or a dry run that is planned)."""
    report.steps += checks
    if not all_ok(checks):
        report.status, report.ok = "refused", False
        report.add(
            "preflight", "fail", "refused before anything was touched", "fix the new certificate and retry"
        )
        return True
    report.add("preflight", "pass", f"{len(checks)} checks passed")
    if dry_run:
        report.status = "planned"
        return True
    return False


def preflight_link(
    node: NodeTarget,
    link: pki.Issued,
    *,
    client_trust: Sequence[x509.Certificate],
    server_trust: Sequence[x509.Certificate],
) -> list[CheckResult]:
    """Preflight a node's re-issued outgoing-link certificate (it is a client of the other servers)."""
    return preflight_leaf(
        f"preflight:{node.name}:link-",
        link.cert,
        link.key,
        purpose="client",
        client_trust=client_trust,
        server_trust=server_trust,
    )
