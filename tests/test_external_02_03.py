"""Notebooks 01-06 under ``--target external``: against a redis-server the test starts itself.

The server has its own PKI (``pki create``) and config (``config render``), is started with
``subprocess`` (not ``sandbox``), and must be the very same process, still answering, after the run.
One pipeline run per server: 01-06 against the ``localhost`` one (02/03 here, the 04/05/06 contract of
docs/external-target.md in :func:`check_04_05_06_contract`), 01-03 against the ``redis.test`` one; 01
also runs alone (its own promise: it writes no PKI, which later notebooks may).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook import bench, cli, pipeline, rotation, sandbox
from runbook.client import Endpoint, TlsClientFiles, probe
from runbook.pki import PkiPaths, inspect

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class External:
    proc: subprocess.Popen[bytes]
    port: int
    pki: PkiPaths
    server_name: str

    @property
    def files(self) -> TlsClientFiles:
        return TlsClientFiles(str(self.pki.ca_cert), str(self.pki.client_cert()), str(self.pki.client_key()))

    def serial(self) -> str:
        """Serial of the certificate the server presents now."""
        return rotation.serial_of(
            rotation.served_certificate("127.0.0.1", self.port, self.files, self.server_name)
        )

    def info(self) -> dict[str, str]:
        reply = probe.command(
            Endpoint("127.0.0.1", self.port, self.server_name, self.files), "INFO", "server"
        )
        assert isinstance(reply.value, bytes), reply
        lines = reply.value.decode().splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


@pytest.fixture(params=["localhost", "redis.test"])
def external_redis(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[External]:
    """An operator's Redis: PKI and config from the runbook CLI, started outside any work dir.

    ``localhost``: the default PKI (it also names 127.0.0.1); ``redis.test``: a certificate naming only
    redis.test, so every probe must verify it for ``server_name`` while connecting to 127.0.0.1.
    """
    name: str = request.param
    home = tmp_path / "operator"
    home.mkdir()
    port = sandbox.free_port()
    names = [] if name == "localhost" else ["--hostname", name, "--no-local-names"]
    assert cli.main(["pki", "create", "--dir", str(home / "pki"), *names]) == 0
    conf = home / "redis.conf"
    assert (
        cli.main(["config", "render", "--dir", str(home / "pki"), "--tls-port", str(port), "-o", str(conf)])
        == 0
    )
    proc = subprocess.Popen(
        [sandbox.redis_server_binary(), str(conf), "--dir", str(home), "--logfile", str(home / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = External(proc, port, PkiPaths(home / "pki"), name)
    deadline = time.monotonic() + 10
    while not probe.answers_ping(Endpoint("127.0.0.1", port, name, server.files), 0.5):
        assert proc.poll() is None and time.monotonic() < deadline, (home / "redis.log").read_text()
        time.sleep(0.05)
    yield server
    proc.terminate()
    proc.wait(timeout=10)


def test_notebooks_run_against_an_external_server_and_start_nothing(
    external_redis: External, tmp_path: Path
) -> None:
    before = external_redis.info()
    work, out = tmp_path / "work", tmp_path / "out"
    pki = external_redis.pki
    with_04_05_06 = external_redis.server_name == "localhost"
    watched = [pki.server_cert, pki.server_key, pki.ca_cert, pki.ca_key]
    digests, serial = rotation.file_digests(watched), external_redis.serial()
    summary = pipeline.run(
        only=["01", "02", "03", *(["04", "05", "06"] if with_04_05_06 else [])],
        target="external",
        connection={
            "redis_host": "127.0.0.1",
            "redis_port": external_redis.port,
            "server_name": external_redis.server_name,
            "ca_file": str(pki.ca_cert),
            "client_cert": str(pki.client_cert()),
            "client_key": str(pki.client_key()),
        },
        output_dir=out,
        work=work,
        notebooks=ROOT / "notebooks",
        progress=False,
    )
    assert summary.ok, summary.failure_line()
    assert [(n.name, n.status) for n in summary.notebooks][:3] == [
        ("01_certificates", "passed"),
        ("02_server_config", "passed"),
        ("03_client_checks", "passed"),
    ]
    assert len(summary.notebooks) == (6 if with_04_05_06 else 3)
    assert sandbox.status(work) is None and not (work / "sandbox").exists(), "no sandbox may be started"

    after = external_redis.info()
    assert external_redis.proc.poll() is None, "the external server must not be stopped"
    assert after["process_id"] == before["process_id"] == str(external_redis.proc.pid)
    assert after["run_id"] == before["run_id"], "the external server must not be restarted"

    address = f"127.0.0.1:{external_redis.port}"
    records = {n.name: n.record for n in summary.notebooks if n.record}
    for name in ("02_server_config", "03_client_checks"):
        ev = records[name]["evidence"]
        assert ev["target"] == address, name
        assert ev["mutual_tls_enforced"] is True and ev["plaintext_refused"] is True, name
        assert ev["topology"] == "external" and ev["redis_version"] == after["redis_version"], name
    verdict = {v["id"]: v for v in records["02_server_config"]["verdict"]}
    assert verdict["server"]["status"] == "skip" and "nothing started" in verdict["server"]["detail"]
    checks = {c["id"]: c["status"] for c in records["02_server_config"]["evidence"]["checks"]}
    assert checks == {
        "tls-ping:target": "pass",
        "strict-clients:target": "pass",
        "mutual-tls-enforced:target": "pass",
        "plaintext-refused:target": "pass",
        "plaintext-port-closed:target": "pass",
    }
    # 03 used the operator's files (its own CA), not the work dir's PKI that notebook 01 created
    executed = json.loads((out / "03_client_checks.ipynb").read_text())
    snippet_out = "".join(
        "".join(o.get("text", ""))
        for c in executed["cells"]
        if c["cell_type"] == "code" and "SNIPPETS =" in "".join(c["source"])
        for o in c["outputs"]
    )
    assert f"--cacert {pki.ca_cert}" in snippet_out and f"--key {pki.client_key()}" in snippet_out
    assert f"ca: fs.readFileSync({json.dumps(str(pki.ca_cert))})" in snippet_out, "ioredis uses ca_file"
    assert f"key: fs.readFileSync({json.dumps(str(pki.client_key()))})" in snippet_out
    assert str(work / "pki") not in snippet_out
    assert summary.evidence["target"] == address
    snippets = {v["id"]: v for v in records["03_client_checks"]["verdict"]}["snippets"]["detail"]
    if external_redis.server_name == "localhost":  # redis-cli, openssl, redis-py client and pool ran
        assert snippets == "4 of 5 ran and answered"
    else:  # redis-py cannot verify a certificate that does not name 127.0.0.1: not run, and says why
        assert snippets == "2 of 5 ran and answered"
        assert "has no server-name option" in json.dumps(executed)
    if with_04_05_06:
        check_04_05_06_contract(external_redis, summary, work, serial, digests)


def check_04_05_06_contract(
    srv: External, summary: pipeline.RunSummary, work: Path, serial: str, digests: dict[str, str]
) -> None:
    """04 diagnoses without drills, 05 plans but neither rotates nor writes, 06 skips its bench."""
    watched = [srv.pki.server_cert, srv.pki.server_key, srv.pki.ca_cert, srv.pki.ca_key]
    assert not (work / "bench").exists(), "06 must not build its bench servers"
    assert srv.serial() == serial, "05 must not rotate by default"
    assert rotation.file_digests(watched) == digests, "05 must not write the server's files by default"

    records = {n.name: n.record for n in summary.notebooks}
    r04, r05, r06 = records["04_troubleshooting"], records["05_rotation"], records["06_performance"]
    assert r04 is not None and r05 is not None and r06 is not None

    v04 = {v["id"]: v for v in r04["verdict"]}
    assert v04["drills"]["status"] == "skip" and "target=sandbox" in v04["drills"]["detail"]
    assert all(v04[i]["status"] == "pass" for i in ("certificate-dates", "chain-verification", "handshake"))
    assert r04["evidence"]["target"] == f"127.0.0.1:{srv.port}"
    assert r04["evidence"]["mutual_tls_enforced"] is True and r04["evidence"]["drills"] == []
    assert r04["evidence"]["protocols_refused"] == ["TLSv1", "TLSv1.1"]

    v05 = {v["id"]: v["status"] for v in r05["verdict"]}
    assert v05 == {
        "plan-preflight": "pass",
        "rotation": "skip",
        "live-load": "skip",
        "drill-preflight": "skip",
        "drill-rollback": "skip",
    }
    ev05 = r05["evidence"]
    assert ev05["rotation"][0]["status"] == "planned" and ev05["rotation"][0]["old_serial"] == serial
    assert ev05["certificates"][0]["serial"] == serial
    commands = "\n".join(ev05["rotation_plan"]["commands"])
    assert f"CONFIG SET tls-cert-file {srv.pki.server_cert} tls-key-file {srv.pki.server_key}" in commands
    assert "rotate verify" in commands

    assert {v["status"] for v in r06["verdict"]} == {"skip"}
    assert r06["evidence"]["skipped"] == bench.EXTERNAL_SKIP


def _digests(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run_01(server: External, tmp_path: Path) -> pipeline.RunSummary:
    pki = server.pki
    return pipeline.run(
        only=["01"],
        target="external",
        connection={
            "redis_host": "127.0.0.1",
            "redis_port": server.port,
            "server_name": server.server_name,
            "ca_file": str(pki.ca_cert),
            "client_cert": str(pki.client_cert()),
            "client_key": str(pki.client_key()),
        },
        output_dir=tmp_path / "out",
        work=tmp_path / "work",
        notebooks=ROOT / "notebooks",
        progress=False,
    )


def test_01_inspects_the_operators_files_and_writes_none(external_redis: External, tmp_path: Path) -> None:
    """Under external, 01 judges the files the deployment uses (and the served certificate), creates no PKI."""
    before = _digests(external_redis.pki.root)
    summary = _run_01(external_redis, tmp_path)
    assert summary.ok, summary.failure_line()
    assert _digests(external_redis.pki.root) == before, "the operator's files are untouched"
    assert not (tmp_path / "work" / "pki").exists(), "no runbook PKI is created in their place"
    record = summary.notebooks[0].record
    assert record is not None
    serials = {c["file"]: c["serial"] for c in record["evidence"]["certificates"]}
    assert serials == {
        "ca.crt": inspect(external_redis.pki.ca_cert).serial,
        "served-server.crt": inspect(external_redis.pki.server_cert).serial,  # what the server presents
        "redis-client.crt": inspect(external_redis.pki.client_cert()).serial,
    }
    files = {v["id"]: v["detail"] for v in record["verdict"]}
    assert files["pki-files"] == "0 written, 2 kept"


def test_01_on_a_guide_made_ca_warns_with_the_adopt_fix_and_writes_nothing(
    tmp_path: Path, start_server: Callable[..., sandbox.Node]
) -> None:
    """A CA made with a guide's openssl lines (no keyUsage): Redis serves it; 01 reports the strict-profile
    finding as a warning (strictness never stops the run that leads to the fix, notebook 09) with the path
    that keeps the operator's CA (adopt), never 'overwrite', and writes nothing."""
    from guide_certs import guide_style_ca
    from runbook import files, pki

    paths = PkiPaths(tmp_path / "operator")
    ca = guide_style_ca()
    server = pki.make_leaf(ca, "redis", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"])
    client = pki.make_leaf(ca, "app", purpose="client", hostnames=["app"])
    files.write_all(
        [
            files.PlannedWrite(paths.ca_cert, ca.cert_pem(), files.PUBLIC),
            *server.planned_writes(paths.server_cert, paths.server_key),
            *client.planned_writes(paths.client_cert(), paths.client_key()),
        ]
    )
    node = start_server(paths, wait=False)
    before = _digests(paths.root)
    summary = _run_01(External(None, node.port, paths, "localhost"), tmp_path)  # type: ignore[arg-type]
    assert summary.ok, summary.failure_line()
    record = summary.notebooks[0].record
    assert record is not None
    profile = {c["id"]: c for c in record["verdict"]}["ca-profile"]
    assert profile["status"] == "warn" and "strict clients refuse" in profile["detail"], profile
    assert "runbook adopt" in profile["fix"] and "overwrite" not in profile["fix"], profile
    assert _digests(paths.root) == before and not (tmp_path / "work" / "pki").exists()


def _run_02(endpoint: Endpoint, tmp_path: Path) -> pipeline.RunSummary:
    files = endpoint.files
    return pipeline.run(
        only=["02"],
        target="external",
        connection={
            "redis_host": endpoint.host,
            "redis_port": endpoint.port,
            "server_name": endpoint.server_name,
            "ca_file": files.ca,
            "client_cert": files.cert or "",
            "client_key": files.key or "",
        },
        output_dir=tmp_path / "out",
        work=tmp_path / "work",
        notebooks=ROOT / "notebooks",
        progress=False,
    )


def _pem_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and p.suffix in (".crt", ".key", ".pem")]


def test_02_lints_the_live_settings_and_the_operators_files_and_writes_no_pki(
    external_redis: External, tmp_path: Path
) -> None:
    """Under external, 02 renders nothing and writes no PKI: it lints what the server reports
    (CONFIG GET tls-*) and the operator's files; the server's files stay as they were."""
    if external_redis.server_name != "localhost":
        pytest.skip("one server is enough: the redis.test variant adds nothing here")
    pki = external_redis.pki
    before = _digests(pki.root)
    pki.client_key().chmod(0o640)  # the operator's key readable by its group: a finding on client_key
    ep = Endpoint("127.0.0.1", external_redis.port, "localhost", external_redis.files)
    summary = _run_02(ep, tmp_path)
    assert summary.ok, summary.failure_line()
    work = tmp_path / "work"
    assert not (work / "pki").exists() and not (work / "config").exists(), "no PKI, no rendered config"
    assert _pem_files(work) == [] and _pem_files(tmp_path / "out") == []
    assert {k: v for k, v in _digests(pki.root).items()} == before, "the operator's files are untouched"
    record = summary.notebooks[0].record
    assert record is not None
    ev = record["evidence"]
    assert ev["config_file"] == f"CONFIG GET on 127.0.0.1:{external_redis.port}"
    lint = {(f["subject"], f["severity"]) for f in ev["lint"]}
    assert ("client_key", "warn") in lint, ev["lint"]  # the operator's file, judged
    assert not any(f["severity"] == "error" for f in ev["lint"]), ev["lint"]
    verdict = {v["id"]: v for v in record["verdict"]}
    assert verdict["config-lint"]["status"] == "pass" and verdict["server"]["status"] == "skip"
    assert "live settings linted" in verdict["server"]["detail"]


def test_02_on_a_corpus_deployment_fails_on_what_the_live_server_runs(tmp_path: Path) -> None:
    """mkcert's files served with TLS 1.1 still allowed: 02 under external names the live directive at
    fault (tls-protocols, as CONFIG GET reports it) and writes no PKI or config in the work dir."""
    import corpus

    dep = corpus.build("mkcert", tmp_path / "mkcert")
    node = corpus.start(
        dep, tmp_path / "node", tls_protocols='"TLSv1.1 TLSv1.2 TLSv1.3"', tls_prefer_server_ciphers="no"
    )
    try:
        summary = _run_02(dep.endpoint(node.port), tmp_path)
    finally:
        sandbox.stop_node(node)
    assert not summary.ok
    line = summary.failure_line()
    assert "TLS errors in" in line and "tls-protocols" in line, line
    work = tmp_path / "work"
    assert not (work / "pki").exists() and not (work / "config").exists() and _pem_files(work) == []
    executed = (tmp_path / "out" / "02_server_config.ipynb").read_text()
    assert f"lint: CONFIG GET on 127.0.0.1:{node.port}" in executed
    assert "tls-prefer-server-ciphers is off" in executed  # a live value linted (info)


def test_02_on_a_guide_deployment_warns_about_strictness_and_passes(tmp_path: Path) -> None:
    """A guide's deployment (CA without keyUsage, a v1 client certificate): Redis accepts the client, so
    02 under external passes; what strict verifiers refuse is a warning with its fix, never an error."""
    import corpus

    dep = corpus.build("guide", tmp_path / "guide")
    node = corpus.start(dep, tmp_path / "node")
    try:
        summary = _run_02(dep.endpoint(node.port), tmp_path)
    finally:
        sandbox.stop_node(node)
    assert summary.ok, summary.failure_line()
    executed = (tmp_path / "out" / "02_server_config.ipynb").read_text()
    assert "Redis and OpenSSL accept this client certificate" in executed
    record = summary.notebooks[0].record
    assert record is not None
    checks = {c["id"]: c for c in record["evidence"]["checks"]}
    assert checks["mutual-tls-enforced:target"]["status"] == "pass"  # refused for want of a certificate
    strict = checks["strict-clients:target"]
    assert strict["status"] == "warn" and "CA cert does not include key usage" in strict["detail"], strict
