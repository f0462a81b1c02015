"""``runbook fleet watch`` against real TLS redis-servers listed in a runbook inventory.

A replica pair (one replication group, the replica with its own link certificate) and an
independent node, each reading its own files; a writer *process* (tests/watch_writer.py) renews
them; ``fleet watch`` runs as a subprocess. Reloads are counted by the servers themselves
(``INFO commandstats``) and every served serial is read with a fresh handshake. Nothing is mocked.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from runbook import inventory, pki, rotation, sandbox
from runbook.watch import WatchTarget, watch
from watch_support import Site, node_files, renew, start_server, write

pytestmark = pytest.mark.integration


@dataclass
class Lab:
    root: Path
    site: Site  # the PKI and a client helper (its node is the primary)
    nodes: dict[str, sandbox.Node]  # inventory name -> server
    tls: dict[str, dict[str, Path]]  # inventory name -> the files it reads

    def serial(self, name: str) -> str:
        return self.site.serial(self.nodes[name].port)

    def config_sets(self) -> dict[str, int]:
        return {n: self.site.config_sets(node.port) for n, node in self.nodes.items()}


def _wait_link(lab_site: Site, port: int) -> None:
    deadline = time.monotonic() + 20
    while lab_site.client(port).info("replication")["master_link_status"] != "up":
        assert time.monotonic() < deadline, "the test replica did not link"
        time.sleep(0.1)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    pki_root = tmp_path / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    tls = {
        "cache-primary": node_files(pki_root, tmp_path / "p-tls", link=False),
        "cache-replica": node_files(pki_root, tmp_path / "r-tls", link=True),
        "solo": node_files(pki_root, tmp_path / "s-tls", link=False),
    }
    nodes: dict[str, sandbox.Node] = {}
    try:
        p = tls["cache-primary"]
        nodes["cache-primary"] = start_server(pki_root, tmp_path / "primary", p["cert"], p["key"], p["ca"],
                                              **{"tls-replication": "yes", "repl-diskless-sync-delay": "0"})  # fmt: skip
        r = tls["cache-replica"]
        nodes["cache-replica"] = start_server(
            pki_root, tmp_path / "replica", r["cert"], r["key"], r["ca"],
            replicaof=f"127.0.0.1 {nodes['cache-primary'].port}",
            **{"tls-replication": "yes", "tls-client-cert-file": str(r["link"]),
               "tls-client-key-file": str(r["link_key"])},
        )  # fmt: skip
        s = tls["solo"]
        nodes["solo"] = start_server(pki_root, tmp_path / "solo", s["cert"], s["key"], s["ca"])
        site = Site(tmp_path, pki_root, tmp_path, nodes["cache-primary"])
        _wait_link(site, nodes["cache-replica"].port)
        yield Lab(tmp_path, site, nodes, tls)
    finally:
        for node in nodes.values():
            sandbox.stop_node(node)


def _inventory(lab: Lab, extra: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
    roles = {
        "cache-primary": ("primary", "cache"),
        "cache-replica": ("replica", "cache"),
        "solo": ("standalone", ""),
    }
    nodes = [
        {"name": n, "host": "127.0.0.1", "port": lab.nodes[n].port, "role": roles[n][0],
         **({"group": roles[n][1]} if roles[n][1] else {})}
        for n in lab.nodes
    ]  # fmt: skip
    data = {
        "defaults": {"server_name": "localhost", "ca": "pki/ca.crt", "cert": "pki/redis-client.crt",
                     "key": "pki/redis-client.key"},
        "nodes": nodes + list(extra),
    }  # fmt: skip
    path = lab.root / f"inventory-{len(list(lab.root.glob('inventory-*')))}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _cli(lab: Lab, inv: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "runbook", "fleet", "watch", "--inventory", str(inv),
        "--state-dir", str(lab.root / "state"), "--settle", "0.3", "--interval", "0.5", *extra,
    ]  # fmt: skip


def _once(lab: Lab, inv: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        _cli(lab, inv, "--once", "--json", *extra), capture_output=True, text=True, timeout=180, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def _renew(lab: Lab, name: str, staged: str) -> str:
    """Renew ``name``'s files with the writer process (link certificate too); its new serial."""
    f = lab.tls[name]
    cert, key, new = renew(lab.site.pki, f["cert"], lab.root / staged, name)
    pairs: list[object] = [cert, f["cert"], key, f["key"]]
    if "link" in f:
        lc, lk, _ = renew(lab.site.pki, f["link"], lab.root / staged, f"{name}-link")
        pairs += [lc, f["link"], lk, f["link_key"]]
    write("replace", *pairs)
    return new


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["node"]: n for n in report["nodes"]}


def test_once_reloads_every_renewed_node_replica_before_primary(lab: Lab) -> None:
    inv = _inventory(lab)
    rc, first, _ = _once(lab, inv)  # nothing differs: the good copies are taken
    assert rc == 0 and all(n["state"] == "ok" and n["last_result"] == "" for n in first["nodes"]), first
    assert first["inventory"] == str(inv) and first["limit"] is None
    before = lab.config_sets()
    new = {name: _renew(lab, name, "r1") for name in lab.nodes}
    rc, report, _ = _once(lab, inv)
    nodes = _by_name(report)
    assert rc == 0, report
    for name in lab.nodes:
        assert nodes[name]["last_result"] == "reloaded", nodes[name]
        assert nodes[name]["served_serial"] == new[name] == lab.serial(name)
        assert nodes[name]["target"] == f"127.0.0.1:{lab.nodes[name].port}"
    assert {n: c - before[n] for n, c in lab.config_sets().items()} == dict.fromkeys(lab.nodes, 1)
    reloaded = [e["node"] for e in report["events"] if e["kind"] == "reloaded"]
    assert reloaded.index("cache-replica") < reloaded.index("cache-primary")  # replicas first
    assert nodes["cache-replica"]["group"] == nodes["cache-primary"]["group"] == "cache"
    assert lab.site.client(lab.nodes["cache-replica"].port).info("replication")["master_link_status"] == "up"


def test_a_bad_renewal_is_refused_on_its_node_while_the_others_reload(lab: Lab, tmp_path: Path) -> None:
    inv = _inventory(lab)
    assert _once(lab, inv)[0] == 0
    old_solo = lab.serial("solo")
    new = {name: _renew(lab, name, "r1") for name in ("cache-primary", "cache-replica")}
    bad_cert, bad_key = rotation.drill_material("other-ca", lab.site.pki, tmp_path / "bad")
    write("replace", bad_cert, lab.tls["solo"]["cert"], bad_key, lab.tls["solo"]["key"])
    before = lab.config_sets()
    prom = lab.root / "fleet-watch.prom"
    rc, report, _ = _once(lab, inv, "--prometheus", str(prom))
    nodes = _by_name(report)
    assert rc == 1
    assert nodes["solo"]["state"] == "refused" and nodes["solo"]["detail"].startswith("chain"), nodes["solo"]
    assert nodes["solo"]["fix"] and lab.serial("solo") == old_solo
    assert lab.config_sets()["solo"] == before["solo"]  # never reached CONFIG SET
    for name, serial in new.items():
        assert nodes[name]["state"] == "ok" and lab.serial(name) == serial
    # per-target series, labelled as the fleet audit labels its own: target="host:port", node=<name>
    fleet_targets = {n.name: n.target for n in inventory.load(inv).nodes}
    states = {
        s.labels["node"]: s.labels["target"]
        for fam in text_string_to_metric_families(prom.read_text())
        for s in fam.samples
        if s.name == "redis_tls_watch_node_state" and s.labels["state"] == "refused" and s.value == 1
    }
    assert states == {"solo": fleet_targets["solo"]}


def test_unreachable_external_and_unreadable_nodes_get_a_status_and_limit_selects(lab: Lab) -> None:
    hidden_dir = lab.root / "hidden"
    f = node_files(lab.site.pki, lab.root / "h-tls", link=False)
    hidden = start_server(
        lab.site.pki, hidden_dir, f["cert"], f["key"], f["ca"], **{"rename-command": 'CONFIG ""'}
    )
    try:
        dangling = lab.root / "gone.key"
        dangling.symlink_to(lab.root / "does-not-exist.key")
        down_port = sandbox.free_port()
        inv = _inventory(lab, [
            {"name": "down", "host": "127.0.0.1", "port": down_port},
            {"name": "hidden", "host": "127.0.0.1", "port": hidden.port},
            # its client key is a dangling link: reported before any connection is tried
            {"name": "no-key", "host": "localhost", "port": lab.nodes["solo"].port, "key": str(dangling)},
        ])  # fmt: skip
        new = _renew(lab, "solo", "r1")
        t0 = time.monotonic()
        rc, report, _ = _once(lab, inv)
        took = time.monotonic() - t0
        nodes = _by_name(report)
        assert rc == 1
        assert nodes["down"]["state"] == "unreachable" and f"127.0.0.1:{down_port}" in nodes["down"]["detail"]
        assert nodes["hidden"]["state"] == "external" and "runbook rotate server" in nodes["hidden"]["detail"]
        assert nodes["no-key"]["state"] == "unreadable" and str(dangling) in nodes["no-key"]["detail"]
        assert nodes["solo"]["last_result"] == "reloaded" and lab.serial("solo") == new  # the others go on
        assert all(nodes[n]["state"] == "ok" for n in lab.nodes)
        assert took < 60, f"one pass took {took:.1f}s"
        # text mode: one row per node, no traceback
        done = subprocess.run(_cli(lab, inv, "--once"), capture_output=True, text=True, timeout=180)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        print(done.stdout)  # the per-node table (a figure for the docs)
        rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()}
        assert (
            "unreachable" in rows["down"] and "external" in rows["hidden"] and "unreadable" in rows["no-key"]
        )
        # --limit selects: the replica group only
        rc, report, _ = _once(lab, inv, "--limit", "cache")
        assert rc == 0 and sorted(_by_name(report)) == ["cache-primary", "cache-replica"]
        assert report["limit"] == "cache"
        rc, report, _ = _once(lab, inv, "--limit", "!down,!hidden,!no-key")
        assert rc == 0 and sorted(_by_name(report)) == sorted(lab.nodes)
        done = subprocess.run(_cli(lab, inv, "--once", "--limit", "nope"), capture_output=True, text=True)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert "--limit 'nope' matches no host" in done.stderr
    finally:
        sandbox.stop_node(hidden)


def test_daemon_reloads_a_renewal_and_ends_cleanly_on_sigterm(lab: Lab) -> None:
    inv = _inventory(lab)
    prom = lab.root / "daemon.prom"
    proc = subprocess.Popen(
        _cli(lab, inv, "--prometheus", str(prom)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        while sum("watching: serving serial" in line for line in seen) < 3:
            line = proc.stdout.readline()
            assert line, "".join(seen) + (proc.stderr.read() if proc.stderr else "")
            seen.append(line)
        new = _renew(lab, "solo", "r1")
        while not any("solo reloaded" in line for line in seen):
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - t0 < 5
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert lab.serial("solo") == new
    assert "watch: 3 node(s)" in out and all(name in out for name in lab.nodes)
    assert f'node="solo",serial="{new}",target="127.0.0.1:{lab.nodes["solo"].port}"' in prom.read_text()


def test_the_commands_watch_targets_from_python(lab: Lab) -> None:
    """What `fleet watch` runs: watch(keep_going=True) over each inventory node's endpoint and group."""
    nodes = inventory.load(_inventory(lab)).nodes
    target = WatchTarget(nodes[0].endpoint, group=nodes[0].group)
    ep = target.endpoint
    assert (ep.host, ep.port, ep.server_name, target.group, ep.name) == (
        "127.0.0.1", lab.nodes["cache-primary"].port, "localhost", "cache", "cache-primary",
    )  # fmt: skip
    assert ep.files == nodes[0].endpoint.files and ep.label == "cache-primary"
    new = _renew(lab, "solo", "r1")
    report = watch(
        [WatchTarget(n.endpoint, group=n.group) for n in nodes], keep_going=True, once=True, settle=0.3, interval=0.5,
        state_dir=lab.root / "state",
    )  # fmt: skip
    by = {n.node: n for n in report.nodes}
    assert by["solo"].last_result == "reloaded" and by["solo"].served_serial == new == lab.serial("solo")
