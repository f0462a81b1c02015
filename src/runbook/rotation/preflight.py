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
from runbook.client import chain_refusal, client_refusal
from runbook.errors import RunbookError
from runbook.results import CheckResult, all_ok
from runbook.rotation.report import RotationReport
from runbook.rotation.targets import NodeTarget

_Add = Callable[[str, bool, str, str], None]


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
        want = list(dict.fromkeys([*(names or ()), *(pki.served_names(old) if old is not None else [])]))
        out.append(server_names_check(f"{prefix}sans", new, names, old))
        out.append(
            served_chain_check(
                f"{prefix}chain",
                new,
                key,
                chain,
                trust,
                (want or pki.served_names(new) or ["localhost"])[0],
                server_trust,
            )
        )
        if needs_client_auth:
            ok, fix = "valid as a link client for the servers' CA", "issue it from the CA the servers trust"
            out.append(client_chain_check(f"{prefix}link-chain", new, key, chain, server_trust, ok, fix))
    else:
        ok, fix = (
            "chains to the CA the server trusts (strict X.509)",
            "issue it from the CA in the server's tls-ca-cert-file",
        )
        out.append(client_chain_check(f"{prefix}chain", new, key, chain, server_trust, ok, fix))
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
            f"Redis, redis-cli and OpenSSL clients verify {served} to {trust.label}; "
            f"{_strict_why(leaf, chain, trust.certs, reason, name)}",
            _strict_fix(leaf, chain, trust.certs, name, "server", trust.path),
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
    """serverAuth/clientAuth as the certificate is used; no extendedKeyUsage at all means any purpose
    to OpenSSL (and so to Redis): Redis's gen-test-certs, cert-manager's default usages make them so."""
    info = pki.cert_info(new)
    if not info.eku:
        add("eku", True, "no extendedKeyUsage: valid for any purpose (OpenSSL, Redis)", "")
        return
    wanted_eku = "serverAuth" if purpose == "server" else "clientAuth"
    ekus = [wanted_eku] + (["clientAuth"] if needs_client_auth and purpose == "server" else [])
    missing_eku = [e for e in ekus if e not in info.eku]
    add(
        "eku",
        not missing_eku,
        f"extended key usage {', '.join(info.eku) or 'none'}",
        f"issue it with {', '.join(missing_eku)}",
    )


def server_names_check(
    check_id: str, new: x509.Certificate, names: Sequence[str], old: x509.Certificate | None
) -> CheckResult:
    """Does ``new`` cover every name clients use (``names``, and every name ``old``, the served
    certificate, is accepted for), matched as OpenSSL matches them (a subject CN only when there is no
    DNS subjectAltName)?

    pass: every name in subjectAltName. warn: some name only in the subject CN where the served
    certificate was no better (gen-test-certs): Redis-compatible clients accept it, clients reading
    names only from subjectAltName refuse it (the fix: ``adopt --migrate``). fail: a name not matched
    at all, or moved from the served certificate's subjectAltName to the CN only (clients that verify
    the served certificate by its SAN would refuse the new one).
    """
    seen: dict[str, str] = {}  # each name once (names compare case-insensitively), the clients' first
    for n in [*names, *(pki.served_names(old) if old is not None else [])]:
        seen.setdefault(n.lower(), n)
    want = list(seen.values())
    how = {n: pki.name_match(new, n) for n in want}
    missing = [n for n in want if not how[n]]
    lost = [n for n in want if how[n] == "cn" and old is not None and pki.name_match(old, n) == "san"]
    cn_only = [n for n in want if how[n] == "cn" and n not in lost]
    sans = ", ".join(f"{'IP' if pki.is_ip(n) else 'DNS'}:{n}" for n in want)
    fix = f"re-issue it with subjectAltName {sans}"
    problems = []
    if missing:
        in_cn = [n for n in missing if any(c.lower() == n.lower() for c in pki.common_names(new))]
        why = (
            f" ({', '.join(in_cn)} only in the subject CN, which OpenSSL ignores when a DNS subjectAltName "
            "is present, and never reads for an IP address)"
            if in_cn
            else ""
        )
        problems.append(f"does not cover {', '.join(missing)}{why}")
    if lost:
        problems.append(
            f"names {', '.join(lost)} only in its subject CN, where the served certificate has "
            f"{'it' if len(lost) == 1 else 'them'} in subjectAltName: {pki.SAN_ONLY_CLIENTS} verify the "
            "served certificate and would refuse this one"
        )
    if problems:
        return CheckResult(check_id, "fail", "; ".join(problems), fix)
    if cn_only:
        return CheckResult(
            check_id,
            "warn",
            f"Redis, redis-cli and OpenSSL clients accept it for {', '.join(want)}, but it names "
            f"{', '.join(cn_only)} only in its subject CN (no DNS subjectAltName"
            f"{', like the served certificate' if old is not None else ''}): {pki.SAN_ONLY_CLIENTS} refuse it",
            f"{fix}: `runbook adopt --host H --port N --ca FILE --cert FILE --key FILE --ca-key FILE "
            "--migrate` re-issues the leaves so, without downtime",
        )
    return CheckResult(check_id, "pass", f"covers {', '.join(want)}")


def client_chain_check(
    check_id: str,
    cert: x509.Certificate,
    key: pki.PrivateKey | None,
    chain: Sequence[x509.Certificate],
    server_trust: Sequence[x509.Certificate],
    ok: str,
    fix: str,
    ca_path: str = "",
) -> CheckResult:
    """Will a server trusting ``server_trust`` (its tls-ca-cert-file, ``ca_path`` when known) accept ``cert`` + ``chain`` as a
    client (a client identity, a replication or cluster link)?

    pass: strict X.509 verifies it. warn: Redis (OpenSSL, asked through a real in-memory handshake with
    ``key``) accepts it, strict verifiers refuse it (a v1 certificate as ``openssl x509 -req`` makes it
    without ``-extfile``, a CA without keyUsage): the finding and its fix, never a blocker. fail: Redis
    would refuse it, with OpenSSL's reason and ``fix``.
    """
    try:
        pki.verify_client_cert(cert, server_trust, intermediates=chain)
        return CheckResult(check_id, "pass", ok)
    except RunbookError as exc:
        reason = str(exc)
    refusal = _compatible_client_refusal(cert, key, chain, server_trust)
    if refusal == "":
        return CheckResult(
            check_id,
            "warn",
            f"Redis and OpenSSL accept this client certificate; {_strict_why(cert, chain, server_trust, reason)}",
            _strict_fix(cert, chain, server_trust, "", "client", ca_path),
        )
    if refusal is not None:
        reason = f"Redis (OpenSSL) refuses it: {refusal}"
    return CheckResult(check_id, "fail", reason, fix)


def _compatible_client_refusal(
    cert: x509.Certificate,
    key: pki.PrivateKey | None,
    chain: Sequence[x509.Certificate],
    server_trust: Sequence[x509.Certificate],
) -> str | None:
    """OpenSSL's default-flags verdict on a client presenting ``cert`` + ``chain`` to a server trusting
    ``server_trust`` (``""``: accepted), None when it cannot be asked (no matching key, no trust)."""
    if key is None or not server_trust or not pki.key_matches(cert, key):
        return None
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return client_refusal(_pem((cert, *chain)), key_pem, _pem(server_trust), mode="compatible")


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _strict_why(
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    trust: Sequence[x509.Certificate],
    reason: str,
    name: str = "",
) -> str:
    """Why strict clients and verifiers refuse what OpenSSL accepts, in their words."""
    whys = []
    if leaf.version != x509.Version.v3:
        whys.append(
            f"strict clients/verifiers refuse v1 certificates ({leaf.subject.rfc4514_string()} has no "
            "extensions, as `openssl x509 -req` without -extfile makes it)"
        )
    for ca in _weak_cas(chain, trust):
        whys.append(
            f"{pki.STRICT_CLIENTS} refuse its CA {ca.subject.rfc4514_string()}: {', '.join(pki.ca_problems(ca))}"
        )
    if name and pki.name_match(leaf, name) == "cn":
        whys.append(f"{pki.SAN_ONLY_CLIENTS} refuse it: {name} is only in its subject CN")
    return "; ".join(whys) or f"{pki.STRICT_CLIENTS} refuse it: {reason}"


def _strict_fix(
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    trust: Sequence[x509.Certificate],
    name: str,
    purpose: str,
    ca_path: str = "",
) -> str:
    """The fixes that make strict clients accept what OpenSSL accepts: re-sign a weak CA with its own key,
    re-issue a v1 leaf as v3, put a CN-only name in subjectAltName."""
    weak = _weak_cas(chain, trust)
    fixes = [pki.ca_fix(ca_path or "CA_FILE", serial=weak[0].serial_number)] if weak else []
    if leaf.version != x509.Version.v3:
        eku = "serverAuth" if purpose == "server" else "clientAuth"
        fixes.append(
            f"re-issue the {purpose} certificate from the same CA as X.509 v3 (`openssl x509 -req ... -extfile` "
            f"with extendedKeyUsage={eku}{' and a subjectAltName' if purpose == 'server' else ''})"
        )
    if name and pki.name_match(leaf, name) == "cn":
        fixes.append(f"re-issue it with subjectAltName {'IP' if pki.is_ip(name) else 'DNS'}:{name}")
    return "; ".join(fixes) or "issue it from a CA with the strict profile (runbook adopt --migrate)"


def _weak_cas(chain: Sequence[x509.Certificate], trust: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The CAs on the way to ``trust`` (the chain's intermediates, the anchors) strict clients refuse."""
    return [ca for ca in [*chain, *trust] if pki.ca_problems(ca)]


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
