"""The target type notebooks receive: the sandbox or an external Redis, one interface.

Unit tests need nothing; the integration tests point both kinds at a real sandbox redis-server
(the external one reaches it as 127.0.0.1 and verifies the name ``localhost``) and check that the
external kind starts, stops and changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook import bench, pki, rotation, sandbox
from runbook.book import performance
from runbook.book import rotation as steps
from runbook.book import target as targets
from runbook.client import Endpoint, TlsClientFiles
from runbook.errors import RunbookError


def _external(work: Path, ca: Path, port: int = 6380, name: str = "redis.example") -> targets.Target:
    return targets.from_params(work, "external", "127.0.0.1", port, name, str(ca))


def test_from_params_builds_the_sandbox_by_default(tmp_path: Path) -> None:
    tgt = targets.from_params(tmp_path, client_name="app", topology="replica")
    assert isinstance(tgt, targets.SandboxTarget) and tgt.kind == "sandbox"
    assert (tgt.may_start_servers, tgt.skip_reason, tgt.topology) == (True, "", "replica")
    assert tgt.skipped("drills") is None
    assert tgt.local(lambda x, y=0: x + y, 1, y=2) == 3
    assert tgt.deploy_port() is None and tgt.deploy_port(6390) == 6390
    assert tgt.pki_dir == tmp_path / "pki"
    assert not (tmp_path / "sandbox").exists(), "building a target starts nothing"


def test_from_params_builds_an_external_target_that_starts_nothing(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("pem")
    tgt = _external(tmp_path, ca)
    assert isinstance(tgt, targets.ExternalTarget) and tgt.kind == "external" and not tgt.may_start_servers
    assert tgt.endpoint() == Endpoint(
        "127.0.0.1", 6380, "redis.example", TlsClientFiles(str(ca)), external=True
    )
    assert tgt.address == "127.0.0.1:6380" and tgt.topology == "external"
    called: list[int] = []
    assert tgt.local(called.append, 1) is None and called == [], "a local step must not run"
    skip = tgt.skipped("drills")
    assert skip is not None and skip.status == "skip" and "target=external" in skip.detail
    assert tgt.skipped("drills", "needs local servers").detail == "needs local servers"  # type: ignore[union-attr]
    assert tgt.deploy_port() == 6380 and tgt.deploy_port(6390) == 6390
    assert tgt.expected_server_serial() is None
    assert ("client files", "CA only (no client certificate)") in tgt.ensure()
    assert "-servername redis.example" in tgt.openssl_command()
    with pytest.raises(RunbookError, match=r"no sandbox may be started.*TargetContractError"):
        tgt.sandbox()
    run = performance.BenchRun(tgt, bench.profile("smoke"))
    assert performance.bench_pkis(run) == {} and performance.measure(run) is None
    assert performance.cost_table(None) is None and performance.plot(None, tmp_path) is None
    assert performance.measure_line(None) == bench.EXTERNAL_SKIP
    assert {c.status for c in performance.bench_checks(None).values()} == {"skip"}
    assert not (tmp_path / "sandbox").exists() and not (tmp_path / "bench").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "prod"}, "sandbox or external"),
        ({"target": "external", "redis_port": 6380, "ca_file": "x"}, "needs redis_host"),
        ({"target": "external", "redis_host": "h", "redis_port": 6380, "ca_file": "/nonexistent/ca.crt"},
         "is not a file"),
    ],
)  # fmt: skip
def test_from_params_refuses_bad_parameters_in_one_line(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(RunbookError, match=message) as err:
        targets.from_params(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


@pytest.mark.integration
def test_sandbox_target_against_the_running_sandbox(tls_sandbox: sandbox.Sandbox, session_work: Path) -> None:
    tgt = targets.from_params(session_work)
    rows = tgt.ensure()  # reuses the healthy sandbox and the PKI
    assert rows[1] == ("sandbox", "standalone, 1 node(s), healthy")
    assert tgt.sandbox().primary.pid == tls_sandbox.primary.pid
    assert tgt.endpoint() == tls_sandbox.endpoint()
    assert all(r.ok for r in tgt.live_checks())
    served = rotation.served_certificate("localhost", tls_sandbox.primary.port, tls_sandbox.client_files())
    assert tgt.expected_server_serial() == rotation.serial_of(served)
    step = tgt.start_or_reload(session_work / "config" / "redis-tls.conf", 0)
    assert step.healthy and step.check.status == "pass" and [n for n, _ in step.reloads] == ["primary"]
    assert tgt.toolkit().port == tls_sandbox.primary.port


@pytest.mark.integration
def test_external_target_verifies_a_running_server_and_changes_nothing(
    tls_sandbox: sandbox.Sandbox, session_work: Path, tmp_path: Path
) -> None:
    paths = pki.PkiPaths(session_work / "pki")
    state_before = sandbox.state_path(session_work).read_text()
    tgt = targets.from_params(
        tmp_path, "external", "127.0.0.1", tls_sandbox.primary.port, "localhost",
        str(paths.ca_cert), str(paths.client_cert()), str(paths.client_key()),
    )  # fmt: skip
    assert [(r.id, r.status) for r in tgt.live_checks()][:2] == [
        ("tls-ping:target", "pass"),
        ("mutual-tls-enforced:target", "pass"),
    ]
    tk = tgt.toolkit()
    assert tk.target == "external" and (tmp_path / "external" / "served-server.crt").is_file()
    setup = steps.rotation_setup(tgt)
    assert setup.external and setup.server_hostname == "localhost" and setup.issuer == paths.root.resolve()
    assert setup.node_rows()[0][2:] == ("redis-server.crt", "redis-server.key", "ca.crt")
    assert setup.plan().status == "planned"
    assert steps.drill_bad_certificate(setup).report.status == "skipped"
    assert not (tmp_path / "sandbox").exists(), "an external target starts no sandbox"
    assert sandbox.state_path(session_work).read_text() == state_before
