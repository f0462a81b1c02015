"""Rotation against real redis-server processes on loopback (started and stopped here).

Nothing is mocked: the PKI is real, the servers are real ``redis-server`` processes, reloads are
real ``CONFIG SET`` calls and every verification is a real mutual-TLS handshake.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from runbook import cli, files, loadgen, pki, rotation, sandbox
from runbook.client import Endpoint, TlsClientFiles, redis_client
from runbook.errors import RunbookError

pytestmark = pytest.mark.integration


def _digest(paths: list[Path]) -> dict[str, str]:
    return rotation.file_digests(paths)


def _served_serial(port: int, pki_root: Path) -> str:
    cert = rotation.served_certificate("127.0.0.1", port, TlsClientFiles.from_pki(pki_root))
    return rotation.serial_of(cert)


def _start(pki_root: Path, node_dir: Path, files_root: Path | None = None, **extra: str) -> sandbox.Node:
    paths = pki.PkiPaths(files_root or pki_root)
    conf = sandbox.base_conf(node_dir, paths, sandbox.free_port())
    conf.update(extra)
    return sandbox.start_node(node_dir.name, "primary", node_dir, conf, pki.PkiPaths(pki_root))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, sandbox.Node]]:
    """An independently started TLS server reading the files of a PKI dir (shared by cheap tests)."""
    root = tmp_path_factory.mktemp("rot")
    pki.create_pki(root / "pki", pki.PkiSpec())
    node = _start(root / "pki", root / "node", **{"enable-debug-command": "local"})
    yield root / "pki", node
    sandbox.stop_node(node)


def _rotate_cli(pki_root: Path, port: int, *args: str) -> int:
    return cli.main(["rotate", *args, "--dir", str(pki_root), "--host", "127.0.0.1", "--port", str(port)])


# --------------------------------------------------------------------------- the reload primitive


def test_debug_reload_tls_is_not_a_redis_command(server: tuple[Path, sandbox.Node]) -> None:
    pki_root, node = server
    c = redis_client("127.0.0.1", node.port, TlsClientFiles.from_pki(pki_root))
    assert "RELOAD-TLS" not in " ".join(map(str, c.execute_command("DEBUG", "HELP"))).upper()
    with pytest.raises(redis.ResponseError, match=r"(?i)unknown subcommand"):
        c.execute_command("DEBUG", "RELOAD-TLS")
    c.close()


# --------------------------------------------------------------------------- proof under load


def test_server_rotation_under_load_drops_nothing(fresh_work: Path) -> None:
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    node = _start(pki_root, fresh_work / "node")
    old_files = _digest([pki_root / "redis-server.crt", pki_root / "redis-server.key"])
    old_serial = _served_serial(node.port, pki_root)
    try:
        load = loadgen.LoadGen(
            Endpoint("127.0.0.1", node.port, files=TlsClientFiles.from_pki(pki_root)),
            pooled=2,
            reconnecting=2,
            batch=100,
            max_commands=400_000,
            max_seconds=30,
        )
        with load:
            while load.totals().reconnects < 5:  # every kind of client is connected and working
                time.sleep(0.01)
            mark = load.mark()
            report = rotation.rotate(
                "server",
                pki_root,
                [("127.0.0.1", node.port)],
                soak_seconds=1.0,
                soak_until=lambda: load.window(mark).commands >= 50_000,
                soak_max_seconds=25,
            )
            window = load.window(mark)
        totals = load.totals()
        print(f"rotation window: {window.summary()}; whole run: {totals.summary()}")  # for docs/figures.md
        assert report.ok and report.status == "rotated", [s for s in report.steps if s.status == "fail"]
        assert window.commands >= 50_000, window.summary()
        assert window.failed_commands == 0 and window.failed_reconnects == 0, window.errors
        assert totals.failed_commands == 0 and totals.failed_reconnects == 0, totals.errors
        assert report.new_serial != old_serial and report.old_serial == old_serial
        assert report.new_serial in window.serials  # new connections saw the new certificate
        assert _served_serial(node.port, pki_root) == report.new_serial
        assert load.server_total() == totals.commands  # every counted command really ran
        backup = Path(report.backup or "")
        assert _digest([backup / "redis-server.crt", backup / "redis-server.key"]) == {
            str(backup / Path(k).name): v for k, v in old_files.items()
        }
        assert (pki_root / "redis-server.key").stat().st_mode & 0o777 == 0o600
    finally:
        sandbox.stop_node(node)


# --------------------------------------------------------------------------- refusals and rollback


@pytest.mark.parametrize("kind", rotation.DRILLS)
def test_bad_input_is_refused_at_preflight_and_nothing_changes(
    kind: str, server: tuple[Path, sandbox.Node], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki_root, node = server
    watched = [pki_root / n for n in ("ca.crt", "ca.key", "redis-server.crt", "redis-server.key")]
    before, serial = _digest(watched), _served_serial(node.port, pki_root)
    cert, key = rotation.drill_material(kind, pki_root, tmp_path)
    assert _rotate_cli(pki_root, node.port, "server", "--new-cert", str(cert), "--new-key", str(key)) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "✘ fail" in out
    assert _digest(watched) == before and _served_serial(node.port, pki_root) == serial
    assert not (pki_root / "backups").exists() or not any((pki_root / "backups").iterdir())


def test_forced_reload_failure_rolls_back_byte_for_byte(
    server: tuple[Path, sandbox.Node], capsys: pytest.CaptureFixture[str]
) -> None:
    pki_root, node = server
    watched = [pki_root / "redis-server.crt", pki_root / "redis-server.key"]
    before, serial = _digest(watched), _served_serial(node.port, pki_root)
    assert _rotate_cli(pki_root, node.port, "server", "--drill", "reload") == 1
    out = capsys.readouterr().out
    out = " ".join(out.split())  # the CLI table wraps long cells at 100 columns
    assert "rolled-back" in out and "Unable to update TLS configuration" in out
    assert _digest(watched) == before  # the backup was restored byte for byte
    assert _served_serial(node.port, pki_root) == serial  # the old certificate is still served
    assert redis_client("localhost", node.port, TlsClientFiles.from_pki(pki_root)).ping()


def test_dry_run_and_not_due_touch_nothing(
    server: tuple[Path, sandbox.Node], capsys: pytest.CaptureFixture[str]
) -> None:
    pki_root, node = server
    watched = [pki_root / "redis-server.crt", pki_root / "redis-server.key"]
    before, serial = _digest(watched), _served_serial(node.port, pki_root)
    assert _rotate_cli(pki_root, node.port, "server", "--if-expiring-within", "30") == 0
    assert "not-due" in capsys.readouterr().out
    assert _rotate_cli(pki_root, node.port, "server", "--if-expiring-within", "400", "--dry-run") == 0
    out = capsys.readouterr().out
    out = " ".join(out.split())  # the CLI table wraps long cells at 100 columns
    assert "planned" in out and "CONFIG SET tls-cert-file" in out
    assert _digest(watched) == before and _served_serial(node.port, pki_root) == serial


# --------------------------------------------------------------------------- client and CA


def test_client_rotation_reissues_and_is_accepted(
    fresh_work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec(clients=["redis-client", "app"]))
    node = _start(pki_root, fresh_work / "node")
    try:
        old = pki.inspect(pki_root / "clients" / "app.crt")
        assert _rotate_cli(pki_root, node.port, "client", "--name", "app") == 0
        new = pki.inspect(pki_root / "clients" / "app.crt")
        assert new.serial != old.serial and new.subject == old.subject
        assert "the server accepts the new client certificate" in capsys.readouterr().out
        assert redis_client("localhost", node.port, TlsClientFiles.from_pki(pki_root, "app")).ping()
    finally:
        sandbox.stop_node(node)


def test_ca_rotation_in_three_verified_phases(fresh_work: Path) -> None:
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    node = _start(pki_root, fresh_work / "node")
    try:
        old_ca = pki.load_cert(pki_root / "ca.crt")
        report = rotation.rotate("ca", pki_root, [("127.0.0.1", node.port)])
        assert report.ok and report.status == "rotated", [s for s in report.steps if s.status == "fail"]
        assert [p.kind for p in report.phases] == ["ca:bundle", "ca:reissue", "ca:retire"]
        ids = {s.id: s.status for s in report.steps}
        assert ids[f"bundle:verify:127.0.0.1:{node.port}:new-ca-trusted"] == "pass"
        assert ids[f"retire:verify:127.0.0.1:{node.port}:old-ca-refused"] == "pass"
        (new_ca,) = pki.load_certs(pki_root / "ca.crt")
        assert new_ca.serial_number != old_ca.serial_number
        served = rotation.served_certificate("127.0.0.1", node.port, TlsClientFiles.from_pki(pki_root))
        pki.verify_server_cert(served, [new_ca], "127.0.0.1")
        assert all(r.ok for r in pki.verify(pki_root))
    finally:
        sandbox.stop_node(node)


# --------------------------------------------------------------------------- topologies and targets


def _node_files(pki_root: Path, folder: Path, link: bool) -> Path:
    """A node's own TLS files (its own server certificate, and a link client certificate)."""
    ca = pki.Issued(pki.load_cert(pki_root / "ca.crt"), pki.load_key(pki_root / "ca.key"))
    leaf = pki.make_leaf(ca, "localhost", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"])
    writes = [
        files.PlannedWrite(folder / "ca.crt", (pki_root / "ca.crt").read_bytes()),
        files.PlannedWrite(folder / "redis-server.crt", leaf.cert_pem()),
        files.PlannedWrite(folder / "redis-server.key", leaf.key_pem(), files.PRIVATE),
    ]
    if link:
        out = pki.make_leaf(ca, "replica-link", purpose="client", hostnames=["replica-link"])
        writes += [
            files.PlannedWrite(folder / "link.crt", out.cert_pem()),
            files.PlannedWrite(folder / "link.key", out.key_pem(), files.PRIVATE),
        ]
    files.write_all(writes)
    return folder


def test_replica_topology_rotates_node_by_node_with_links_up(fresh_work: Path) -> None:
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    p_files = _node_files(pki_root, fresh_work / "primary" / "tls", link=False)
    r_files = _node_files(pki_root, fresh_work / "replica" / "tls", link=True)
    primary = _start(pki_root, fresh_work / "primary", p_files, **{"tls-replication": "yes"})
    replica = None
    try:
        replica = _start(
            pki_root,
            fresh_work / "replica",
            r_files,
            replicaof=f"127.0.0.1 {primary.port}",
            **{
                "tls-replication": "yes",
                "tls-client-cert-file": str(r_files / "link.crt"),
                "tls-client-key-file": str(r_files / "link.key"),
            },
        )
        tls = TlsClientFiles.from_pki(pki_root)
        rc = redis_client("localhost", replica.port, tls)
        assert rotation.wait_link_up(rc, 15)
        old_link = pki.inspect(r_files / "link.crt").serial
        nodes = [
            rotation.discover_node("127.0.0.1", primary.port, tls, "primary"),
            rotation.discover_node("127.0.0.1", replica.port, tls, "replica"),
        ]
        assert nodes[1].role == "slave" and nodes[1].client_cert_file.endswith("link.crt")
        report = rotation.rotate("server", pki_root, nodes)
        assert report.ok, [s for s in report.steps if s.status == "fail"]
        ids = [s.id for s in report.steps]
        # node by node: the primary is reloaded and verified (replica link up) before the replica
        assert ids.index("verify:replica:replication") < ids.index("reload:replica")
        assert ids.count("verify:replica:replication") == 2
        links = [s.detail for s in report.steps if s.id == "verify:replica:replication"]
        assert all(d.startswith("re-linked with the new certificates") for d in links), links
        assert any("tls-client-cert-file" in s.detail for s in report.steps if s.id == "reload:replica")
        assert pki.inspect(r_files / "link.crt").serial != old_link
        for node, folder in ((primary, p_files), (replica, r_files)):
            served = rotation.served_certificate("127.0.0.1", node.port, tls)
            assert rotation.serial_of(served) == pki.inspect(folder / "redis-server.crt").serial
        assert rc.info("replication")["master_link_status"] == "up"
        rc.close()
    finally:
        if replica is not None:
            sandbox.stop_node(replica)
        sandbox.stop_node(primary)


def test_ca_reissue_preflights_link_certificates_like_server_rotation(fresh_work: Path) -> None:
    """A link certificate that fails the leaf preflight (no clientAuth) is refused by both rotations."""
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    folder = _node_files(pki_root, fresh_work / "node" / "tls", link=False)
    ca = pki.Issued(pki.load_cert(pki_root / "ca.crt"), pki.load_key(pki_root / "ca.key"))
    bad_link = pki.make_leaf(ca, "node-link", purpose="server", hostnames=["node-link"])  # serverAuth only
    files.write_all(bad_link.planned_writes(folder / "link.crt", folder / "link.key"))
    link_conf = {
        "tls-client-cert-file": str(folder / "link.crt"),
        "tls-client-key-file": str(folder / "link.key"),
    }
    node = _start(pki_root, fresh_work / "node", folder, **link_conf)
    watched = [folder / n for n in ("redis-server.crt", "redis-server.key", "link.crt", "link.key")]
    try:
        before = _digest(watched)
        server = rotation.rotate("server", pki_root, [("127.0.0.1", node.port)])
        assert server.status == "refused"
        assert {s.id: s.status for s in server.steps}[f"preflight:127.0.0.1:{node.port}:link-eku"] == "fail"
        report = rotation.rotate("ca", pki_root, [("127.0.0.1", node.port)])
        ids = {s.id: s.status for s in report.steps}
        assert report.status == "refused" and not report.ok, report.status
        assert ids[f"reissue:preflight:127.0.0.1:{node.port}:link-eku"] == "fail"
        assert ids[f"reissue:preflight:127.0.0.1:{node.port}:link-key-match"] == "pass"
        assert [p.kind for p in report.phases] == ["ca:bundle", "ca:reissue"]
        assert _digest(watched) == before  # nothing of the node's leaf or link files was touched
    finally:
        sandbox.stop_node(node)


NAME_ONLY = "redis.example.internal"  # a name that resolves nowhere: only the certificate carries it


def test_server_hostname_is_verified_while_connecting_to_the_host(
    fresh_work: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    """A server on 127.0.0.1 whose certificate names only redis.example.internal: discover and rotate it."""
    with pytest.raises(OSError):
        socket.getaddrinfo(NAME_ONLY, None)  # else connecting to the name could pass by accident
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    ca = pki.Issued(pki.load_cert(pki_root / "ca.crt"), pki.load_key(pki_root / "ca.key"))
    leaf = pki.make_leaf(ca, NAME_ONLY, purpose="server", hostnames=[NAME_ONLY])
    files.write_all(leaf.planned_writes(pki_root / "redis-server.crt", pki_root / "redis-server.key"))
    node = start_server(pki.PkiPaths(pki_root), wait=False)
    tls = TlsClientFiles.from_pki(pki_root)
    found = rotation.discover_node("127.0.0.1", node.port, tls, server_hostname=NAME_ONLY)
    assert (found.endpoint.host, found.endpoint.hostname, found.mode, Path(found.cert_file)) == (
        "127.0.0.1",
        NAME_ONLY,
        "standalone",
        pki_root / "redis-server.crt",
    )
    with pytest.raises(RunbookError, match="certificate verify failed"):  # the name is really checked
        rotation.discover_node("127.0.0.1", node.port, tls)
    load = loadgen.LoadGen(Endpoint("127.0.0.1", node.port, NAME_ONLY, tls), max_seconds=20)
    with load:  # pooled and reconnecting clients verify the name too, while connecting to the address
        report = rotation.rotate("server", pki_root, [found], server_hostname=NAME_ONLY)
    assert report.ok and report.status == "rotated", [s for s in report.steps if s.status == "fail"]
    stats = load.totals()
    assert stats.ok and stats.failed_commands == 0 and stats.reconnects > 0, stats.errors
    assert load.server_total() == stats.commands
    served = rotation.served_certificate("127.0.0.1", node.port, tls, NAME_ONLY)
    assert rotation.serial_of(served) == report.new_serial != report.old_serial
    checks = rotation.verify_served("127.0.0.1", node.port, pki_root, server_hostname=NAME_ONLY)
    assert [c.status for c in checks] == ["pass", "pass"], checks


def test_external_target_gets_deploy_commands_then_verifies(
    fresh_work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that reads its own copies and hides CONFIG: commands are emitted, then verified."""
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    theirs = fresh_work / "theirs"
    shutil.copytree(pki_root, theirs)
    node = _start(pki_root, fresh_work / "node", theirs, **{"rename-command": "CONFIG OPS-CONFIG-7f3"})
    try:
        assert _rotate_cli(pki_root, node.port, "server") == 0
        out = capsys.readouterr().out
        out = " ".join(out.split())  # the CLI table wraps long cells at 100 columns
        assert "pending" in out and "CONFIG SET tls-cert-file" in out and "install -m 0600" in out
        assert _rotate_cli(pki_root, node.port, "verify") == 1  # not deployed yet
        capsys.readouterr()
        for name in ("redis-server.crt", "redis-server.key"):  # the operator deploys ...
            shutil.copy2(pki_root / name, theirs / name)
        c = redis_client("localhost", node.port, TlsClientFiles.from_pki(pki_root))
        c.execute_command(
            "OPS-CONFIG-7f3",
            "SET",
            "tls-cert-file",
            str(theirs / "redis-server.crt"),
            "tls-key-file",
            str(theirs / "redis-server.key"),
        )  # ... and reloads
        c.close()
        assert _rotate_cli(pki_root, node.port, "verify") == 0
    finally:
        sandbox.stop_node(node)


def test_sentinel_is_told_to_restart(fresh_work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    primary = _start(pki_root, fresh_work / "primary")
    folder = fresh_work / "sentinel"
    folder.mkdir()
    port = sandbox.free_port()
    conf = sandbox.base_conf(folder, pki.PkiPaths(pki_root), port)
    for k in ("save", "appendonly"):
        conf.pop(k)
    conf["tls-replication"] = "yes"
    conf["sentinel monitor"] = f"m 127.0.0.1 {primary.port} 1"
    (folder / "sentinel.conf").write_text(sandbox.conf_text(conf))
    proc = subprocess.Popen(
        [sandbox.redis_server_binary(), str(folder / "sentinel.conf"), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    node = sandbox.Node("sentinel", "sentinel", port, proc.pid, str(folder))
    try:
        sandbox.wait_ready(node, pki.PkiPaths(pki_root), proc=proc)
        assert _rotate_cli(pki_root, port, "server") == 1
        out = capsys.readouterr().out
        out = " ".join(out.split())  # the CLI table wraps long cells at 100 columns
        assert "cannot reload TLS files at runtime" in out and "systemctl restart redis-sentinel" in out
    finally:
        sandbox.stop_node(node)
        proc.wait(timeout=10)
        sandbox.stop_node(primary)


def test_cli_in_a_subprocess_rotates_an_independent_server_under_load(fresh_work: Path) -> None:
    """The way it will be checked: a separate CLI process rotates while another process loads."""
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    node = _start(pki_root, fresh_work / "node")
    try:
        with loadgen.running(
            Endpoint("127.0.0.1", node.port, files=TlsClientFiles.from_pki(pki_root)),
            pooled=1,
            reconnecting=1,
            max_seconds=30,
        ) as load:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "runbook",
                    "rotate",
                    "server",
                    "--dir",
                    str(pki_root),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(node.port),
                    "--json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        totals = load.totals()
        assert done.returncode == 0, done.stdout + done.stderr
        assert totals.commands > 0 and totals.failed_commands == 0 and totals.failed_reconnects == 0, (
            totals.errors
        )
        assert _served_serial(node.port, pki_root) == pki.inspect(pki_root / "redis-server.crt").serial
    finally:
        sandbox.stop_node(node)


def test_cluster_rotates_node_by_node_and_stays_ok(fresh_work: Path) -> None:
    """Three cluster nodes sharing one set of files (bus over TLS with a clientAuth link cert)."""
    pki_root = fresh_work / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    paths = pki.PkiPaths(pki_root)
    nodes: list[sandbox.Node] = []
    try:
        for i in range(3):
            nodes.append(
                _start(
                    pki_root,
                    fresh_work / f"c{i}",
                    **{
                        "cluster-enabled": "yes",
                        "cluster-config-file": str(fresh_work / f"c{i}" / "nodes.conf"),
                        "cluster-port": str(sandbox.free_port()),
                        "tls-cluster": "yes",
                        "tls-client-cert-file": str(paths.client_cert()),
                        "tls-client-key-file": str(paths.client_key()),
                    },
                )
            )
        tls = TlsClientFiles.from_pki(pki_root)
        first = redis_client("localhost", nodes[0].port, tls)
        for n in nodes[1:]:
            bus = redis_client("localhost", n.port, tls).config_get("cluster-port")["cluster-port"]
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", str(n.port), bus)
        first.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = [
                "cluster_state:ok"
                in str(redis_client("localhost", n.port, tls).execute_command("CLUSTER", "INFO"))
                for n in nodes
            ]
            if all(states):
                break
            time.sleep(0.2)
        assert all(states), "the test cluster did not form"
        first.close()
        targets = [rotation.discover_node("127.0.0.1", n.port, tls, f"c{i}") for i, n in enumerate(nodes)]
        assert all(t.mode == "cluster" for t in targets)
        report = rotation.rotate("server", pki_root, targets)
        assert report.ok, [s for s in report.steps if s.status == "fail"]
        ids = {s.id: s.status for s in report.steps}
        assert all(ids[f"verify:c{i}:cluster"] == "pass" for i in range(3))
        assert ids["swap:c1"] == "pass"  # shared files: written once, every node reloaded and verified
        served = {rotation.serial_of(rotation.served_certificate("127.0.0.1", n.port, tls)) for n in nodes}
        assert served == {report.new_serial}
    finally:
        for n in nodes:
            sandbox.stop_node(n)
