"""Path validation with ``cryptography.x509.verification`` under strict X.509 rules: a server
certificate for a name, a client certificate for clientAuth.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from runbook.errors import RunbookError
from runbook.pki.builders import utc_now


def _verifier_builder(
    ca_certs: Sequence[x509.Certificate], at: dt.datetime | None = None
) -> x509.verification.PolicyBuilder:
    return PolicyBuilder().store(Store(list(ca_certs))).time(at or utc_now())


def verify_server_cert(
    cert: x509.Certificate,
    ca_certs: Sequence[x509.Certificate],
    hostname: str,
    at: dt.datetime | None = None,
    intermediates: Sequence[x509.Certificate] = (),
) -> None:
    """Raise :class:`RunbookError` unless ``cert`` chains to ``ca_certs`` for ``hostname`` (strict), with
    ``intermediates`` as the server sends them (the rest of its certificate file: step, Vault, ACME)."""
    try:
        subject: x509.verification.Subject = IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        subject = DNSName(hostname)
    try:
        _verifier_builder(ca_certs, at).build_server_verifier(subject).verify(cert, list(intermediates))
    except VerificationError as exc:
        raise RunbookError(f"server certificate does not verify for {hostname}: {_one_line(exc)}") from None


def _client_builder(
    ca_certs: Sequence[x509.Certificate], at: dt.datetime | None
) -> x509.verification.PolicyBuilder:
    """The strict profile, except that a client certificate may lack subjectAltName: a client
    identity is not a name anybody verifies, and Redis, OpenSSL and the guides' certificates agree
    (cryptography < 45 has no extension policies: there the SAN stays required)."""
    builder = _verifier_builder(ca_certs, at)
    policy = getattr(x509.verification, "ExtensionPolicy", None)
    if policy is None:
        return builder
    criticality = x509.verification.Criticality.AGNOSTIC
    ee = policy.webpki_defaults_ee().may_be_present(x509.SubjectAlternativeName, criticality, None)
    return builder.extension_policies(ca_policy=policy.webpki_defaults_ca(), ee_policy=ee)


def verify_client_cert(
    cert: x509.Certificate,
    ca_certs: Sequence[x509.Certificate],
    at: dt.datetime | None = None,
    intermediates: Sequence[x509.Certificate] = (),
) -> None:
    """Raise :class:`RunbookError` unless ``cert`` (with the ``intermediates`` it presents) is a valid
    client certificate under ``ca_certs`` (strict X.509, a subjectAltName not required)."""
    try:
        _client_builder(ca_certs, at).build_client_verifier().verify(cert, list(intermediates))
    except VerificationError as exc:
        raise RunbookError(f"client certificate does not verify: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
