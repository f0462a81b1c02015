"""The package helpers notebooks 04, 05 and 06 use under ``--target external`` (docs/external-target.md).

Unit tests, then integration tests against an independent redis-server: PKI from ``runbook pki create``, config from ``runbook config render``,
started by the test (not by the sandbox). Nothing is mocked.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook import bench, client, pki, rotation, sandbox
from runbook.book import rotation_external, toolkit
from runbook.client import Endpoint, TlsClientFiles
from runbook.errors import RunbookError

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- unit: no server


def test_issuing_pki_needs_ca_key_beside_the_ca_file(session_work: Path, tmp_path: Path) -> None:
    paths = pki.PkiPaths(session_work / "pki")
    assert rotation_external.issuing_pki(paths.ca_cert) == paths.root.resolve()
    lone = tmp_path / "ca.crt"
    lone.write_bytes(paths.ca_cert.read_bytes())
    assert rotation_external.issuing_pki(lone) is None
    report = rotation_external.unplanned("h:1", lone)
    assert (
        report.status == "skipped" and report.steps[0].status == "skip" and "ca.key" in report.steps[0].detail
    )


def test_external_verdict_skips_what_needs_local_servers() -> None:
    planned = rotation.RotationReport(kind="server", target="h:1", status="planned")
    planned.add("preflight:h:1:chain", "pass", "chains")
    verdict = {c.id: c for c in rotation_external.external_verdict(planned, planned)}
    assert verdict["plan-preflight"].status == "pass"
    assert [verdict[i].status for i in ("rotation", "live-load", "drill-preflight", "drill-rollback")] == [
        "skip"
    ] * 4
    refused = rotation.RotationReport(kind="server", target="h:1", status="refused", ok=False)
    refused.add("preflight:h:1:chain", "fail", "other CA")
    verdict = {c.id: c for c in rotation_external.external_verdict(refused, refused)}
    assert verdict["plan-preflight"].status == "fail" and verdict["rotation"].status == "fail"
    rotated = rotation.RotationReport(kind="server", target="h:1", status="rotated")
    assert rotation_external.external_verdict(planned, rotated)[1].status == "pass"
    assert rotation_external.rotation_done(planned, "external") and not rotation_external.rotation_done(
        planned, "sandbox"
    )


def test_bench_skips_every_verdict_with_the_reason() -> None:
    skipped = bench.skipped_checks()
    assert [c.id for c in skipped] == list(bench.CHECK_IDS)
    assert all(c.status == "skip" and "target=external" in c.detail for c in skipped)
    ev = bench.evidence(None)
    assert ev["skipped"] == bench.EXTERNAL_SKIP and ev["figures"] == {} and "redis_version" not in ev


def test_chain_checks_verify_for_the_server_name_and_skip_a_missing_client(session_work: Path) -> None:
    paths = pki.PkiPaths(session_work / "pki")

    def make_tk(name: str, client_cert: Path | None) -> toolkit.Toolkit:
        return toolkit.Toolkit(
            "external",
            Endpoint("h", 1, name, TlsClientFiles(str(paths.ca_cert))),
            paths.ca_cert,
            paths.server_cert,
            client_cert,
            "",
            None,
            [],
        )

    good = toolkit.chain_checks(make_tk("localhost", paths.client_cert()))
    assert [(c.id, c.status) for c in good] == [("chain:server", "pass"), ("chain:client", "pass")]
    bad = toolkit.chain_checks(make_tk("redis.example.com", None))
    assert [(c.id, c.status) for c in bad] == [("chain:server", "fail"), ("chain:client", "skip")]
    dates = toolkit.date_checks(make_tk("localhost", None).cert_files)
    assert [c.id for c in dates] == ["dates:ca.crt", "dates:redis-server.crt"]
    assert make_tk("x", None).log_hint(session_work).startswith("server log: on the Redis host")


# --------------------------------------------------------------------------- integration: a server we run


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    pki: pki.PkiPaths

    @property
    def files(self) -> TlsClientFiles:
        return TlsClientFiles.from_pki(self.pki.root)

    def serial(self) -> str:
        return rotation.serial_of(
            rotation.served_certificate("127.0.0.1", self.port, self.files, "localhost")
        )

    def process_id(self) -> int:
        r = client.redis_client("localhost", self.port, self.files)
        try:
            return int(r.info("server")["process_id"])
        finally:
            r.close()


def _runbook(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "runbook", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def independent_server(tmp_path: Path) -> Iterator[Server]:
    """redis-server with a PKI from `runbook pki create` and a config from `runbook config render`."""
    home = tmp_path / "ext"
    home.mkdir()
    port = sandbox.free_port()
    _runbook("pki", "create", "--dir", str(home / "pki"))
    _runbook(
        "config",
        "render",
        "--dir",
        str(home / "pki"),
        "--tls-port",
        str(port),
        "-o",
        str(home / "redis.conf"),
    )
    proc = subprocess.Popen(
        ["redis-server", str(home / "redis.conf"), "--dir", str(home), "--logfile", str(home / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(proc, port, pki.PkiPaths(home / "pki"))
    deadline = time.monotonic() + 10
    while True:
        try:
            server.serial()
            break
        except RunbookError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    yield server
    proc.terminate()
    proc.wait(timeout=10)


def _connection(server: Server) -> dict[str, object]:
    return {
        "redis_host": "127.0.0.1",
        "redis_port": server.port,
        "server_name": "localhost",
        "ca_file": str(server.pki.ca_cert),
        "client_cert": str(server.pki.client_cert()),
        "client_key": str(server.pki.client_key()),
    }


# The notebooks themselves (01-06 in one external pipeline run) are checked against the same kind of
# server by tests/test_external_02_03.py::check_04_05_06_contract, sharing that run.


@pytest.mark.integration
def test_apply_external_rotates_a_server_that_reads_the_paths(independent_server: Server) -> None:
    srv = independent_server
    old, pid = srv.serial(), srv.process_id()
    ep = client.target_endpoint(
        "external",
        "127.0.0.1",
        srv.port,
        "localhost",
        str(srv.pki.ca_cert),
        str(srv.pki.client_cert()),
        str(srv.pki.client_key()),
    )
    issuer = rotation_external.issuing_pki(ep.files.ca)
    nodes = [rotation.discover_node(ep.host, ep.port, ep.files, server_hostname=ep.server_name)]
    plan = rotation.rotate(
        "server", issuer, nodes, dry_run=True, client_files=ep.files, server_hostname=ep.server_name
    )
    kwargs = {"client_files": ep.files, "server_hostname": ep.server_name}
    dry = rotation_external.external_rotation(plan, issuer, nodes, apply=False, **kwargs)  # type: ignore[arg-type]
    assert dry.status == "planned" and srv.serial() == old
    report = rotation_external.external_rotation(plan, issuer, nodes, apply=True, **kwargs)  # type: ignore[arg-type]
    assert report.status == "rotated", report.steps
    assert srv.serial() == report.new_serial != old and srv.process_id() == pid


@pytest.mark.integration
def test_notebook_05_steps_plan_then_apply_on_an_external_server(
    independent_server: Server, tmp_path: Path
) -> None:
    """runbook.book.rotation as notebook 05 calls them: the plan touches nothing, apply_external rotates in place."""
    from runbook.book import rotation as steps
    from runbook.book import target as targets

    srv = independent_server
    old, pid = srv.serial(), srv.process_id()
    conn = _connection(srv)
    tgt = targets.from_params(tmp_path, "external", **conn)  # type: ignore[arg-type]
    setup = steps.rotation_setup(tgt)
    assert setup.external and setup.issuer == srv.pki.root.resolve()
    dry = steps.rotate_server(setup, setup.plan(), apply_external=False, soak_seconds=0)
    assert dry.done and dry.report.status == "planned" and srv.serial() == old
    assert f"CONFIG SET tls-cert-file {srv.pki.server_cert}" in dry.commands_text
    assert [c.status for c in dry.load_facts] == ["skip"] and dry.window is None
    done = steps.rotate_server(setup, setup.plan(), apply_external=True, soak_seconds=0)
    assert done.done and done.report.status == "rotated", done.report.steps
    assert srv.serial() == done.report.new_serial == rotation.serial_of(done.served) != old
    assert srv.process_id() == pid, "rotated in place: the same process"
    assert not (tmp_path / "sandbox").exists()
