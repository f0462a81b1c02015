"""``adopt --migrate`` on real corpus deployments (tests/corpus.py), primary + replica linked over TLS.

A pooled redis-py client and a reconnecting client (runbook.loadgen) count every command while the
deployment moves to the strict profile: none may fail; data written before is read after, the replica
stays linked, and strict clients (Python 3.13's default context) verify the result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import corpus
from runbook import adopt, pki, sandbox
from runbook.checks.links import admin_info
from runbook.cli import main
from runbook.client import Endpoint, redis_client, tls_context
from runbook.errors import RunbookError
from runbook.files import write_all
from runbook.loadgen import LoadGen
from runbook.rotation import serial_of, served_certificate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, corpus.Deployment]:
    root = tmp_path_factory.mktemp("migrate-corpus")
    return {r: corpus.build(r, root / r) for r in ("guide", "gen-test-certs")}


def _wait_link(endpoint: Endpoint, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        (info,) = admin_info(endpoint, "replication")
        status = str(info.get("master_link_status", ""))
        if status == "up":
            break
        time.sleep(0.05)
    return status


@pytest.fixture
def linked(
    request: pytest.FixtureRequest, built: dict[str, corpus.Deployment], tmp_path: Path
) -> Iterator[tuple[corpus.Deployment, list[Endpoint]]]:
    """A copy of the deployment served by a primary and a replica linked over TLS with its own files."""
    dep = corpus.copy(built[request.param], tmp_path / "dep")
    primary = corpus.start(dep, tmp_path / "primary", repl_diskless_sync_delay="0")
    replica = corpus.start(
        dep, tmp_path / "replica", replicaof=f"127.0.0.1 {primary.port}", tls_replication="yes"
    )
    endpoints = [dataclasses.replace(dep.endpoint(n.port), name="") for n in (primary, replica)]
    try:
        assert _wait_link(endpoints[1]) == "up"
        yield dep, endpoints
    finally:
        sandbox.stop_node(replica)
        sandbox.stop_node(primary)


def _strict_ping(dep: corpus.Deployment, port: int) -> str:
    """PING through the runbook's strict context (what Python 3.13's default context enforces)."""
    ctx = tls_context(dep.files, mode="strict")
    return _ping_with(ctx, dep.server_name, port)


def _ping_with(ctx: ssl.SSLContext, name: str, port: int) -> str:
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=3) as raw,
            ctx.wrap_socket(raw, server_hostname=name) as tls,
        ):
            tls.sendall(b"*1\r\n$4\r\nPING\r\n")
            return tls.recv(64).decode()
    except (OSError, ssl.SSLError) as exc:
        return f"refused: {exc}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("linked", ["guide", "gen-test-certs"], indirect=True)
def test_migrate_under_load_drops_nothing(linked: tuple[corpus.Deployment, list[Endpoint]]) -> None:
    dep, endpoints = linked
    primary, replica = endpoints
    assert _strict_ping(dep, primary.port).startswith("refused")  # strict clients refuse it today
    admin = redis_client(
        primary.host, primary.port, dep.files, server_hostname=dep.server_name, mode="compatible"
    )
    admin.set("runbook:test:migrate:kept", "before", ex=600)
    load = LoadGen(primary, pooled=2, reconnecting=1, batch=20, max_seconds=120, mode="compatible")
    load.start()
    try:
        while load.totals().commands == 0:  # the clients are running before the first step
            time.sleep(0.01)
        result = adopt.migrate(endpoints, dep.ca_key or "", timeout=5.0)
    finally:
        stats = load.stop()
    assert result.status == "migrated", result.lines()
    assert result.exit_code == 0 and result.after is not None and result.after.ok
    assert stats.failed_commands == 0 and stats.failed_reconnects == 0, stats.errors
    assert stats.commands > 0 and stats.reconnects > 0
    assert load.server_total() == stats.commands  # the server executed every command counted
    assert admin.get("runbook:test:migrate:kept") == "before"
    (info,) = admin_info(replica, "replication")
    assert info["master_link_status"] == "up"
    assert _wait_replica_key(replica, dep) == "before"
    admin.close()
    for e in endpoints:  # strict clients verify the final CA and leaves
        assert _strict_ping(dep, e.port) == "+PONG\r\n"
        if sys.version_info >= (3, 13):
            ctx = ssl.create_default_context(cafile=str(dep.ca))
            ctx.load_cert_chain(str(dep.client_cert), str(dep.client_key))
            assert _ping_with(ctx, dep.server_name, e.port) == "+PONG\r\n"
    strict = Path(result.resigned_ca)
    assert strict.name == f"{dep.ca.stem}-strict.crt" and strict.read_bytes() == dep.ca.read_bytes()
    assert any(dep.ca.parent.glob("backups/*/" + dep.ca.name))  # the old CA kept, timestamped
    kinds = [p.kind for p in result.report.phases]
    expected = ["migrate:bundle", "migrate:retire"]
    if dep.recipe == "gen-test-certs":
        expected.insert(1, "migrate:leaves")
    assert kinds == expected


def _wait_replica_key(replica: Endpoint, dep: corpus.Deployment) -> str | None:
    client = redis_client(
        replica.host, replica.port, dep.files, server_hostname=dep.server_name, mode="compatible"
    )
    try:
        value: str | None = client.get("runbook:test:migrate:kept")  # type: ignore[assignment]
        return value
    finally:
        client.close()


@pytest.mark.parametrize("linked", ["gen-test-certs"], indirect=True)
def test_a_failed_step_rolls_every_step_back(linked: tuple[corpus.Deployment, list[Endpoint]]) -> None:
    """A real refusal in the leaves step (a mismatched key on disk, as rotate's drill): the bundle step
    before it is undone too; the served serials and the CA file bytes are as they were."""
    dep, endpoints = linked
    files = [dep.ca, dep.cert, dep.key]
    before = {p: _digest(p) for p in files}
    serials = [serial_of(served_certificate(e.host, e.port, dep.files, dep.server_name)) for e in endpoints]
    result = adopt.migrate(endpoints, dep.ca_key or "", fault="reload")
    assert result.status == "rolled-back" and result.exit_code == 1
    # Redis 7.0 takes the RSA certificate with the stray P-256 key; the fresh handshake then fails
    assert result.cause.startswith("leaves:") and "drill:reload-fault" in str(result.to_dict())
    assert {p: _digest(p) for p in files} == before
    assert [
        serial_of(served_certificate(e.host, e.port, dep.files, dep.server_name)) for e in endpoints
    ] == serials
    assert not (dep.ca.parent / "ca-strict.crt").exists()  # the new file is removed again
    assert _wait_link(endpoints[1]) == "up"
    assert [p.kind for p in result.report.phases] == ["migrate:bundle", "migrate:leaves"]
    assert any(s.id.startswith("bundle:rollback") for s in result.report.steps)


@pytest.fixture
def guide_node(
    built: dict[str, corpus.Deployment], tmp_path: Path
) -> Iterator[tuple[corpus.Deployment, Endpoint]]:
    dep = corpus.copy(built["guide"], tmp_path / "dep")
    node = corpus.start(dep, tmp_path / "node")
    try:
        yield dep, dataclasses.replace(dep.endpoint(node.port), name="")
    finally:
        sandbox.stop_node(node)


def test_dry_run_plans_and_writes_nothing_and_bad_keys_are_refused(
    guide_node: tuple[corpus.Deployment, Endpoint],
    built: dict[str, corpus.Deployment],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dep, e = guide_node
    before = sorted(p.name for p in dep.root.iterdir())
    flags = ["adopt", "--host", e.host, "--port", str(e.port), "--server-name", dep.server_name]
    flags += ["--ca", str(dep.ca), "--cert", str(dep.client_cert), "--key", str(dep.client_key)]
    assert main([*flags, "--ca-key", str(dep.ca_key), "--migrate", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "plan: resign" in out and "plan: retire" in out and out.rstrip().endswith("dry run: nothing written")
    )
    assert sorted(p.name for p in dep.root.iterdir()) == before
    assert main([*flags, "--dry-run"]) == 2
    assert "--dry-run goes with --migrate" in capsys.readouterr().err
    missing = dep.root / "nope.key"
    assert main([*flags, "--ca-key", str(missing), "--migrate"]) == 2
    assert f"--ca-key {missing} not found" in capsys.readouterr().err
    other = built["gen-test-certs"].ca_key  # a real CA key, of another CA
    with pytest.raises(RunbookError, match="belongs to no CA certificate"):
        adopt.migrate([e], other or "")
    assert sorted(p.name for p in dep.root.iterdir()) == before


def test_a_secret_volume_is_refused_with_the_renewers_way(
    built: dict[str, corpus.Deployment], tmp_path: Path
) -> None:
    """The guide's files mounted as a Kubernetes secret volume (``..data`` symlinks): nothing is written."""
    dep = corpus.copy(built["guide"], tmp_path / "dep")
    volume = tmp_path / "secret"
    stamp = volume / "..2026_01_02_03_04_05.000000001"
    stamp.mkdir(parents=True)
    for name, src in (("ca.crt", dep.ca), ("tls.crt", dep.cert), ("tls.key", dep.key)):
        shutil.copy2(src, stamp / name)
        (volume / name).symlink_to(f"..data/{name}")
    os.symlink(stamp.name, volume / "..data")
    mounted = dataclasses.replace(dep, ca=volume / "ca.crt", cert=volume / "tls.crt", key=volume / "tls.key")
    node = corpus.start(mounted, tmp_path / "node")
    try:
        e = dataclasses.replace(mounted.endpoint(node.port), name="")
        with pytest.raises(RunbookError, match=r"secret volume .*writes nothing there.*watch --once") as err:
            adopt.migrate([e], dep.ca_key or "")
        assert "\n" not in str(err.value)
    finally:
        sandbox.stop_node(node)
    assert not (stamp / "ca-strict.crt").exists() and not (volume / "backups").exists()


def test_a_link_refused_for_want_of_clientauth_gets_a_link_certificate(
    built: dict[str, corpus.Deployment], tmp_path: Path
) -> None:
    """The guide's server certificate re-issued serverAuth-only: the primary refuses the replica's link
    (replica-link-down); --migrate gives the replica a clientAuth link identity first, then moves the CA."""
    dep = corpus.copy(built["guide"], tmp_path / "dep")
    assert dep.ca_key is not None
    signer = pki.Issued(
        pki.resign_ca_cert(pki.load_cert(dep.ca), pki.load_key(dep.ca_key)), pki.load_key(dep.ca_key)
    )
    leaf = pki.make_leaf(signer, "localhost", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"])
    write_all(leaf.planned_writes(dep.cert, dep.key))
    primary = corpus.start(dep, tmp_path / "primary", repl_diskless_sync_delay="0")
    replica = corpus.start(
        dep, tmp_path / "replica", replicaof=f"127.0.0.1 {primary.port}", tls_replication="yes"
    )
    endpoints = [dataclasses.replace(dep.endpoint(n.port), name="") for n in (primary, replica)]
    try:
        assert adopt.assess(endpoints).finding_ids == {"ca-not-strict", "replica-link-down"}
        result = adopt.migrate(endpoints, dep.ca_key)
        assert result.status == "migrated", result.lines()
        assert [p.kind for p in result.report.phases] == ["migrate:links", "migrate:bundle", "migrate:retire"]
        link = Path(_config(endpoints[1])["tls-client-cert-file"])
        assert link.name == "redis-link.crt" and "clientAuth" in pki.cert_info(pki.load_cert(link)).eku
        assert _wait_link(endpoints[1]) == "up"
    finally:
        sandbox.stop_node(replica)
        sandbox.stop_node(primary)


def _config(e: Endpoint) -> dict[str, str]:
    client = redis_client(e.host, e.port, e.files, server_hostname=e.hostname, mode="compatible")
    try:
        return client.config_get("tls-client-*")  # type: ignore[return-value]
    finally:
        client.close()


@pytest.mark.parametrize("recipe", ["step", "cert-manager", "helm", "mkcert"])
def test_a_deployment_strict_clients_already_verify_needs_nothing(recipe: str, tmp_path: Path) -> None:
    """The other corpus deployments: strict clients verify them as they are, so --migrate writes nothing
    (and needs no CA key: cert-manager's issuer key lives elsewhere in the cluster)."""
    dep = corpus.build(recipe, tmp_path / "dep")
    node = corpus.start(dep, tmp_path / "node")
    try:
        files = [p for p in sorted(dep.root.rglob("*")) if p.is_file() and not p.is_symlink()]
        before = {p: _digest(p) for p in files}
        migration = adopt.migrate([dep.endpoint(node.port)], "")
        assert migration.status == "nothing-to-do" and migration.ok, migration.lines()
        assert migration.lines()[-1].startswith("clean: strict clients already verify every node")
        assert {p: _digest(p) for p in files} == before
        assert _strict_ping(dep, node.port) == "+PONG\r\n"
    finally:
        sandbox.stop_node(node)
