"""What strict clients refuse (runbook.pki.strictness): pure checks over built certificates."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from runbook import pki

KEY = ec.generate_private_key(ec.SECP256R1())
NAME = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Some CA")])
KU = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
NOW = dt.datetime.now(dt.UTC)


def _ca(*exts: tuple[x509.ExtensionType, bool]) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(NAME)
        .issuer_name(NAME)
        .public_key(KEY.public_key())
        .serial_number(7)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
    )
    for ext, critical in exts:
        b = b.add_extension(ext, critical=critical)
    return b.sign(KEY, hashes.SHA256())


BC = x509.BasicConstraints(ca=True, path_length=None)
SKI = x509.SubjectKeyIdentifier.from_public_key(KEY.public_key())


@pytest.mark.parametrize(
    ("exts", "problems"),
    [
        (((BC, True), (KU, True), (SKI, False)), []),
        (((BC, True), (SKI, False)), ["no keyUsage"]),  # the guide's openssl req -x509
        (((BC, False), (KU, True), (SKI, False)), ["basicConstraints not critical"]),
        (((BC, True), (KU, False), (SKI, False)), ["keyUsage not critical"]),
        (((BC, True), (KU, True)), ["no subjectKeyIdentifier"]),
        (((KU, True), (SKI, False)), ["no basicConstraints CA:TRUE"]),
    ],
)
def test_ca_problems(exts: tuple[tuple[x509.ExtensionType, bool], ...], problems: list[str]) -> None:
    assert pki.ca_problems(_ca(*exts)) == problems


def test_strict_findings_name_the_operators_files_and_keep_the_serial() -> None:
    ca = _ca((BC, True), (SKI, False))
    found = pki.strict_findings([ca], [], "redis.internal", ca_path="/etc/redis/tls/ca.crt")
    assert [f.id for f in found] == ["ca-not-strict"]
    fix = found[0].fix
    assert "runbook pki resign-ca --ca /etc/redis/tls/ca.crt --ca-key CA_KEY" in fix
    assert "--out /etc/redis/tls/ca-strict.crt" in fix and f"-set_serial 0x{7:040X} " in fix
    assert "pki create" not in fix


def test_a_strict_ca_has_no_finding() -> None:
    assert pki.strict_findings([_ca((BC, True), (KU, True), (SKI, False))], [], "x") == []
