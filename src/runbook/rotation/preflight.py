"""Preflight: check new material before anything is touched, and the gate that stops a rotation.

:func:`preflight_leaf` checks one new certificate and key (key match, validity window, extended
key usage, names, strict X.509 chain to the CA each side trusts); it reads nothing and writes
nothing. :func:`stop_after_preflight` records the checks and stops a refused rotation or a dry run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runbook import pki
from runbook.client import chain_refusal
from runbook.errors import RunbookError
from runbook.results import CheckResult, all_ok
from runbook.rotation.report import RotationReport
from runbook.rotation.targets import NodeTarget

_Add = Callable[[str, bool, str, str], None]


def _names_of(cert: x509.Certificate) -> list[str]:
    return [s.split(":", 1)[1] for s in pki.cert_info(cert).sans]


@dataclass(frozen=True)
class ClientTrust:
    """The anchors the clients of a server really have: the ``--ca`` of the connection identity (not
    the server's own tls-ca-cert-file), and that file's path (named in messages, used by the
    compatible-mode handshake)."""

    certs: Sequence[x509.Certificate]
    path: str = ""

    @classmethod
    def of(cls, path: Path | str) -> ClientTrust:
        return cls(trust_of(Path(path)), str(path))

    @property
    def label(self) -> str:
        """The trust file by name (stable in reports and notebook outputs), else a description."""
        return Path(self.path).name if self.path else "the clients' CA"


def preflight_leaf(
    prefix: str,
    new: x509.Certificate,
    key: pki.PrivateKey | None,
    *,
    purpose: Literal["server", "client"],
    client_trust: Sequence[x509.Certificate] | ClientTrust,
    server_trust: Sequence[x509.Certificate],
    names: Sequence[str] = (),
    old: x509.Certificate | None = None,
    needs_client_auth: bool = False,
    intermediates: Sequence[x509.Certificate] = (),
) -> list[CheckResult]:
    """Check new material before anything is touched. Reads nothing, writes nothing.

    ``client_trust``: the CA(s) the clients trust (they verify a server certificate);
    ``server_trust``: the CA(s) the server trusts (it verifies client and link certificates; OpenSSL
    also completes a served chain from it). ``intermediates``: the rest of the new certificate's file
    (step, Vault: leaf + intermediate): what the server will present with it.
    """
    out: list[CheckResult] = []
    chain = intermediates
    trust = client_trust if isinstance(client_trust, ClientTrust) else ClientTrust(client_trust)

    def add(check: str, ok: bool, detail: str, fix: str) -> None:
        out.append(CheckResult(f"{prefix}{check}", "pass" if ok else "fail", detail, "" if ok else fix))

    _check_key_and_window(add, new, key)
    _check_eku(add, new, purpose, needs_client_auth)
    if purpose == "server":
        want = list(dict.fromkeys([*(names or ()), *(_names_of(old) if old is not None else [])]))
        _check_server_names(add, new, want)
        out.append(
            served_chain_check(
                f"{prefix}chain",
                new,
                key,
                chain,
                trust,
                (want or _names_of(new) or ["localhost"])[0],
                server_trust,
            )
        )
        if needs_client_auth:
            ok, fix = "valid as a link client for the servers' CA", "issue it from the CA the servers trust"
            _check_chain(add, "link-chain", new, server_trust, ok, fix, chain)
    else:
        ok, fix = (
            "chains to the CA the server trusts (strict X.509)",
            "issue it from the CA in the server's tls-ca-cert-file",
        )
        _check_chain(add, "chain", new, server_trust, ok, fix, chain)
    return out


def served_chain_check(
    check_id: str,
    leaf: x509.Certificate,
    key: pki.PrivateKey | None,
    chain: Sequence[x509.Certificate],
    trust: ClientTrust,
    name: str,
    server_store: Sequence[x509.Certificate] = (),
) -> CheckResult:
    """Will every client trusting only ``trust`` verify ``leaf`` + ``chain`` as the server presents it?

    pass: strict X.509 (Python 3.13, ``openssl verify -x509_strict``) verifies it. warn: clients
    verify it, but only because OpenSSL completes the chain from the server's own tls-ca-cert-file
    (``server_store``), or only in compatible mode (Redis, redis-cli, OpenSSL's defaults): strict
    clients would refuse; both with their fix, neither blocks. fail: some trusting client cannot
    verify it (an outage), with the reason.
    """
    served = (
        f"leaf + {len(chain)} intermediate{'s' if len(chain) != 1 else ''}" if chain else "the leaf alone"
    )
    try:
        pki.verify_server_cert(leaf, trust.certs, name, intermediates=chain)
        return CheckResult(check_id, "pass", f"{served} verifies to {trust.label} (strict X.509)")
    except RunbookError as exc:
        reason = str(exc)
    extra = [c for c in server_store if c.subject != c.issuer and c not in chain]
    if extra and not chain:
        try:
            pki.verify_server_cert(leaf, trust.certs, name, intermediates=extra)
            return CheckResult(
                check_id,
                "warn",
                f"the new file holds the leaf alone: clients trusting only {trust.label} verify it "
                "because Redis (OpenSSL) completes the chain from its tls-ca-cert-file, which holds the intermediate",
                "serve leaf + intermediate: append the intermediate CA certificate to the certificate file",
            )
        except RunbookError:
            pass
    compatible = _compatible_refusal(leaf, key, chain, trust, name)
    if compatible == "":
        return CheckResult(
            check_id,
            "warn",
            f"Redis, redis-cli and OpenSSL clients verify {served} to {trust.label}; strict clients "
            f"(Python 3.13's default context, openssl verify -x509_strict) refuse it: {reason}",
            "re-sign the CA certificate with its own key adding critical basicConstraints and keyUsage "
            "keyCertSign, cRLSign (leaves stay valid)",
        )
    issuers = {c.subject for c in trust.certs}
    missing_link = leaf.issuer not in issuers and not any(c.subject == leaf.issuer for c in chain)
    return CheckResult(
        check_id,
        "fail",
        (
            f"clients trusting only {trust.label} cannot verify {served}: its issuer "
            f"{leaf.issuer.rfc4514_string()} is an intermediate the new file does not hold"
            if missing_link
            else f"clients trusting only {trust.label} cannot verify {served}: {reason}"
        ),
        "serve leaf + intermediate: append the intermediate CA certificate to the new certificate file "
        "(leaf first)"
        if missing_link
        else f"issue it from a CA in {trust.label} (with its intermediates after the leaf)",
    )


def _compatible_refusal(
    leaf: x509.Certificate,
    key: pki.PrivateKey | None,
    chain: Sequence[x509.Certificate],
    trust: ClientTrust,
    name: str,
) -> str | None:
    """OpenSSL's default-flags verdict on the served chain (``""``: accepted), None when it cannot be
    asked (no matching key, no trust file)."""
    if key is None or not trust.path or not pki.key_matches(leaf, key):
        return None
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, *chain))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain_refusal(pem, key_pem, trust.path, name, mode="compatible")


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


def _check_server_names(add: _Add, new: x509.Certificate, want: list[str]) -> None:
    have = set(_names_of(new))
    missing = [n for n in want if n not in have and not _wildcard_covers(have, n)]
    add(
        "sans",
        not missing,
        f"covers {', '.join(want)}" if not missing else f"does not cover {', '.join(missing)}",
        "re-issue it with every name clients use in subjectAltName",
    )


def _check_chain(
    add: _Add,
    check: str,
    new: x509.Certificate,
    server_trust: Sequence[x509.Certificate],
    ok: str,
    fix: str,
    chain: Sequence[x509.Certificate] = (),
) -> None:
    """``new`` (presenting ``chain``) is valid as a client of a server trusting ``server_trust``."""
    try:
        pki.verify_client_cert(new, server_trust, intermediates=chain)
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
    client_trust: Sequence[x509.Certificate] | ClientTrust,
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
