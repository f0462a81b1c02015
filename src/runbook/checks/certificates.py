"""The certificate checks: ``hostname-verified``, ``chain-strict``, ``cert-expiry``, ``key-strength``.

They read the chain the server presented (and the client's own certificate). The strict chain check
verifies under cryptography's RFC 5280 profile at a moment inside the validity window (dates are
``cert-expiry``'s concern) for a name the certificate claims (names are ``hostname-verified``'s).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from runbook import pki
from runbook.checks.probes import WRONG_NAME, Prober, probe_context
from runbook.checks.verdicts import Add
from runbook.client.probe import is_ip
from runbook.pki import cert_info, load_certs, strict_findings


def certificate_checks(
    add: Add,
    evidence: dict[str, Any],
    t: Prober,
    chain: list[x509.Certificate],
    cas: list[x509.Certificate],
    trusted: bool,
    warn_days: int,
) -> None:
    """``hostname-verified``, ``chain-strict``, ``cert-expiry``, ``key-strength``; ``trusted``: the chain verified against the CA. Sets ``certificates`` evidence."""
    _hostname_check(add, t, chain, trusted)
    _chain_strict_check(add, t, chain, cas, trusted)
    client_certs: list[tuple[str, x509.Certificate]] = []
    if t.files.cert:
        client_certs = [("client", load_certs(Path(t.files.cert))[0])]
    intermediates = _intermediates(chain)
    _expiry_check(add, chain, [("server", chain[0]), *intermediates], client_certs, warn_days)
    key_check(add, [("server", chain[0])] + [("chain", c) for c in chain[1:]] + client_certs)
    evidence["certificates"] = [
        {
            "role": role,
            "subject": c.subject.rfc4514_string(),
            "serial": format(c.serial_number, "X"),
            "not_after": c.not_valid_after_utc.isoformat(),
            "sans": _names(c),
        }
        for role, c in [("server", chain[0]), *(("intermediate", c) for _, c in intermediates), *client_certs]
    ]


def _hostname_check(add: Add, t: Prober, chain: list[x509.Certificate], trusted: bool) -> None:
    if not trusted:
        add("hostname-verified", "skip", "the chain does not verify: see tls-handshake")
        return
    names = ", ".join(_names(chain[0])) or "no subjectAltName (the CN is not a name clients check)"
    right = t.probe(probe_context(t.files, check_hostname=True))
    wrong = t.probe(probe_context(t.files, check_hostname=True), server_name=WRONG_NAME)
    if not right.ok:
        add(
            "hostname-verified",
            "fail",
            f"certificate names {names} do not match {t.name}: {right.error}",
            f"connect by a listed name, or re-issue the server certificate with {t.name} in its subjectAltName "
            f"from the CA that issued it (the runbook's own PKI: `runbook pki create --dir DIR "
            f"{'--ip' if is_ip(t.name) else '--hostname'} {t.name} --force`), then reload it with "
            "`runbook rotate server --new-cert FILE --new-key FILE`",
        )
    elif wrong.ok:
        add(
            "hostname-verified",
            "fail",
            f"a wrong name ({WRONG_NAME}) was accepted: certificate names {names}",
            "re-issue the server certificate without wildcard-everything names",
        )
    else:
        add("hostname-verified", "pass", f"{t.name} matches ({names}); {WRONG_NAME} is rejected")


def _chain_strict_check(
    add: Add, t: Prober, chain: list[x509.Certificate], cas: list[x509.Certificate], trusted: bool
) -> None:
    if not trusted:
        add("chain-strict", "skip", "the chain does not verify at all: see tls-handshake")
        return
    claimed = t.name if _matches(chain[0], t.name) else _first_name(chain[0]) or t.name
    problem = _strict_chain_problem(chain, cas, claimed)
    strict = t.probe(probe_context(t.files, strict=True))
    if problem is None and strict.ok:
        add("chain-strict", "pass", f"{len(chain)} presented, verifies with VERIFY_X509_STRICT")
    else:
        ca_findings = [
            f for f in strict_findings(cas, chain, claimed, ca_path=t.files.ca) if f.id == "ca-not-strict"
        ]
        add(
            "chain-strict",
            "fail",
            ca_findings[0].detail if ca_findings else problem or f"OpenSSL X509_STRICT: {strict.error}",
            ca_findings[0].fix
            if ca_findings
            else "re-issue with the strict profile: CA keyUsage/basicConstraints critical, SKI/AKI (notebook 01)",
        )


def _intermediates(chain: list[x509.Certificate]) -> list[tuple[str, x509.Certificate]]:
    """The intermediates served after the leaf (:func:`runbook.pki.judged_chain`), named by their
    subject's CN (else the whole subject)."""
    out = []
    for cert in pki.judged_chain(chain)[1:]:
        cn = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
        out.append((f"intermediate {cn[0] if cn else cert.subject.rfc4514_string()}", cert))
    return out


def _expiry_check(
    add: Add,
    chain: list[x509.Certificate],
    served: list[tuple[str, x509.Certificate]],
    client_certs: list[tuple[str, x509.Certificate]],
    warn_days: int,
) -> None:
    """Every certificate of the served chain (leaf and intermediates, :func:`runbook.pki.chain_expiry`,
    as the watcher's chain gauge) and the client's, each judged against its own lifetime: a 24 h
    certificate is not "expiring" all its life; hours are shown for short-lived ones. The fix names
    the certificate that is due and its issuer's way to renew it."""
    certs = [*served, *client_certs]  # served: the roles of pki.judged_chain(chain), in its order
    judged = [*pki.chain_expiry(chain, warn_days), *(pki.expiry(c, warn_days) for _, c in client_certs)]
    rank = {"pass": 0, "warn": 1, "fail": 2}
    worst = max((j.status for j in judged), key=rank.__getitem__, default="pass")
    parts = [f"{role} {j.text}" for (role, _), j in zip(certs, judged, strict=True)]
    due = [role for (role, _), j in zip(certs, judged, strict=True) if j.status == worst != "pass"]
    fix = ""
    if worst != "pass":
        what = ", ".join(due)
        when = "soon" if worst == "warn" else "now"
        if any(r.startswith("intermediate") for r in due):
            fix = f"renew {what} {when} through its issuer, then serve the new chain (`runbook watch --once`)"
        else:
            fix = f"rotate {what} {when} (notebook 05, `runbook rotate`)"
    add("cert-expiry", worst, f"{'; '.join(parts)} (warn below {warn_days})", fix)


def key_check(add: Add, certs: list[tuple[str, x509.Certificate]]) -> None:
    """``key-strength``: every (role, certificate) key is RSA 2048+, EC 256+, Ed25519 or Ed448."""
    parts, weak = [], []
    for role, cert in certs:
        ok, desc = _key_ok(cert.public_key())
        parts.append(f"{role} {desc}")
        if not ok:
            weak.append(f"{role} {desc}")
    if weak:
        add(
            "key-strength",
            "fail",
            f"weak keys: {', '.join(weak)}",
            "re-issue with --key-type ecdsa-p256 or rsa-2048+ (notebook 01)",
        )
    else:
        add("key-strength", "pass", ", ".join(parts))


def parse_chain(chain: Sequence[bytes]) -> list[x509.Certificate]:
    """A presented chain (DER, leaf first) as certificates."""
    return [x509.load_der_x509_certificate(der) for der in chain]


def _key_ok(public_key: object) -> tuple[bool, str]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return public_key.key_size >= 2048, f"RSA {public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.curve.key_size >= 256, f"EC {public_key.curve.name}"
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return True, type(public_key).__name__.replace("PublicKey", "")
    if isinstance(public_key, dsa.DSAPublicKey):
        return False, f"DSA {public_key.key_size}"
    return False, type(public_key).__name__


def _names(cert: x509.Certificate) -> list[str]:
    return cert_info(cert).sans


def _matches(cert: x509.Certificate, name: str) -> bool:
    """True when ``name`` is in the certificate's SAN (exact, or one-label wildcard)."""
    name = name.strip("[]").lower().rstrip(".")
    for san in _names(cert):
        kind, _, value = san.partition(":")
        if kind == "IP" and is_ip(name) and ipaddress.ip_address(value) == ipaddress.ip_address(name):
            return True
        if kind == "DNS" and not is_ip(name):
            value = value.lower()
            if value == name:
                return True
            if value.startswith("*.") and "." in name and name.split(".", 1)[1] == value[2:]:
                return True
    return False


def _first_name(cert: x509.Certificate) -> str | None:
    for san in _names(cert):
        kind, _, value = san.partition(":")
        if kind in ("DNS", "IP") and not value.startswith("*"):
            return value
    return None


def _strict_chain_problem(
    chain: list[x509.Certificate], cas: list[x509.Certificate], name: str
) -> str | None:
    """None when the chain verifies under cryptography's strict RFC 5280 profile, else why not.

    Verified at a moment inside every certificate's validity (dates are cert-expiry's concern)
    for ``name`` (a name the certificate claims; hostname-verified owns the name). Key-size
    complaints are left to key-strength.
    """
    from cryptography.x509 import DNSName, IPAddress
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    start = max(c.not_valid_before_utc for c in [*chain, *cas])
    end = min(c.not_valid_after_utc for c in [*chain, *cas])
    now = dt.datetime.now(dt.UTC)
    at = now if start <= now <= end else (start + dt.timedelta(seconds=1) if start < end else now)
    subject: x509.verification.Subject = (
        IPAddress(ipaddress.ip_address(name.strip("[]"))) if is_ip(name) else DNSName(name)
    )
    try:
        verifier = PolicyBuilder().store(Store(cas)).time(at).build_server_verifier(subject)
        verifier.verify(chain[0], chain[1:])
    except VerificationError as exc:
        message = " ".join(str(exc).split())
        low = message.lower()
        if "key" in low and ("too small" in low or "size" in low):
            return None  # key-strength owns key sizes
        if "subjectaltname" in low:
            return None  # a missing or non-matching SAN is hostname-verified's concern
        if "validation time" in low:
            return None  # no common moment inside every validity window: cert-expiry owns dates
        return message
    except ValueError as exc:
        return " ".join(str(exc).split())
    return None
