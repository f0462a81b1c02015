"""runbook.sandbox: each topology comes up over TLS, plaintext is refused on every port, links are
healthy over TLS, and stop leaves no process behind. Real redis-server processes on loopback."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from runbook import cli, config, pki, sandbox, workdir
from runbook.client import ssl_kwargs
from runbook.errors import RunbookError


def _work_with_pki(session_work: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(workdir.pki_dir(session_work), workdir.pki_dir(work))
    return work


def _plaintext_refused(port: int) -> bool:
    """Independent of runbook.sandbox: a raw plaintext PING must not get a Redis reply."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return not sock.recv(16).startswith(b"+PONG")
    except OSError:
        return True


def _assert_all_gone(pids: list[int]) -> None:
    assert pids
    assert not [p for p in pids if sandbox.pid_alive(p)], "sandbox stop left a process behind"


def _status_json(work: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = cli.main(["sandbox", "status", "--json", "--work-dir", str(work)])
    return code, json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------- unit: no server needed


def test_base_conf_builds_on_the_rendered_strict_section(session_work: Path, tmp_path: Path) -> None:
    p = pki.PkiPaths(workdir.pki_dir(session_work))
    conf = sandbox.base_conf(tmp_path, p, 7001)
    strict = config.directives(config.settings_for_pki(p.root, tls_port=7001))
    assert {k: conf[k] for k in strict} == strict
    assert conf["port"] == "0" and conf["tls-auth-clients"] == "yes" and conf["bind"] == "127.0.0.1 ::1"
    assert conf["dir"] == str(tmp_path) and "tls-client-cert-file" not in conf
    linked = sandbox.base_conf(tmp_path, p, 7001, replication=True)
    assert linked["tls-client-cert-file"].endswith("clients/redis-node.crt")
    assert linked["tls-replication"] == "yes"
    assert config.lint(conf) == []


def test_start_rejects_unknown_choices(fresh_work: Path) -> None:
    with pytest.raises(RunbookError, match="unknown topology"):
        sandbox.start(fresh_work, "sentinel")
    with pytest.raises(RunbookError, match="unknown backend"):
        sandbox.start(fresh_work, backend="podman")
    with pytest.raises(RunbookError, match="no server certificate"):
        sandbox.start(fresh_work)


def test_status_without_sandbox(fresh_work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _status_json(fresh_work, capsys)
    assert code == 1 and doc["nodes"] == [] and doc["topology"] is None


# --------------------------------------------------------------------------- integration


@pytest.mark.integration
def test_standalone_up_status_verify_stop(
    session_work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = _work_with_pki(session_work, tmp_path)
    box = sandbox.ensure(work)
    try:
        assert sandbox.ensure(work).primary.pid == box.primary.pid, "ensure must reuse a healthy sandbox"
        code, doc = _status_json(work, capsys)
        assert code == 0 and doc["topology"] == "standalone" and doc["pki_dir"] == str(workdir.pki_dir(work))
        (node,) = doc["nodes"]  # type: ignore[misc]
        assert node["tls"] is True and node["host"] == "127.0.0.1" and node["port"] == box.primary.port
        assert node["pid"] == box.primary.pid and node["role"] == "primary"
        results = sandbox.verify(box)
        assert [r.id for r in results if not r.ok] == []
        assert {"tls-ping:primary", "plaintext-refused:primary", "mutual-tls-enforced:primary"} <= {
            r.id for r in results
        }
        assert _plaintext_refused(box.primary.port)
        hs = sandbox.handshake(box.endpoint())
        assert hs.protocol == "TLSv1.3" and hs.server_subject.startswith("CN=localhost")
        assert hs.server_serial == pki.inspect(workdir.pki_dir(work) / "redis-server.crt").serial
        log = box.primary.log_path.read_text()
        assert "Ready to accept connections" in log
    finally:
        pids = sandbox.stop(work)
    _assert_all_gone(pids)
    assert sandbox.status(work) is None and sandbox.stop(work) == []


@pytest.mark.integration
def test_replica_links_over_tls(session_work: Path, tmp_path: Path) -> None:
    work = _work_with_pki(session_work, tmp_path)
    box = sandbox.start(work, "replica")
    try:
        assert [n.role for n in box.nodes] == ["primary", "replica"]
        links = sandbox.links(box)
        assert [r.status for r in links] == ["pass"] and "master_link_status:up" in links[0].detail
        primary, replica = box.client(box.nodes[0]), box.client(box.nodes[1])
        primary.set("runbook:probe", "over-tls")
        deadline = time.monotonic() + 10
        while replica.get("runbook:probe") != "over-tls" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert replica.get("runbook:probe") == "over-tls"
        info = replica.info("replication")
        assert info["master_port"] == box.nodes[0].port, "the replica must use the primary's TLS port"
        for node in box.nodes:
            assert _plaintext_refused(node.port), f"plaintext answered on {node.name}"
        assert sandbox.healthy(box)
        primary.close()
        replica.close()
    finally:
        pids = sandbox.stop(work)
    _assert_all_gone(pids)


@pytest.mark.integration
def test_cluster_forms_over_tls(
    session_work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = _work_with_pki(session_work, tmp_path)
    assert cli.main(["sandbox", "start", "--topology", "cluster", "--work-dir", str(work), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    box = sandbox.status(work)
    assert box is not None
    try:
        assert doc["topology"] == "cluster" and len(doc["nodes"]) == 3 and doc["healthy"] is True
        assert [r["status"] for r in doc["links"]] == ["pass"] * 3
        node = box.nodes[0]
        assert box.client(node).config_get("tls-cluster") == {"tls-cluster": "yes"}
        rc = RedisCluster(
            host="localhost",
            port=node.port,
            ssl=True,
            decode_responses=True,
            **ssl_kwargs(box.client_files()),
        )
        for i in range(20):
            rc.set(f"k{i}", i)
        assert [rc.get(f"k{i}") for i in range(20)] == [str(i) for i in range(20)]
        slots = {n.name: int(sandbox.cluster_info(box, n)["cluster_slots_ok"]) for n in box.nodes}
        assert set(slots.values()) == {16384}
        rc.close()
        for n in box.nodes:
            assert _plaintext_refused(n.port) and _plaintext_refused(n.bus_port)
    finally:
        assert cli.main(["sandbox", "stop", "--work-dir", str(work)]) == 0
    _assert_all_gone([n.pid for n in box.nodes])


@pytest.mark.integration
def test_replica_with_server_only_certificate_never_links(session_work: Path, tmp_path: Path) -> None:
    """The trap the lint rule exists for: without a clientAuth link certificate, no link comes up."""
    work = _work_with_pki(session_work, tmp_path)
    p = pki.PkiPaths(workdir.pki_dir(work))
    nodes: list[sandbox.Node] = []
    try:
        pconf = sandbox.base_conf(tmp_path / "p", p, sandbox.free_port())
        nodes.append(sandbox.start_node("p", "primary", tmp_path / "p", pconf, p))
        rconf = sandbox.base_conf(tmp_path / "r", p, sandbox.free_port())
        rconf.update({"tls-replication": "yes", "replicaof": f"127.0.0.1 {nodes[0].port}"})
        assert [f.subject for f in config.errors(config.lint(rconf))] == ["tls-cert-file"]
        nodes.append(sandbox.start_node("r", "replica", tmp_path / "r", rconf, p))
        box = sandbox.Sandbox("replica", "binary", str(work), str(p.root), nodes)
        deadline = time.monotonic() + 2.0  # give it every chance: the link must stay down throughout
        while time.monotonic() < deadline:
            assert [r.status for r in sandbox.links(box)] == ["fail"]
            time.sleep(0.2)
        # Redis does log it (docs/server-config.md): the replica logs each refused replication handshake,
        # as the alert or (TLS 1.3: the refusal comes after the handshake) as a reset connection
        log = nodes[1].log_path.read_text()
        assert re.search(
            r"sslv3 alert unsupported certificate|replication handshake: .*Connection reset", log
        ), log
    finally:
        for n in nodes:
            sandbox.stop_node(n)


@pytest.mark.integration
def test_checks_fail_on_a_server_that_lets_plaintext_in(session_work: Path, tmp_path: Path) -> None:
    p = pki.PkiPaths(workdir.pki_dir(session_work))
    conf = sandbox.base_conf(tmp_path, p, sandbox.free_port(), sandbox.free_port())
    conf["tls-auth-clients"] = "optional"
    node = sandbox.start_node("lax", "primary", tmp_path, conf, p)
    try:
        assert not _plaintext_refused(node.plaintext_port), "positive control: plaintext must answer here"
        files = sandbox.TlsClientFiles.from_pki(p.root)
        results = {
            r.id: r.status
            for r in sandbox.verify_endpoint(
                node.endpoint.with_files(files), name="", plaintext_port=node.plaintext_port
            )
        }
        assert results == {
            "tls-ping": "pass",
            "mutual-tls-enforced": "fail",
            "plaintext-refused": "pass",
            "plaintext-port": "fail",
        }
        box = sandbox.Sandbox("standalone", "binary", str(tmp_path), str(p.root), [node])
        assert "plaintext-port-closed:lax" in [r.id for r in sandbox.verify(box) if not r.ok]
    finally:
        sandbox.stop_node(node)


@pytest.mark.integration
def test_start_failure_names_the_reason(session_work: Path, tmp_path: Path) -> None:
    p = pki.PkiPaths(workdir.pki_dir(session_work))
    conf = sandbox.base_conf(tmp_path, p, sandbox.free_port())
    conf["tls-cert-file"] = str(tmp_path / "missing.crt")
    with pytest.raises(RunbookError, match="exited at start"):
        sandbox.start_node("broken", "primary", tmp_path, conf, p, timeout=5)


@pytest.mark.integration
def test_apply_tls_config_set_and_rewrite(session_work: Path, tmp_path: Path) -> None:
    work = _work_with_pki(session_work, tmp_path)
    box = sandbox.start(work)
    try:
        client = box.client()
        report = config.apply_tls(
            client, {"tls-protocols": '"TLSv1.3"', "tls-session-cache-timeout": "120"}, owned_dir=work
        )
        assert report.rewritten and report.changed == ["tls-protocols", "tls-session-cache-timeout"]
        assert client.config_get("tls-protocols") == {"tls-protocols": "TLSv1.3"}
        assert config.parse(box.primary.conf_path).get("tls-protocols") == "TLSv1.3"
        with pytest.raises(redis.ResponseError):  # atomic: a bad value changes nothing
            config.apply_tls(client, {"tls-session-cache-timeout": "60", "tls-auth-clients": "perhaps"})
        assert client.config_get("tls-session-cache-timeout") == {"tls-session-cache-timeout": "120"}
        other = config.apply_tls(
            client, {"tls-session-cache-timeout": "90"}, owned_dir=tmp_path / "elsewhere"
        )
        assert not other.rewritten
        with pytest.raises(RunbookError, match="nothing to apply"):
            config.apply_tls(client, {"maxmemory": "1mb"})
        client.close()
        ((name, reload),) = sandbox.reload_tls(box)
        assert name == "primary" and reload.rewritten and "tls-cert-file" in reload.changed
        assert "tls-port" not in reload.changed and sandbox.healthy(box)
    finally:
        sandbox.stop(work)
