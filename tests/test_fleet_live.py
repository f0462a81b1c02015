"""The fleet against real redis-server processes on loopback (started and stopped here).

Several TLS servers, each reading its own copy of the server files (so each rotates on its own),
plus the nodes an operator meets: one that is down, one that hides CONFIG
(``rename-command CONFIG ""``), one whose client key cannot be read, one that lets clients in
without a certificate. Nothing is mocked.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runbook import cli, fleet, inventory, pki, rotation, sandbox
from runbook.book import fleet as book_fleet
from runbook.client import TlsClientFiles
from runbook.errors import RunbookError

pytestmark = pytest.mark.integration


def _start(pki_root: Path, node_dir: Path, **extra: str) -> sandbox.Node:
    """A server reading its own copy of the PKI's server files (in ``node_dir/tls``)."""
    own = node_dir / "tls"
    shutil.copytree(pki_root, own, ignore=shutil.ignore_patterns("backups", "ca.key"))
    conf = sandbox.base_conf(node_dir, pki.PkiPaths(own), sandbox.free_port())
    conf.update(extra)
    return sandbox.start_node(node_dir.name, "primary", node_dir, conf, pki.PkiPaths(pki_root))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, sandbox.Node]]]:
    root = tmp_path_factory.mktemp("fleet")
    pki.create_pki(root / "pki", pki.PkiSpec())
    servers: dict[str, sandbox.Node] = {}
    try:
        for name, extra in [
            ("good-1", {}),
            ("good-2", {}),
            ("hidden-config", {"rename-command": 'CONFIG ""'}),
            ("lets-anyone-in", {"tls-auth-clients": "no"}),
            ("stale-replica", {"replicaof": "127.0.0.1 1"}),  # answers PING, its link never comes up
        ]:
            servers[name] = _start(root / "pki", root / name, **extra)
        yield root, servers
    finally:
        for node in servers.values():
            sandbox.stop_node(node)


def _inventory(
    root: Path,
    servers: dict[str, sandbox.Node],
    names: list[str],
    extra: list[dict[str, object]] | None = None,
) -> Path:
    nodes: list[dict[str, object]] = [
        {"name": n, "host": "127.0.0.1", "port": servers[n].port} for n in names
    ]
    data = {
        "defaults": {"server_name": "localhost", "ca": "pki/ca.crt", "cert": "pki/redis-client.crt",
                     "key": "pki/redis-client.key", "pki_dir": "pki"},
        "nodes": nodes + (extra or []),
    }  # fmt: skip
    path = root / f"inv-{len(list(root.glob('inv-*')))}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _down_node(root: Path) -> dict[str, object]:
    return {"name": "down", "host": "127.0.0.1", "port": sandbox.free_port()}


def _unreadable_node(root: Path) -> dict[str, object]:
    link = root / "gone.key"
    if not link.is_symlink():
        link.symlink_to(root / "does-not-exist.key")
    return {"name": "unreadable", "host": "127.0.0.1", "port": sandbox.free_port(), "key": "gone.key"}


def test_parallel_audit_gives_every_node_a_status(
    lab: tuple[Path, dict[str, sandbox.Node]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, servers = lab
    names = ["good-1", "good-2", "hidden-config", "lets-anyone-in", "stale-replica"]
    extra = [_down_node(root), _unreadable_node(root)]
    path = _inventory(root, servers, names, extra)
    prom, summary = tmp_path / "fleet.prom", tmp_path / "summary.json"
    code = cli.main(["fleet", "audit", "--inventory", str(path), "--parallel", "4", "--json",
                     "--prometheus", str(prom), "--summary", str(summary)])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and json.loads(summary.read_text())["counts"] == out["counts"]
    status = {n["name"]: n["status"] for n in out["nodes"]}
    assert status == {
        "good-1": "pass",
        "good-2": "pass",
        "hidden-config": "pass",  # the audit needs no CONFIG (plaintext checks use the TLS port)
        "lets-anyone-in": "fail",
        "stale-replica": "fail",  # every TLS check passes; the replication link is down
        "down": "unreachable",
        "unreadable": "unreadable",
    }
    by_name = {n["name"]: n for n in out["nodes"]}
    assert by_name["down"]["cause"] == "server-unreachable" and by_name["down"]["fix"]
    assert "gone.key cannot be read" in by_name["unreadable"]["detail"]
    assert [c["id"] for c in by_name["lets-anyone-in"]["checks"] if c["status"] == "fail"] == [
        "client-cert-required"
    ]
    stale = by_name["stale-replica"]
    assert stale["cause"] == "replica-link-down" and "master_link_status down" in stale["detail"]
    assert [c["id"] for c in stale["checks"] if c["status"] == "fail"] == ["replication-link"]
    assert "tls-replication" in stale["fix"]
    link = {c["id"]: c for c in by_name["good-1"]["checks"]}["replication-link"]
    assert link["status"] == "pass" and link["detail"].startswith("primary")
    assert by_name["good-1"]["days_left"] >= 364 and by_name["good-1"]["not_after"]
    assert out["counts"] == {"pass": 3, "fail": 2, "unreachable": 1, "unreadable": 1} and out["ok"] is False
    text = prom.read_text()
    for name in names:
        target = f'target="127.0.0.1:{servers[name].port}"'
        assert f'redis_tls_check_status{{check="tls-handshake",{target}}}' in text
        assert 'redis_tls_fleet_node_ok{action="audit"' in text
    assert text.count("# TYPE redis_tls_check_status gauge") == 1  # one family, every target in it
    assert 'node="down",role="standalone",status="unreachable"' in text
    assert "PRIVATE KEY" not in text + summary.read_text()


def test_parallel_diagnose(lab: tuple[Path, dict[str, sandbox.Node]]) -> None:
    root, servers = lab
    nodes = inventory.load(_inventory(root, servers, ["good-1", "good-2"], [_down_node(root)])).nodes
    report = fleet.diagnose_fleet(nodes, parallel=3)
    assert [(n.name, n.status, n.cause) for n in report.nodes] == [
        ("good-1", "pass", "ok"), ("good-2", "pass", "ok"), ("down", "unreachable", "server-unreachable"),
    ]  # fmt: skip
    assert report.exit_code == 1


def _served(port: int, root: Path) -> str:
    return rotation.serial_of(
        rotation.served_certificate("127.0.0.1", port, TlsClientFiles.from_pki(root / "pki"), "localhost")
    )


def _own_files(root: Path, name: str) -> dict[str, str]:
    return rotation.file_digests(
        [root / name / "tls" / "redis-server.crt", root / name / "tls" / "redis-server.key"]
    )


def test_rolling_rotation_stops_at_the_first_failure_and_leaves_the_rest_untouched(tmp_path: Path) -> None:
    pki.create_pki(tmp_path / "pki", pki.PkiSpec())
    servers = {n: _start(tmp_path / "pki", tmp_path / n) for n in ("r-1", "r-2", "r-3")}
    try:
        nodes = inventory.load(_inventory(tmp_path, servers, list(servers))).nodes
        before = {n: _served(s.port, tmp_path) for n, s in servers.items()}
        files_before = {n: _own_files(tmp_path, n) for n in servers}
        report = fleet.rotate(nodes, fault={"r-2": "reload"})  # the real server refuses r-2's reload
        assert [(n.name, n.status) for n in report.nodes] == [
            ("r-1", "rotated"), ("r-2", "rolled-back"), ("r-3", "not-started"),
        ]  # fmt: skip
        assert report.stopped_at == "r-2" and report.exit_code == 1
        assert report.plan == [[["r-1"]], [["r-2"]], [["r-3"]]]
        after = {n: _served(s.port, tmp_path) for n, s in servers.items()}
        assert after["r-1"] != before["r-1"] and after["r-1"] == report.node("r-1").new_serial
        assert after["r-2"] == before["r-2"], "rolled back: the old certificate is served again"
        assert _own_files(tmp_path, "r-2") == files_before["r-2"], "restored byte for byte"
        assert after["r-3"] == before["r-3"] and _own_files(tmp_path, "r-3") == files_before["r-3"]
        assert "refused" in report.node("r-2").detail and report.node("r-3").detail.startswith(
            "the run stopped at r-2"
        )
    finally:
        for node in servers.values():
            sandbox.stop_node(node)


def test_rotation_plan_refuses_to_start_with_an_unreachable_node(
    lab: tuple[Path, dict[str, sandbox.Node]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, servers = lab
    path = _inventory(root, servers, ["good-1"], [_down_node(root)])
    before = _own_files(root, "good-1")
    assert cli.main(["fleet", "rotate", "--inventory", str(path)]) == 1
    out = capsys.readouterr().out
    assert "not-started" in out and "unreachable" in out
    assert _own_files(root, "good-1") == before


def test_hidden_config_is_external_commands_and_verify(
    lab: tuple[Path, dict[str, sandbox.Node]], tmp_path: Path
) -> None:
    root, servers = lab
    own = tmp_path / "pki"
    shutil.copytree(root / "pki", own, ignore=shutil.ignore_patterns("backups"))
    extra = [
        {"name": "hidden", "host": "127.0.0.1", "port": servers["hidden-config"].port, "pki_dir": str(own)}
    ]
    nodes = inventory.load(_inventory(root, servers, [], extra)).nodes
    dry = fleet.rotate(nodes, dry_run=True)
    assert dry.node("hidden").status == "planned" and not (own / "backups").exists()
    report = fleet.rotate(nodes)
    hidden = report.node("hidden")
    assert hidden.status == "pending" and report.ok
    assert any("CONFIG SET tls-cert-file" in c for c in hidden.commands)
    assert any(c.startswith("python -m runbook rotate verify") for c in hidden.commands)
    verify = {c.id: c.status for c in hidden.checks if c.id.startswith("verify:")}
    assert verify == {
        "verify:served-certificate": "warn",
        "verify:mutual-tls-ping": "pass",
    }  # not deployed yet
    assert _served(servers["hidden-config"].port, root) == hidden.serial  # the server was not touched


def test_cli_dry_run_prints_the_plan(
    lab: tuple[Path, dict[str, sandbox.Node]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, servers = lab
    path = _inventory(root, servers, ["good-1", "good-2"])
    assert cli.main(["fleet", "rotate", "--inventory", str(path), "--dry-run", "--limit", "good-*"]) == 0
    out = capsys.readouterr().out
    assert "rolling rotation plan" in out and "good-1" in out and "planned" in out


def test_parallel_rotation_runs_independent_groups_side_by_side(tmp_path: Path) -> None:
    """Two nodes of different groups with their own PKI folders: one wave, both rotated at once."""
    servers, extra = {}, []
    for name in ("east", "west"):
        pki.create_pki(tmp_path / name / "pki", pki.PkiSpec())
        servers[name] = _start(tmp_path / name / "pki", tmp_path / name / "node")
        extra.append({"name": name, "host": "127.0.0.1", "port": servers[name].port, "group": name,
                      "ca": f"{name}/pki/ca.crt", "cert": f"{name}/pki/redis-client.crt",
                      "key": f"{name}/pki/redis-client.key", "pki_dir": f"{name}/pki"})  # fmt: skip
    try:
        path = tmp_path / "inv.yml"
        path.write_text(yaml.safe_dump({"nodes": extra}))
        report = fleet.rotate(inventory.load(path).nodes, parallel=2)
        assert report.plan == [[["east"], ["west"]]]
        assert [(n.name, n.status) for n in report.nodes] == [("east", "rotated"), ("west", "rotated")]
        for name in ("east", "west"):
            served = rotation.served_certificate("127.0.0.1", servers[name].port,
                                                 TlsClientFiles.from_pki(tmp_path / name / "pki"), "localhost")  # fmt: skip
            assert rotation.serial_of(served) == report.node(name).new_serial
    finally:
        for node in servers.values():
            sandbox.stop_node(node)


def test_external_target_starts_nothing_and_only_plans(
    lab: tuple[Path, dict[str, sandbox.Node]], tmp_path: Path
) -> None:
    """Notebook 07 under target=external: one node from the connection parameters, nothing started."""
    root, servers = lab
    theirs = tmp_path / "operator"
    theirs.mkdir()
    for name in ("ca.crt", "redis-client.crt", "redis-client.key"):  # the operator's files: no ca.key
        shutil.copy2(root / "pki" / name, theirs / name)
    work = tmp_path / "work"
    target = book_fleet.prepare(
        target="external", work_dir=work, redis_host="127.0.0.1", redis_port=servers["good-1"].port,
        server_name="localhost", ca_file=str(theirs / "ca.crt"), client_cert=str(theirs / "redis-client.crt"),
        client_key=str(theirs / "redis-client.key"),
    )  # fmt: skip
    assert [n.target for n in target.nodes] == [
        f"127.0.0.1:{servers['good-1'].port}"
    ] and target.rotation_dry_run
    audit, _ = fleet.audit(target.nodes, scan_ciphers=False)
    plan = target.rotate(dry_run=True)
    rotated = target.rotate()
    assert audit.ok and plan.ok and rotated.ok
    assert rotated.nodes[0].status == "skipped" and "no PKI folder" in rotated.nodes[0].detail
    assert [v.status for v in fleet.verdict(audit, plan, rotated)] == ["pass", "pass", "skip"]
    assert target.stop() == [] and not (work / "sandbox").exists() and not (work / "fleet" / "cache").exists()
    with pytest.raises(RunbookError, match="inventory applies to target=external"):
        book_fleet.prepare(target="sandbox", inventory="x.yml", work_dir=work)


def test_notebook_07_parameters_are_checked_before_anything_starts(tmp_path: Path) -> None:
    """07's derived cell (``book.fleet.from_params``): a wrong combination is one line before any server
    starts; a good one resolves the work dir and starts nothing until ``prepare()``."""
    work = tmp_path / "work"
    for kwargs, message in (
        ({"target": "cloud"}, "unknown target 'cloud'"),
        ({"inventory": "x.yml"}, "inventory applies to target=external"),
        ({"target": "external"}, "needs inventory .* or redis_host"),
    ):
        with pytest.raises(RunbookError, match=message):
            book_fleet.from_params(str(work), **kwargs)  # type: ignore[arg-type]
    params = book_fleet.from_params(str(work), "external", inventory="inv.yml", limit="cache")
    assert params.work == work.resolve() and params.inventory == "inv.yml" and params.limit == "cache"
    assert sorted(p.name for p in work.iterdir()) == [], "from_params starts and writes nothing"
