"""Unit tests for runbook.pki: profile, idempotence, backups, bad inputs, passphrases, verify."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from guide_certs import guide_style_ca
from runbook import pki
from runbook.errors import RunbookError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def pki_root(tmp_path: Path) -> Path:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(clients=["redis-client", "app-1"]))
    return root


def test_files_and_permissions(pki_root: Path) -> None:
    paths = pki.PkiPaths(pki_root)
    for f in (paths.ca_cert, paths.server_cert, paths.client_cert(), paths.client_cert("app-1")):
        assert f.is_file() and _mode(f) == 0o644
    for f in (paths.ca_key, paths.server_key, paths.client_key(), paths.client_key("app-1")):
        assert _mode(f) == 0o600
        assert b"PRIVATE KEY" in f.read_bytes()
    assert _mode(pki_root) == 0o700
    assert paths.client_cert("app-1") == pki_root / "clients" / "app-1.crt"
    assert paths.client_names() == ["redis-client", "app-1"]
    assert not list(pki_root.rglob("*.tmp"))


def test_ca_profile_is_strict(pki_root: Path) -> None:
    ca = pki.load_cert(pki_root / "ca.crt")
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert isinstance(ca.signature_hash_algorithm, hashes.SHA256)
    assert all(r.status == "pass" for r in pki.ca_profile(pki_root / "ca.crt"))


@pytest.mark.parametrize(
    ("name", "purpose"), [("redis-server.crt", "server"), ("redis-client.crt", "client")]
)
def test_leaf_profile_is_strict(pki_root: Path, name: str, purpose: str) -> None:
    ca = pki.load_cert(pki_root / "ca.crt")
    leaf = pki.load_cert(pki_root / name)
    bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    wanted = ExtendedKeyUsageOID.SERVER_AUTH if purpose == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    assert list(eku) == [wanted]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    leaf.verify_directly_issued_by(ca)
    assert 0 < leaf.serial_number < 2**159


def test_serials_are_random(tmp_path: Path) -> None:
    ca = pki.make_ca()
    serials = {pki.make_leaf(ca, "x", purpose="client", hostnames=["x"]).cert.serial_number for _ in range(5)}
    assert len(serials) == 5


@pytest.mark.parametrize(
    ("key_type", "cls", "size"),
    [
        ("ecdsa-p256", ec.EllipticCurvePrivateKey, 256),
        ("rsa-2048", rsa.RSAPrivateKey, 2048),
        ("rsa-3072", rsa.RSAPrivateKey, 3072),
    ],
)
def test_key_types(tmp_path: Path, key_type: str, cls: type, size: int) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(key_type=key_type))
    info = pki.inspect(root / "redis-server.crt")
    assert (info.key_type, info.key_size) == (key_type, size)
    assert isinstance(pki.load_key(root / "redis-server.key"), cls)
    ku = pki.load_cert(root / "redis-server.crt").extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_encipherment == key_type.startswith("rsa")
    assert all(r.status == "pass" for r in pki.verify(root))


def test_sans_default_and_extra(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(
        root, pki.PkiSpec(hostnames=["Redis.Example.com", "*.cache.example.com"], ips=["10.0.0.5", "fd00::5"])
    )
    sans = pki.inspect(root / "redis-server.crt").sans
    assert sans == [
        "DNS:redis.example.com",
        "DNS:*.cache.example.com",
        "DNS:localhost",
        "IP:10.0.0.5",
        "IP:fd00::5",
        "IP:127.0.0.1",
        "IP:::1",
    ]
    assert pki.inspect(root / "redis-server.crt").subject == "CN=redis.example.com,O=redis-tls-runbook"


def test_no_local_names(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(hostnames=["redis.prod.internal"], local_names=False))
    assert pki.inspect(root / "redis-server.crt").sans == ["DNS:redis.prod.internal"]
    with pytest.raises(RunbookError, match="needs a name"):
        pki.PkiSpec(local_names=False).validate()


def test_inspect_fields(pki_root: Path) -> None:
    info = pki.inspect(pki_root / "redis-server.crt")
    assert info.issuer == "CN=redis-tls-runbook CA,O=redis-tls-runbook"
    assert info.eku == ["serverAuth"] and not info.is_ca
    assert info.days_left in (364, 365)
    assert len(info.fingerprint_sha256.split(":")) == 32
    assert int(info.serial, 16) == pki.load_cert(pki_root / "redis-server.crt").serial_number
    ca = pki.inspect(pki_root / "ca.crt")
    assert ca.is_ca and ca.days_left in (3649, 3650)


def test_second_create_changes_nothing(pki_root: Path) -> None:
    before = _snapshot(pki_root)
    report = pki.create_pki(pki_root, pki.PkiSpec(clients=["redis-client", "app-1"]))
    assert not report.changed and report.backup is None
    assert _snapshot(pki_root) == before


def test_adding_a_client_keeps_the_rest(pki_root: Path) -> None:
    before = _snapshot(pki_root)
    report = pki.create_pki(pki_root, pki.PkiSpec(clients=["redis-client", "app-1", "worker"]))
    assert report.written == ["clients/worker.crt", "clients/worker.key"]
    after = _snapshot(pki_root)
    assert {k: v for k, v in after.items() if k in before} == before
    assert all(r.status == "pass" for r in pki.verify(pki_root))


def test_conflict_without_force_writes_nothing(pki_root: Path) -> None:
    before = _snapshot(pki_root)
    with pytest.raises(RunbookError, match=r"does not cover redis\.example\.com.*--force"):
        pki.create_pki(pki_root, pki.PkiSpec(hostnames=["redis.example.com"]))
    with pytest.raises(RunbookError, match="is not a rsa-2048 certificate"):
        pki.create_pki(pki_root, pki.PkiSpec(key_type="rsa-2048"))
    assert _snapshot(pki_root) == before


def test_force_backs_up_then_replaces(pki_root: Path) -> None:
    before = _snapshot(pki_root)
    report = pki.create_pki(pki_root, pki.PkiSpec(hostnames=["redis.example.com"]), force=True)
    assert report.backup is not None
    backup = Path(report.backup)
    assert backup.parent == pki_root / "backups"
    for name in (
        "ca.crt",
        "ca.key",
        "redis-server.crt",
        "redis-server.key",
        "redis-client.crt",
        "redis-client.key",
    ):
        assert (backup / name).read_bytes() == before[name][0]
    assert _mode(backup / "ca.key") == 0o600 and _mode(backup) == 0o700
    assert (pki_root / "ca.crt").read_bytes() != before["ca.crt"][0]
    assert "DNS:redis.example.com" in pki.inspect(pki_root / "redis-server.crt").sans
    # app-1 was not part of the forced request: it is kept, and now flagged as from the old CA
    results = {r.id: r.status for r in pki.verify(pki_root)}
    assert results["server-chain"] == "pass" and results["client-chain:app-1"] == "fail"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (pki.PkiSpec(hostnames=["bad_host"]), "invalid hostname"),
        (pki.PkiSpec(hostnames=["-lead.example"]), "invalid hostname"),
        (pki.PkiSpec(hostnames=["a" * 64 + ".example"]), "invalid hostname"),
        (pki.PkiSpec(hostnames=["10.0.0.1"]), "pass it with --ip"),
        (pki.PkiSpec(ips=["10.0.0.300"]), "invalid IP address"),
        (pki.PkiSpec(ips=["localhost"]), "invalid IP address"),
        (pki.PkiSpec(days=0), "positive number of days"),
        (pki.PkiSpec(ca_days=-5), "positive number of days"),
        (pki.PkiSpec(key_type="dsa-1024"), "unknown key type"),
        (pki.PkiSpec(clients=["bad client"]), "invalid client name"),
    ],
)
def test_bad_input_raises_and_writes_nothing(tmp_path: Path, spec: pki.PkiSpec, message: str) -> None:
    root = tmp_path / "pki"
    with pytest.raises(RunbookError, match=message) as info:
        pki.create_pki(root, spec)
    assert "\n" not in str(info.value) and ":" in str(info.value)
    assert not root.exists()


def test_issuing_without_the_ca_refuses(pki_root: Path) -> None:
    (pki_root / "ca.key").unlink()
    with pytest.raises(RunbookError, match=r"ca\.key is missing"):
        pki.create_pki(pki_root)
    (pki_root / "ca.crt").unlink()
    with pytest.raises(RunbookError, match=r"not issued by this CA.*--force"):
        pki.create_pki(pki_root)
    assert not (pki_root / "ca.crt").exists()


def test_encrypted_ca_key(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(ca_passphrase=b"s3cret"))
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in (root / "ca.key").read_bytes()
    before = _snapshot(root)
    with pytest.raises(RunbookError, match=r"ca\.key is encrypted: export RUNBOOK_CA_PASSPHRASE"):
        pki.create_pki(root, pki.PkiSpec(clients=["redis-client", "new"]))
    with pytest.raises(RunbookError, match=r"wrong passphrase for ca\.key"):
        pki.create_pki(root, pki.PkiSpec(clients=["redis-client", "new"], ca_passphrase=b"nope"))
    assert _snapshot(root) == before
    report = pki.create_pki(root, pki.PkiSpec(clients=["redis-client", "new"], ca_passphrase=b"s3cret"))
    assert report.written == ["clients/new.crt", "clients/new.key"]


def test_encrypted_server_key(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root, pki.PkiSpec(server_key_passphrase=b"pw"))
    assert b"ENCRYPTED" in (root / "redis-server.key").read_bytes()
    results = {r.id: r for r in pki.verify(root)}
    assert (
        results["server-key-match"].status == "fail" and "is encrypted" in results["server-key-match"].detail
    )
    results = {r.id: r for r in pki.verify(root, server_key_passphrase=b"pw")}
    assert results["server-key-match"].status == "pass"


def test_passphrase_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_PASS", raising=False)
    with pytest.raises(RunbookError, match="X_PASS is empty or unset"):
        pki.passphrase_from_env("X_PASS")
    monkeypatch.setenv("X_PASS", "abc")
    assert pki.passphrase_from_env("X_PASS") == b"abc"
    assert pki.passphrase_from_env(None) is None


def test_load_errors(tmp_path: Path, pki_root: Path) -> None:
    with pytest.raises(RunbookError, match="not found"):
        pki.load_cert(tmp_path / "missing.crt")
    with pytest.raises(RunbookError, match="not a PEM certificate"):
        pki.load_cert(pki_root / "ca.key")
    with pytest.raises(RunbookError, match="not a PEM private key"):
        pki.load_key(pki_root / "ca.crt")
    with pytest.raises(RunbookError, match="is not encrypted"):
        pki.load_key(pki_root / "ca.key", b"pw")


def test_verify_detects_mismatched_key(pki_root: Path) -> None:
    os.replace(pki_root / "redis-client.key", pki_root / "redis-server.key")
    results = {r.id: r for r in pki.verify(pki_root)}
    assert results["server-key-match"].status == "fail"
    assert "does not match" in results["server-key-match"].detail


def test_verify_detects_loose_permissions(pki_root: Path) -> None:
    (pki_root / "redis-server.key").chmod(0o644)
    results = {r.id: r for r in pki.verify(pki_root)}
    assert results["server-key-permissions"].status == "fail"
    assert "chmod 600" in results["server-key-permissions"].fix


def test_verify_detects_hostname_mismatch(pki_root: Path) -> None:
    results = {r.id: r for r in pki.verify(pki_root, "redis.other.example")}
    assert results["server-chain"].status == "fail"
    assert {r.id: r for r in pki.verify(pki_root, "127.0.0.1")}["server-chain"].status == "pass"


def test_verify_detects_wrong_usage_and_expiry(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.create_pki(root)
    ca = pki.Issued(pki.load_cert(root / "ca.crt"), pki.load_key(root / "ca.key"))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    expired = pki.make_leaf(
        ca,
        "localhost",
        purpose="server",
        hostnames=["localhost"],
        not_before=past - dt.timedelta(days=30),
        not_after=past,
    )
    (root / "redis-server.crt").write_bytes(expired.cert_pem())
    (root / "redis-server.key").write_bytes(expired.key_pem())
    # a server certificate used as a client certificate: wrong EKU
    (root / "redis-client.crt").write_bytes(expired.cert_pem())
    (root / "redis-client.key").write_bytes(expired.key_pem())
    results = {r.id: r for r in pki.verify(root)}
    assert results["server-validity"].status == "fail" and "expired" in results["server-validity"].detail
    assert results["server-chain"].status == "fail"
    assert results["client-eku:redis-client"].status == "fail"
    assert results["client-chain:redis-client"].status == "fail"


def test_ca_profile_flags_guide_style_ca(tmp_path: Path) -> None:
    """The common guide's CA: basicConstraints only, no keyUsage. Python 3.13 rejects it."""
    path = tmp_path / "ca.crt"
    path.write_bytes(guide_style_ca(with_ski=False).cert_pem())
    results = {r.id: r.status for r in pki.ca_profile(path)}
    assert results == {
        "ca-basic-constraints": "pass",
        "ca-key-usage": "fail",
        "ca-ski": "fail",
        "ca-signature": "pass",
    }


def test_verify_without_a_pki(tmp_path: Path) -> None:
    results = pki.verify(tmp_path)
    assert [r.status for r in results] == ["fail"] and "pki create" in results[0].fix


def test_chains_verify_a_leaf_through_the_intermediates_it_is_served_with() -> None:
    """step-ca / Vault style: root -> intermediate -> leaf; clients trust the root only."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from runbook.errors import RunbookError

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)

    def ca(cn: str, key: pki.PrivateKey, issuer: pki.Issued | None, path_length: int) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])
        signer = issuer.key if issuer else key
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer.cert.subject if issuer else name)
            .public_key(key.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)  # type: ignore[arg-type]
        )
        if issuer:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())  # type: ignore[arg-type]
            builder = builder.add_extension(aki, critical=False)
        return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]

    root_key, inter_key = pki.generate_key("ecdsa-p256"), pki.generate_key("ecdsa-p256")
    root = pki.Issued(ca("Root", root_key, None, 1), root_key)
    inter = ca("Intermediate", inter_key, root, 0)
    leaf = pki.make_leaf(
        pki.Issued(inter, inter_key), "redis", purpose="server", hostnames=["redis.test"], days=1
    )
    client = pki.make_leaf(pki.Issued(inter, inter_key), "app", purpose="client", hostnames=["app"], days=1)
    pki.verify_server_cert(leaf.cert, [root.cert], "redis.test", intermediates=[inter])
    pki.verify_client_cert(client.cert, [root.cert], intermediates=[inter])
    with pytest.raises(
        RunbookError, match=r"redis\.test"
    ):  # leaf only: a root-only client cannot build the path
        pki.verify_server_cert(leaf.cert, [root.cert], "redis.test")
    with pytest.raises(RunbookError):
        pki.verify_client_cert(client.cert, [root.cert])
