"""The common guide's CA, for tests that prove why ours differs: CA:TRUE, but no keyUsage.

Python 3.13's default context (VERIFY_X509_STRICT) rejects it; `pki.ca_profile` flags it.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from runbook import pki


def guide_style_ca(with_ski: bool = True, days: int = 30) -> pki.Issued:
    """A self-signed CA with only basicConstraints (and optionally SKI), as common guides build it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Guide CA")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if with_ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    return pki.Issued(builder.sign(key, hashes.SHA256()), key)
