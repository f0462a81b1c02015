"""``runbook watch`` against real redis-server processes, with a real writer process renewing files.

Nothing is mocked: the certificates are issued by ``runbook.pki``, a separate writer process
(tests/watch_writer.py) renews the files the way renewal tools do, the server is a real TLS
redis-server, every reload is a real ``CONFIG SET`` (counted by the server's commandstats) and
every verification a real strict handshake.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runbook import files, pki, rotation, sandbox
from runbook.client import Endpoint, TlsClientFiles, probe, redis_client
from runbook.watch import WatchTarget
from watch_support import Running, Site, make_site, node_files, renew, start_server, start_writer, write

pytestmark = pytest.mark.integration


@pytest.fixture
def site(tmp_path: Path) -> object:
    s = make_site(tmp_path)
    yield s
    sandbox.stop_node(s.node)


@pytest.fixture
def k8s_site(tmp_path: Path) -> object:
    s = make_site(tmp_path, k8s=True)
    yield s
    sandbox.stop_node(s.node)


def _fails(w: Running) -> list[str]:
    return [e.line() for e in w.events if e.kind in ("failed", "rolled-back", "unreachable", "missing")]


# --------------------------------------------------------------------------- writers


@pytest.mark.parametrize("backend", ["inotify", "poll"])
def test_kubernetes_secret_volume_swap_is_reloaded(k8s_site: Site, backend: str) -> None:
    """``..data`` -> ``..2026_...`` swapped atomically; tls.crt/tls.key are symlinks through ``..data``."""
    site = k8s_site
    old = site.serial()
    before = site.config_sets()
    # with inotify the interval is long: only the directory event can make it this fast
    kw = {"poll": True, "interval": 0.3} if backend == "poll" else {"interval": 30.0}
    with Running([site.target()], state_dir=site.root / "state", **kw) as w:
        w.wait("watching")
        lags = []
        for i in (1, 2):  # twice: the second swap removes the dir the first one created
            cert, key, new = site.renew(f"r{i}")
            done = write("k8s", site.live, cert, "tls.crt", key, "tls.key", site.pki / "ca.crt", "ca.crt")
            event = w.wait("reloaded", i)[-1]
            lags.append(event.time - done)
            assert event.new_serial == new == site.serial(), event.line()
            assert event.old_serial == old
            old = new
    assert w.report is not None and w.report.backend == backend
    print(f"k8s swap -> verified reload ({backend}): {', '.join(f'{s:.2f}' for s in lags)} s")
    assert not _fails(w) and not w.of("refused")
    assert site.config_sets() - before == 2  # exactly one CONFIG SET per renewal
    assert (site.live / "tls.crt").is_symlink() and os.readlink(site.live / "..data").startswith("..20")
    assert site.config("tls-cert-file") == str(site.live / "tls.crt")  # the server's own path, unresolved


def test_certificate_first_key_later_reloads_once_when_the_pair_matches(site: Site) -> None:
    old = site.serial()
    before = site.config_sets()
    cert, key, new = site.renew()
    with Running([site.target()], state_dir=site.root / "state", settle=0.2) as w:
        w.wait("watching")
        writer = start_writer("replace", "--delay", "1.0", cert, site.live / "redis-server.crt",
                              key, site.live / "redis-server.key")  # fmt: skip
        event = w.wait("reloaded")[0]
        assert writer.wait(timeout=30) == 0
        time.sleep(1.0)  # a second reload would show up here
    assert len(w.of("reloaded")) == 1 and event.old_serial == old and event.new_serial == new
    assert site.config_sets() - before == 1  # the mismatched pair never reached CONFIG SET
    refused = w.of("refused")
    assert all(e.detail.startswith("key-match") for e in refused), [e.line() for e in refused]
    print(f"half-written pair seen and refused {len(refused)}x before the single reload")
    assert not _fails(w) and site.serial() == new


@pytest.mark.parametrize(
    ("kind", "check"), [("other-ca", "chain"), ("expired", "validity"), ("wrong-key", "key-match")]
)
def test_bad_certificate_is_never_loaded(site: Site, tmp_path: Path, kind: str, check: str) -> None:
    old = site.serial()
    before = site.config_sets()
    cert, key = rotation.drill_material(kind, site.pki, tmp_path / "bad")
    with Running([site.target()], state_dir=site.root / "state") as w:
        w.wait("watching")
        write("replace", cert, site.live / "redis-server.crt", key, site.live / "redis-server.key")
        (event,) = w.wait("refused")
        time.sleep(1.0)  # reported once, not on every pass, and never retried
        assert len(w.of("refused")) == 1
    assert event.detail.startswith(check), event.line()
    assert f"serial {old} still served" in event.detail and event.fix
    assert site.serial() == old and site.config_sets() == before
    assert w.report is not None and w.report.exit_code == 1 and w.report.nodes[0].state == "refused"


def test_deleted_files_are_reported_and_the_old_certificate_kept(site: Site) -> None:
    old = site.serial()
    before = site.config_sets()
    saved = (site.live / "redis-server.key").read_bytes()
    with Running([site.target()], state_dir=site.root / "state") as w:
        w.wait("watching")
        write("delete", site.live / "redis-server.key", site.live / "redis-server.crt")
        event = w.wait("missing")[0]  # (a second line when the certificate goes too)
        assert "redis-server.key is missing" in event.detail and "no reload" in event.detail
        assert site.serial() == old
        files.write_file(site.live / "redis-server.key", saved, files.PRIVATE)
        files.write_file(site.live / "redis-server.crt", (site.pki / "redis-server.crt").read_bytes())
        w.wait("restored")
    assert site.config_sets() == before and site.serial() == old
    assert not w.of("reloaded") and w.report is not None and w.report.ok


# --------------------------------------------------------------------------- rollback


@pytest.mark.parametrize("fault", ["reload-refused", "wrong-serial"])
def test_failed_reload_or_verification_is_rolled_back(site: Site, fault: str) -> None:
    """Between the check and the CONFIG SET, something else lands on disk (the drill hook):
    a key that does not match (the real server refuses the reload) or another valid pair (the
    server accepts it, the fresh handshake shows a serial that was not the one checked)."""
    old = site.serial()
    cert, key, new = site.renew()
    other_cert, other_key, other = site.renew("other")
    fired: list[str] = []

    def hook(target: WatchTarget) -> None:
        if fired:
            return
        fired.append(target.endpoint.label)
        if fault == "reload-refused":
            stray = pki.generate_key("ecdsa-p256")
            files.write_file(site.live / "redis-server.key", pki.Issued(pki.load_cert(cert), stray).key_pem(),
                             files.PRIVATE)  # fmt: skip
        else:
            write(
                "replace",
                other_cert,
                site.live / "redis-server.crt",
                other_key,
                site.live / "redis-server.key",
            )

    state = site.root / "state"
    with Running([site.target()], state_dir=state, before_reload=hook) as w:
        w.wait("watching")
        write("replace", cert, site.live / "redis-server.crt", key, site.live / "redis-server.key")
        (event,) = w.wait("rolled-back")
        assert site.serial() == old  # the old certificate is still (again) served
        assert site.config("tls-cert-file").startswith(str(state))  # from the last good copy
        mode = (Path(site.config("tls-key-file"))).stat().st_mode & 0o777
        assert mode == 0o600 and (Path(site.config("tls-key-file")).parent.stat().st_mode & 0o777) == 0o700
        # the renewal tool writes a fresh set: reloaded from the operator's own paths again
        fixed_cert, fixed_key, fixed_serial = site.renew("fixed")
        write(
            "replace", fixed_cert, site.live / "redis-server.crt", fixed_key, site.live / "redis-server.key"
        )
        # under wrong-serial the hook's pair is a valid set on disk too: the watcher may reload it first
        fixed = w.wait_for("reloaded", lambda e: e.new_serial == fixed_serial)
    why = {"reload-refused": "reload: CONFIG SET", "wrong-serial": "verify:serial"}[fault]
    assert event.detail.startswith(why) and f"rolled back, serial {old} served" in event.detail, event.line()
    if fault == "wrong-serial":
        assert f"presents serial {other}" in event.detail
    assert fixed.new_serial == site.serial() == fixed_serial and new != fixed_serial
    assert site.config("tls-cert-file") == str(site.live / "redis-server.crt")


# --------------------------------------------------------------------------- CLI: --once, signals, metrics


def _cli(site: Site, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "runbook", "watch", "--host", "127.0.0.1", "--port", str(site.node.port),
        "--ca", str(site.pki / "ca.crt"), "--cert", str(site.pki / "redis-client.crt"),
        "--key", str(site.pki / "redis-client.key"), "--state-dir", str(site.root / "state"),
        "--settle", "0.2", "--interval", "0.5", *extra,
    ]  # fmt: skip


def _once(site: Site) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        _cli(site, "--once", "--json"), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def test_once_for_cron(site: Site, tmp_path: Path) -> None:
    old = site.serial()
    rc, report = _once(site)  # first run: nothing differs; the good copy is taken
    assert rc == 0 and report["nodes"][0]["last_result"] == "" and site.serial() == old  # type: ignore[index]
    cert, key, new = site.renew()
    write("replace", cert, site.live / "redis-server.crt", key, site.live / "redis-server.key")
    rc, report = _once(site)
    node = report["nodes"][0]  # type: ignore[index]
    assert rc == 0 and node["last_result"] == "reloaded" and node["served_serial"] == new == site.serial()
    before = site.config_sets()
    rc, report = _once(site)  # files == served: nothing to do
    assert rc == 0 and site.config_sets() == before and report["nodes"][0]["reloads"]["reloaded"] == 0  # type: ignore[index]
    bad_cert, bad_key = rotation.drill_material("other-ca", site.pki, tmp_path / "bad")
    write("replace", bad_cert, site.live / "redis-server.crt", bad_key, site.live / "redis-server.key")
    rc, report = _once(site)
    assert rc == 1 and report["nodes"][0]["state"] == "refused" and site.serial() == new  # type: ignore[index]
    assert site.config_sets() == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_the_daemon_cleanly(site: Site, signum: int) -> None:
    prom = site.root / "watch.prom"
    proc = subprocess.Popen(
        _cli(site, "--prometheus", str(prom)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "watching: serving serial" in first, first + proc.stderr.read() if proc.stderr else ""
        t0 = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert "ok: 1 node(s)" in out and "Traceback" not in err
    assert took < 5, f"took {took:.1f}s to stop"
    text = prom.read_text()
    assert (
        f'redis_tls_watch_served_certificate_info{{node="127.0.0.1:{site.node.port}",'
        f'serial="{site.serial()}",target="127.0.0.1:{site.node.port}"}} 1.0' in text
    )


def test_prometheus_textfile(site: Site) -> None:
    prom = site.root / "watch.prom"
    cert, key, new = site.renew()
    with Running([site.target()], state_dir=site.root / "state", prometheus=prom) as w:
        w.wait("watching")
        write("replace", cert, site.live / "redis-server.crt", key, site.live / "redis-server.key")
        event = w.wait("reloaded")[0]
        deadline = time.monotonic() + 10
        while new not in prom.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    node = f"127.0.0.1:{site.node.port}"
    samples = {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("node", "target")))): s.value
        for fam in text_string_to_metric_families(prom.read_text())
        for s in fam.samples
        if s.labels.get("node") == node and s.labels.get("target") == node
    }
    assert samples[("redis_tls_watch_reloads_total", (("result", "reloaded"),))] == 1
    assert samples[("redis_tls_watch_reloads_total", (("result", "rolled-back"),))] == 0
    assert samples[("redis_tls_watch_last_reload_success", ())] == 1
    assert abs(samples[("redis_tls_watch_last_reload_timestamp_seconds", ())] - event.time) < 5
    assert samples[("redis_tls_watch_served_certificate_info", (("serial", new),))] == 1
    not_after = pki.load_cert(cert).not_valid_after_utc.timestamp()
    assert samples[("redis_tls_watch_certificate_expiry_timestamp_seconds", ())] == not_after
    assert samples[("redis_tls_watch_node_state", (("state", "ok"),))] == 1
    assert samples[("redis_tls_watch_node_state", (("state", "refused"),))] == 0
    assert samples[("redis_tls_watch_last_pass_timestamp_seconds", ())] > time.time() - 60
    assert prom.stat().st_mode & 0o777 == 0o644


def test_bad_input_is_one_line_exit_2(site: Site, tmp_path: Path) -> None:
    cases = [
        (["--node", "nonsense"], "is not HOST:PORT"),
        (["--node", f"127.0.0.1:{site.node.port}"], "given twice"),
        (["--prometheus", str(tmp_path / "nope" / "w.prom")], "does not exist"),
        (["--interval", "0"], "--interval must be > 0"),
    ]
    for extra, message in cases:
        done = subprocess.run(
            _cli(site, "--once", *extra), capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2 and message in done.stderr, (extra, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    free = sandbox.free_port()
    done = subprocess.run(
        _cli(site, "--once", "--port", str(free)), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and f"127.0.0.1:{free}" in done.stderr, done.stderr


# --------------------------------------------------------------------------- replicas


def test_replica_pair_is_reloaded_one_node_at_a_time_with_the_link_up(tmp_path: Path) -> None:
    pki_root = tmp_path / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    p = node_files(pki_root, tmp_path / "p-tls", link=False)
    r = node_files(pki_root, tmp_path / "r-tls", link=True)
    primary = start_server(pki_root, tmp_path / "primary", p["cert"], p["key"], p["ca"],
                           **{"tls-replication": "yes", "repl-diskless-sync-delay": "0"})  # fmt: skip
    replica = None
    try:
        replica = start_server(
            pki_root, tmp_path / "replica", r["cert"], r["key"], r["ca"],
            replicaof=f"127.0.0.1 {primary.port}",
            **{"tls-replication": "yes", "tls-client-cert-file": str(r["link"]), "tls-client-key-file": str(r["link_key"])},
        )  # fmt: skip
        site = Site(tmp_path, pki_root, tmp_path, primary)
        deadline = time.monotonic() + 20
        while site.client(replica.port).info("replication")["master_link_status"] != "up":
            assert time.monotonic() < deadline, "the test replica did not link"
            time.sleep(0.1)
        staged = tmp_path / "staged"
        pc, pk, p_new = renew(pki_root, p["cert"], staged, "p")
        rc_, rk, r_new = renew(pki_root, r["cert"], staged, "r")
        lc, lk, l_new = renew(pki_root, r["link"], staged, "link")
        targets = [
            site.target(group="rs"),
            WatchTarget(Endpoint("127.0.0.1", replica.port, files=site.tls), group="rs"),
        ]
        with Running(targets, state_dir=tmp_path / "state", settle=0.5) as w:
            w.wait("watching", 2)
            write(
                "replace",
                pc,
                p["cert"],
                pk,
                p["key"],
                rc_,
                r["cert"],
                rk,
                r["key"],
                lc,
                r["link"],
                lk,
                r["link_key"],
            )
            events = w.wait("reloaded", 2)
        assert [e.node for e in events] == [
            f"127.0.0.1:{replica.port}",
            f"127.0.0.1:{primary.port}",
        ]  # replica first
        assert not _fails(w) and not w.of("refused")
        assert site.serial(primary.port) == p_new and site.serial(replica.port) == r_new
        assert site.client(replica.port).info("replication")["master_link_status"] == "up"
        assert pki.inspect(r["link"]).serial == l_new
        assert site.config("tls-client-cert-file", replica.port) == str(r["link"])
    finally:
        if replica is not None:
            sandbox.stop_node(replica)
        sandbox.stop_node(primary)


def test_cluster_sharing_one_set_is_reloaded_node_by_node_and_stays_ok(tmp_path: Path) -> None:
    site = make_site(tmp_path)  # its server is not part of the cluster; its files are shared by it
    sandbox.stop_node(site.node)
    link = {
        "tls-client-cert-file": str(site.pki / "redis-client.crt"),
        "tls-client-key-file": str(site.pki / "redis-client.key"),
    }
    nodes: list[sandbox.Node] = []
    try:
        for i in range(3):
            folder = tmp_path / f"c{i}"
            nodes.append(start_server(
                site.pki, folder, site.live / "redis-server.crt", site.live / "redis-server.key", site.live / "ca.crt",
                **{"cluster-enabled": "yes", "cluster-config-file": str(folder / "nodes.conf"),
                   "cluster-port": str(sandbox.free_port()), "tls-cluster": "yes", **link},
            ))  # fmt: skip
        first = site.client(nodes[0].port)
        for n in nodes[1:]:
            bus = site.config("cluster-port", n.port)
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", str(n.port), bus)
        first.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        first.close()
        deadline = time.monotonic() + 30
        while not all(
            "cluster_state:ok" in str(site.client(n.port).execute_command("CLUSTER", "INFO")) for n in nodes
        ):
            assert time.monotonic() < deadline, "the test cluster did not form"
            time.sleep(0.2)
        targets = [WatchTarget(Endpoint("127.0.0.1", n.port, files=site.tls), group="cluster") for n in nodes]
        cert, key, new = site.renew()
        with Running(targets, state_dir=tmp_path / "state") as w:
            w.wait("watching", 3)
            write("replace", cert, site.live / "redis-server.crt", key, site.live / "redis-server.key")
            events = w.wait("reloaded", 3)
        assert sorted(e.node for e in events) == sorted(t.endpoint.label for t in targets)
        assert not _fails(w) and not w.of("refused")
        assert {site.serial(n.port) for n in nodes} == {new}
        for n in nodes:
            assert "cluster_state:ok" in str(site.client(n.port).execute_command("CLUSTER", "INFO"))
            assert site.config_sets(n.port) == 1  # one CONFIG SET per node
    finally:
        for n in nodes:
            sandbox.stop_node(n)


# --------------------------------------------------------------------------- a name that does not resolve


def test_server_name_that_does_not_resolve_is_only_verified_not_dialled(tmp_path: Path) -> None:
    """``--host 127.0.0.1 --server-name redis.example.internal``: every connection of the watcher
    (discovery, the served-certificate handshakes, the reload) goes to the host; the name is sent
    (SNI) and verified, never looked up."""
    name = "redis.example.internal"
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(name, 6379)
    pki_root = tmp_path / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    ca = pki.Issued(pki.load_cert(pki_root / "ca.crt"), pki.load_key(pki_root / "ca.key"))
    live = tmp_path / "live"
    cert, key, ca_file = live / "server.crt", live / "server.key", live / "ca.crt"
    leaf = pki.make_leaf(ca, name, purpose="server", hostnames=[name])  # no IP, no localhost
    files.write_all(
        [*leaf.planned_writes(cert, key), files.PlannedWrite(ca_file, (pki_root / "ca.crt").read_bytes())]
    )
    conf = sandbox.base_conf(tmp_path / "node", pki.PkiPaths(pki_root), sandbox.free_port())
    conf.update({"tls-cert-file": str(cert), "tls-key-file": str(key), "tls-ca-cert-file": str(ca_file)})
    node = sandbox.start_node("node", "primary", tmp_path / "node", conf, pki.PkiPaths(pki_root), wait=False)
    try:
        deadline = time.monotonic() + 10  # the sandbox's own readiness probe verifies "localhost"
        while not probe.answers_ping(
            Endpoint("127.0.0.1", node.port, name, TlsClientFiles.from_pki(pki_root))
        ):
            assert time.monotonic() < deadline, f"the server did not answer: {node.log_path}"
            time.sleep(0.05)
        tls = TlsClientFiles.from_pki(pki_root)

        def config_sets() -> int:
            c = redis_client("127.0.0.1", node.port, tls, server_hostname=name)
            try:
                return int(c.info("commandstats").get("cmdstat_config|set", {}).get("calls", 0))  # type: ignore[union-attr]
            finally:
                c.close()

        cli = [
            sys.executable, "-m", "runbook", "watch", "--host", "127.0.0.1", "--port", str(node.port),
            "--server-name", name, "--ca", str(ca_file), "--cert", str(pki_root / "redis-client.crt"),
            "--key", str(pki_root / "redis-client.key"), "--state-dir", str(tmp_path / "state"),
            "--settle", "0.2", "--interval", "0.5", "--once", "--json",
        ]  # fmt: skip
        first = subprocess.run(cli, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stdout + first.stderr
        new_cert, new_key, new = renew(pki_root, cert, tmp_path / "staged", "renewed")
        assert pki.inspect(new_cert).sans == pki.inspect(cert).sans and name in str(pki.inspect(cert).sans)
        write("replace", new_cert, cert, new_key, key)
        before = config_sets()
        done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        (status,) = json.loads(done.stdout)["nodes"]
        assert status["last_result"] == "reloaded" and status["served_serial"] == new
        served = rotation.served_certificate("127.0.0.1", node.port, tls, server_hostname=name)
        assert rotation.serial_of(served) == new and config_sets() - before == 1
    finally:
        sandbox.stop_node(node)
