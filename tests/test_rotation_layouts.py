"""Operator layouts on rotate: the deployment's own files (--ca --cert --key, --ca-key, --new-cert/--new-key),
Kubernetes secret volumes left to their renewer, symlinks never replaced. Real redis-server on loopback."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus import ChainSite
from corpus import build_chain as build
from corpus import start_chain as start
from runbook import cli, pki, rotation, sandbox
from runbook.client import TlsClientFiles
from runbook.rotation.volumes import secret_volume
from watch_support import Site, make_site

pytestmark = pytest.mark.integration


def _tree(root: Path) -> dict[str, str]:
    """Every entry under ``root``: symlinks by their target text, files by their SHA-256."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def k8s_site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(tmp_path, k8s=True)
    yield s
    sandbox.stop_node(s.node)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[ChainSite, sandbox.Node]]:
    s = build(tmp_path / "site")
    node = start(s, tmp_path / "node", ca=s.root_ca)
    yield s, node
    sandbox.stop_node(node)


def _served(port: int, files: TlsClientFiles) -> str:
    return rotation.serial_of(rotation.served_certificate("127.0.0.1", port, files, "localhost"))


def test_secret_volume_is_recognised_through_data_symlinks(k8s_site: Site, tmp_path: Path) -> None:
    assert secret_volume(k8s_site.live / "tls.crt") == k8s_site.live
    assert secret_volume(k8s_site.live / "..data" / "tls.crt") == k8s_site.live
    plain = tmp_path / "plain.crt"
    plain.write_text("x")
    assert secret_volume(plain) is None
    (tmp_path / "link.crt").symlink_to(plain)  # a symlink, but no ..data beside it
    assert secret_volume(tmp_path / "link.crt") is None


def test_rotation_on_a_secret_volume_is_pending_with_the_renewer_procedure_and_writes_nothing(
    k8s_site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    before, serial = _tree(k8s_site.live), k8s_site.serial()
    pki_before = _tree(k8s_site.pki)
    code = cli.main(
        [
            "rotate",
            "server",
            "--dir",
            str(k8s_site.pki),
            "--host",
            "127.0.0.1",
            "--port",
            str(k8s_site.node.port),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "pending" in out and "cmctl renew" in out and "step ca renew --force" in out
    assert "runbook watch --once" in out and "secret volume" in out
    assert _tree(k8s_site.live) == before, "the volume's symlinks and files are byte for byte the same"
    assert k8s_site.serial() == serial
    assert _tree(k8s_site.pki) == pki_before  # nothing staged, no backup


def test_a_symlinked_served_file_is_refused_never_replaced(tmp_path: Path) -> None:
    """A served file reached through a plain symlink (not a secret volume) is refused at preflight."""
    s = build(tmp_path / "site")
    real = tmp_path / "real"
    real.mkdir()
    (real / "redis.crt").write_bytes(s.cert.read_bytes())
    s.cert.unlink()
    s.cert.symlink_to(real / "redis.crt")
    node = start(s, tmp_path / "node", ca=s.root_ca)
    try:
        before = _tree(s.root)
        report = rotation.rotate(
            "server", None, [("127.0.0.1", node.port)], server_hostname="localhost",
            client_files=s.files, ca_key=s.inter_key,
        )  # fmt: skip
        assert report.status == "refused", report.to_dict()
        bad = next(c for c in report.steps if c.id.endswith(":symlink"))
        assert "never replaces a symlink" in bad.detail and str(real / "redis.crt") in bad.fix
        assert _tree(s.root) == before
    finally:
        sandbox.stop_node(node)


def test_operator_files_and_ca_key_reissue_serves_leaf_and_intermediate(
    chain: tuple[ChainSite, sandbox.Node],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No --dir: the identity is --ca --cert --key, --ca-key is the intermediate's key (any name); the
    re-issued file holds leaf + intermediate and a client trusting only the root verifies it."""
    s, node = chain
    old = _served(node.port, s.files)
    monkeypatch.setenv("RUNBOOK_WORK_DIR", str(tmp_path / "work"))  # backups go to <work>/rotation/backups
    argv = [
        "rotate", "server", "--host", "127.0.0.1", "--port", str(node.port), "--server-name", "localhost",
        "--ca", s.files.ca, "--cert", str(s.files.cert), "--key", str(s.files.key), "--ca-key", str(s.inter_key),
    ]  # fmt: skip
    code = cli.main(argv)
    out = capsys.readouterr().out
    assert code == 0 and "rotated" in out, out
    served = pki.load_certs(s.cert)
    assert len(served) == 2 and served[1] == s.inter.cert
    assert _served(node.port, s.files) == rotation.serial_of(served[0]) != old
    assert any((tmp_path / "work" / "rotation" / "backups").iterdir())


@pytest.mark.parametrize(
    ("flag", "what"),
    [
        ("--ca", "--cacert"),
        ("--cert", "redis-cli --cert"),
        ("--ca-key", "CA that issues"),
        ("--new-cert", "renewed"),
    ],
)
def test_a_missing_file_is_named_with_its_flag_and_never_pki_create(
    flag: str, what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = build(tmp_path / "site")
    given = {"--ca": s.files.ca, "--cert": str(s.files.cert), "--key": str(s.files.key)}
    missing = str(tmp_path / "nope.pem")
    extra = {"--ca-key": [], "--new-cert": ["--new-key", str(s.key)]}.get(flag, [])
    given[flag] = missing
    argv = ["rotate", "server", "--host", "127.0.0.1", "--port", "1"]
    argv += [x for k, v in given.items() for x in (k, v)] + extra
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{flag} {missing} not found" in err[0] and what in err[0], err
    assert "pki create" not in err[0]


def test_dir_without_ca_suggests_the_operator_flags_not_pki_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["rotate", "server", "--dir", str(tmp_path), "--host", "127.0.0.1", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "--ca --cert --key" in err and "pki create" not in err
