"""The notebooks under ``--target external`` against a deployment a common guide made (tests/corpus.py:
a CA without keyUsage, a v1 client certificate), served by a real redis-server.

Strictness is a finding, never a blocker: 01, 02, 04 and 09 pass, each naming what strict clients refuse
as a warning with the way to the strict profile; 03's audit fails on `chain-strict`, truthfully (a strict
client does refuse this server), and its message leads to notebook 09 / `adopt --migrate`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import corpus
from runbook import pipeline, sandbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def _run(dep: corpus.Deployment, port: int, only: list[str], out: Path) -> pipeline.RunSummary:
    e = dep.endpoint(port)
    connection = {
        "redis_host": e.host,
        "redis_port": e.port,
        "server_name": e.server_name,
        "ca_file": e.files.ca,
        "client_cert": e.files.cert or "",
        "client_key": e.files.key or "",
    }
    return pipeline.run(
        only=only,
        target="external",
        connection=connection,
        output_dir=out / "out",
        work=out / "work",
        notebooks=ROOT / "notebooks",
        progress=False,
    )


def test_notebooks_on_a_guide_deployment_warn_about_strictness_and_lead_to_adopt(tmp_path: Path) -> None:
    dep = corpus.build("guide", tmp_path / "guide")
    node = corpus.start(dep, tmp_path / "node")
    try:
        before = {p: p.read_bytes() for p in dep.root.iterdir() if p.is_file()}
        passing = _run(dep, node.port, ["01", "02", "04", "09"], tmp_path / "a")
        audit = _run(dep, node.port, ["03"], tmp_path / "b")
    finally:
        sandbox.stop_node(node)
    assert passing.ok, passing.failure_line()
    records = {n.name: n.record for n in passing.notebooks}
    assert all(r is not None for r in records.values())
    verdict = {c["id"]: c for c in records["01_certificates"]["verdict"]}  # type: ignore[index]
    assert verdict["ca-profile"]["status"] == "warn", verdict  # never "strict RFC 5280 CA: pass"
    assert "adopt --migrate" in verdict["ca-profile"]["fix"]
    assert verdict["verification"]["status"] == "warn", verdict  # strict clients refuse both chains
    strict = {c["id"]: c["status"] for c in records["02_server_config"]["evidence"]["checks"]}  # type: ignore[index]
    assert strict["strict-clients:target"] == "warn" and strict["tls-ping:target"] == "pass", strict
    live = {c["id"]: c for c in records["02_server_config"]["verdict"]}["live-checks"]  # type: ignore[index]
    assert live["status"] == "warn" and "strict-clients:target" in live["detail"], live
    assert records["09_adopt"]["evidence"]["adoption"]["findings_before"] == ["ca-not-strict"]  # type: ignore[index]
    assert not audit.ok
    line = audit.failure_line()
    assert "chain-strict" in line and "notebook 09" in line and "adopt --migrate" in line, line
    assert {p: p.read_bytes() for p in dep.root.iterdir() if p.is_file()} == before  # nothing written
