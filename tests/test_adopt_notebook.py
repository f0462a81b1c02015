"""Notebook 09's steps (runbook.book.adopt) and the guide PKI it adopts, against real redis-server processes.

The sandbox path (guide PKI, primary + replica, migration under load, proof) runs in full as notebook 09
under nbval and in the pipeline harness; here: the parameters, the external target's plan-only path on a
corpus deployment (nothing written, nothing started), the guide's real openssl lines, the sandbox
deployment's restart and stop, and the TTL of the load's keys.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import corpus
from runbook import loadgen, pki, sandbox, workdir
from runbook.book import adopt
from runbook.client import redis_client
from runbook.errors import RunbookError

pytestmark = pytest.mark.integration


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.suffix != ".log"
    }


@pytest.fixture
def gen_test_certs(tmp_path: Path) -> Iterator[tuple[corpus.Deployment, sandbox.Node]]:
    dep = corpus.build("gen-test-certs", tmp_path / "dep")
    node = corpus.start(dep, tmp_path / "node")
    yield dep, node
    sandbox.stop_node(node)


def _external(dep: corpus.Deployment, port: int, work: Path, **kw: str) -> adopt.Adoption:
    return adopt.prepare(
        work,
        "external",
        "127.0.0.1",
        port,
        kw.pop("nodes", ""),
        dep.server_name,
        str(dep.ca),
        str(dep.client_cert),
        str(dep.client_key),
        kw.pop("ca_key_file", str(dep.ca_key)),
        kw.pop("migrate", "sandbox"),
    )


def test_parameters_are_checked_before_anything_starts(session_work: Path, tmp_path: Path) -> None:
    files = pki.PkiPaths(workdir.pki_dir(session_work))
    ca, cert, key = str(files.ca_cert), str(files.client_cert()), str(files.client_key())

    def external(nodes: str = "", ca_key: str = "", migrate: str = "sandbox") -> adopt.Adoption:
        w = tmp_path / "w"
        return adopt.prepare(
            w, "external", "127.0.0.1", 6380, nodes, "localhost", ca, cert, key, ca_key, migrate
        )

    with pytest.raises(RunbookError, match="is not HOST:PORT"):
        external(nodes="10.0.0.6")
    with pytest.raises(RunbookError, match="needs ca_key_file"):
        external(migrate="yes")
    with pytest.raises(RunbookError, match="one of sandbox, yes, no"):
        external(migrate="always")
    a = external(nodes="[::1]:6381, 127.0.0.1:6382")
    assert [e.address for e in a.endpoints] == ["127.0.0.1:6380", "[::1]:6381", "127.0.0.1:6382"]
    assert not a.migrate_now and a.external and not (tmp_path / "w").exists()


def test_external_plan_only_assesses_and_plans_and_writes_nothing(
    gen_test_certs: tuple[corpus.Deployment, sandbox.Node], tmp_path: Path
) -> None:
    dep, node = gen_test_certs
    before = _digests(dep.root)
    work = tmp_path / "work"
    a = _external(dep, node.port, work)
    assert not a.migrate_now  # "sandbox": plan only on an external deployment
    views = a.assess()
    assert any(r[1] == "strict" for r in views.rows) and a.before is not None
    assert a.before.finding_ids == {"ca-not-strict", "server-name-cn-only"}
    assert "server-name-cn-only" in str(a.findings().rows)
    plan = a.plan()
    assert plan[-1] == "dry run: nothing written", plan
    assert any(line.startswith("plan: leaves") for line in plan), plan
    assert a.write_marker().startswith("nothing written")
    assert a.migrate()[0].startswith("skip: plan only")
    assert [c.status for c in a.prove()] == ["skip"]
    assert a.finish().startswith("external deployment: nothing started")
    s = a.summary()
    assert s.ok and [c.status for c in s.verdict] == ["pass", "skip"]
    assert s.evidence["adoption"]["findings_before"] == ["ca-not-strict", "server-name-cn-only"]
    assert s.evidence["adoption"]["status"] == "not-run"
    assert _digests(dep.root) == before  # the operator's files, byte for byte
    assert not (work / "adopt").exists() and sandbox.status(work) is None
    client = redis_client(
        "127.0.0.1", node.port, dep.files, server_hostname=dep.server_name, mode="compatible"
    )
    try:
        assert client.dbsize() == 0  # plan only: no marker, no load
    finally:
        client.close()


def test_guide_pki_is_made_by_the_real_openssl_lines(tmp_path: Path) -> None:
    guide = pki.write_guide_pki(tmp_path / "g")
    for path in (guide.ca_key, guide.server_key, guide.client_key):
        assert os.stat(path).st_mode & 0o777 == 0o600
    ca_text = subprocess.run(
        ["openssl", "x509", "-in", str(guide.ca_cert), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "CA:TRUE" in ca_text and "Key Usage" not in ca_text  # OpenSSL's v3_ca: no keyUsage

    def verify(*flags: str) -> int:
        cmd = ["openssl", "verify", *flags, "-CAfile", str(guide.ca_cert), str(guide.server_cert)]
        return subprocess.run(cmd, capture_output=True, check=False).returncode

    assert verify() == 0 and verify("-x509_strict") != 0
    assert not any(p.name.startswith(".guide-") for p in tmp_path.iterdir())  # the build folder is gone
    kept = _digests(guide.root)
    with pytest.raises(RunbookError, match="is not empty"):
        pki.write_guide_pki(guide.root)
    assert _digests(guide.root) == kept


def test_sandbox_deployment_restarts_cleanly_and_stops(tmp_path: Path) -> None:
    first = adopt.prepare(tmp_path, migrate="no")
    assert [n.name for n in first.nodes] == ["primary", "replica"] and not first.migrate_now
    second = adopt.prepare(tmp_path)  # a second run stops the first run's servers and starts afresh
    try:
        assert not any(sandbox.pid_alive(n.pid) for n in first.nodes)
        assert all(sandbox.pid_alive(n.pid) for n in second.nodes) and second.migrate_now
        primary = second.endpoints[0]
        with loadgen.LoadGen(
            primary, pooled=1, reconnecting=1, batch=5, max_seconds=5, mode="compatible"
        ) as load:
            client = redis_client(
                primary.host, primary.port, primary.files, server_hostname=primary.hostname, mode="compatible"
            )
            try:
                ttls = [client.ttl(k) for k in client.scan_iter(match=f"{load.prefix}:*")]
            finally:
                client.close()
        assert len(ttls) == 2 and all(0 < t <= loadgen.KEY_TTL for t in ttls), ttls  # nothing without a TTL
        assert second.finish() == "2 sandbox servers stopped"
        assert not any(sandbox.pid_alive(n.pid) for n in second.nodes)
        assert adopt.stop_site(tmp_path) == []
    finally:
        adopt.stop_site(tmp_path)


def test_marker_is_never_written_on_a_replica(tmp_path: Path) -> None:
    site = adopt.prepare(tmp_path)
    try:
        replica_only = adopt.Adoption(tmp_path, site.endpoints[1:], site.ca_key, False, True)
        assert replica_only.write_marker() == "nothing written: every node is a replica"
        replica_first = adopt.Adoption(tmp_path, site.endpoints[::-1], site.ca_key, False, True)
        assert replica_first.write_marker().endswith(
            f"written on {site.endpoints[0].address}, expires in 3600 s"
        )
        e = site.endpoints[1]
        client = redis_client(e.host, e.port, e.files, server_hostname=e.hostname, mode="compatible")
        try:
            deadline = time.monotonic() + 10
            while (
                client.ttl(adopt.MARKER_KEY) < 0 and time.monotonic() < deadline
            ):  # replication is asynchronous
                time.sleep(0.05)
            assert client.ttl(adopt.MARKER_KEY) > 0  # replicated from the primary, with its TTL
        except redis.RedisError as exc:  # pragma: no cover - the read itself must work
            pytest.fail(str(exc))
        finally:
            client.close()
    finally:
        adopt.stop_site(tmp_path)
