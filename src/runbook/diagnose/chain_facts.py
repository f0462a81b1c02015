"""Is the server leaving out its intermediate CA? A fact for the verdict, read from what the client holds.

Clients that trust only a root (step-ca's ``root_ca.crt``, Vault's root) need the server to send
leaf + intermediate. When the server sends its leaf alone, OpenSSL says "unable to get local issuer
certificate", the same words as for a client given the wrong CA. The two are told apart here: the
presented leaf's issuer is not in the client's CA file, but an intermediate the client itself holds
(its own certificate file: leaf + intermediate, as ``step ca certificate`` writes it) was signed by
a CA in that file and signed the server's leaf. Reads local files and the presented leaf only.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from runbook import pki
from runbook.errors import RunbookError


def missing_intermediate(
    leaf: x509.Certificate, ca_file: str | None, client_cert_file: str | None
) -> x509.Certificate | None:
    """The intermediate that links ``leaf`` to a CA of ``ca_file`` (found in ``client_cert_file``)
    when the server omitted it; None when that is not the explanation."""
    cas = certs_in(ca_file)
    if not cas or any(ca.subject == leaf.issuer for ca in cas):
        return None
    for cert in certs_in(client_cert_file)[1:]:
        if (
            cert.subject == leaf.issuer
            and pki.signed_by(leaf, cert)
            and any(pki.signed_by(cert, ca) for ca in cas)
        ):
            return cert
    return None


def certs_in(path: str | None) -> list[x509.Certificate]:
    """The certificates in a PEM file; none when there is no file or it cannot be read (a fact, not an error)."""
    if not path:
        return []
    try:
        return pki.load_certs(Path(path))
    except RunbookError:
        return []
