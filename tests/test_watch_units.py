"""The parts of ``runbook.watch`` that need no server: node parsing, content snapshots through
symlinks, the consistency check on real certificates, the state dir's modes, inotify wake-ups."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from runbook import pki, rotation
from runbook.client import Endpoint, TlsClientFiles
from runbook.errors import RunbookError
from runbook.watch import WatchTarget, consistency, fileset
from runbook.watch.observer import Waker
from runbook.watch.state import StateDir
from runbook.watch.target import NodeFiles, order, parse_node
from watch_support import write


def test_parse_node() -> None:
    assert parse_node("127.0.0.1:6380") == ("127.0.0.1", 6380)
    assert parse_node("[::1]:6380") == ("::1", 6380)
    for bad in ("6380", "host:", "host:99999", "host:x"):
        with pytest.raises(RunbookError, match="is not HOST:PORT"):
            parse_node(bad)


def _files(folder: Path, **paths: str) -> NodeFiles:
    node = rotation.NodeTarget(Endpoint("127.0.0.1", 1, name="n"), server_dir=str(folder))
    return NodeFiles(node, paths)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    pki.create_pki(root, pki.PkiSpec())
    return root


def test_snapshot_follows_a_kubernetes_volume_and_reports_dangling_links(
    material: Path, tmp_path: Path
) -> None:
    vol = tmp_path / "secret"
    write("k8s", vol, material / "redis-server.crt", "tls.crt", material / "redis-server.key", "tls.key")
    files = _files(vol, cert="tls.crt", key="tls.key")  # relative paths: resolved against the server's dir
    snap = fileset.read(files)
    assert snap.complete and snap.data["cert"] == (material / "redis-server.crt").read_bytes()
    assert vol in fileset.watch_dirs(files) and (vol / "..data").resolve() in fileset.watch_dirs(files)
    write("k8s", vol, material / "ca.crt", "tls.crt", material / "redis-server.key", "tls.key")
    assert fileset.read(files).key != snap.key  # new content, found by digest
    (vol / os.readlink(vol / "..data") / "tls.key").unlink()
    missing = fileset.read(files).missing
    assert list(missing) == ["key"] and "dangling symlink" in missing["key"]


def test_consistency_check_on_real_certificates(material: Path, tmp_path: Path) -> None:
    ca = pki.Issued(pki.load_cert(material / "ca.crt"), pki.load_key(material / "ca.key"))
    served = pki.load_cert(material / "redis-server.crt")
    trust = [ca.cert]
    renewed = rotation.reissue_like(served, ca)
    client = pki.load_cert(material / "redis-client.crt")

    def check(cert: bytes, key: bytes, ca_pem: bytes | None = None) -> list[str]:
        data = {"cert": cert, "key": key, **({"ca": ca_pem} if ca_pem is not None else {})}
        results = consistency.check(fileset.Snapshot(data), served=served, client_trust=trust,
                                    name="127.0.0.1", needs_client_auth=False, client_cert=client)  # fmt: skip
        return [r.id for r in results if r.status == "fail"]

    assert check(renewed.cert_pem(), renewed.key_pem(), (material / "ca.crt").read_bytes()) == []
    assert check(renewed.cert_pem(), pki.Issued(served, pki.generate_key("ecdsa-p256")).key_pem()) == [
        "key-match"
    ]
    narrow = pki.make_leaf(ca, "localhost", purpose="server", hostnames=["localhost"])
    assert check(narrow.cert_pem(), narrow.key_pem()) == ["sans", "chain"]  # lost 127.0.0.1 and ::1
    stranger = pki.make_ca()
    assert check(renewed.cert_pem(), renewed.key_pem(), stranger.cert_pem()) == ["ca-accepts-clients"]
    assert check(b"", renewed.key_pem()) == ["cert"]
    assert check(renewed.cert_pem(), b"-----BEGIN PRIVATE KEY-----\n") == ["key", "key-match"]


def test_state_dir_keeps_private_copies(material: Path, tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    target = WatchTarget(Endpoint("::1", 6380, files=TlsClientFiles(str(material / "ca.crt"))))
    snap = fileset.Snapshot({"cert": b"C", "key": b"K", "ca": b"A"})
    good = state.save_good(target, snap)
    assert good.stat().st_mode & 0o777 == 0o700 and good.parent.stat().st_mode & 0o777 == 0o700
    assert (good / "key.pem").stat().st_mode & 0o777 == 0o600 and (
        good / "cert.pem"
    ).stat().st_mode & 0o777 == 0o644
    state.save_good(target, fileset.Snapshot({"cert": b"C2", "key": b"K2", "ca": b"A"}))
    loaded = state.load_good(target)
    assert loaded is not None and loaded.data == {"cert": b"C2", "key": b"K2", "ca": b"A"}
    settings = state.good_settings(target, ["cert", "key", "ca"])
    assert settings is not None and [k for k, _ in settings] == [
        "tls-cert-file",
        "tls-key-file",
        "tls-ca-cert-file",
    ]
    assert state.good_settings(target, ["cert", "client_cert"]) is None  # no copy of a link certificate


def test_order_is_replicas_first() -> None:
    tls = TlsClientFiles("ca.crt")
    pairs = []
    for port, role in ((1, "master"), (2, "slave"), (3, "master"), (4, "slave")):
        node = rotation.NodeTarget(Endpoint("h", port, name=str(port)), role=role)
        pairs.append((WatchTarget(Endpoint("h", port, files=tls)), NodeFiles(node, {})))
    assert order(pairs) == [1, 3, 0, 2]


def test_inotify_wakes_on_a_volume_swap_but_not_on_reads(material: Path, tmp_path: Path) -> None:
    vol = tmp_path / "secret"
    write("k8s", vol, material / "redis-server.crt", "tls.crt")
    waker = Waker()
    stop = threading.Event()
    try:
        assert waker.backend == "inotify", waker.reason
        waker.watch({vol})
        waker.wait(0.3, stop)  # drain anything from the set-up
        (vol / "tls.crt").read_bytes()  # our own reads must not wake the loop
        assert not waker.wait(0.5, stop)
        write("k8s", vol, material / "ca.crt", "tls.crt")
        assert waker.wait(5, stop)
    finally:
        waker.close()
    assert Waker(poll=True).backend == "poll"
