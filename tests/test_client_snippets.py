"""Every generated client snippet runs as printed against the real TLS sandbox, and the redis-py
mistakes of common guides fail the way docs/audit-checks.md says."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from runbook import client, sandbox
from runbook.client import TlsClientFiles

pytestmark = pytest.mark.integration


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


def _bash(text: str) -> subprocess.CompletedProcess[str]:
    return _run(["bash", "-c", text])


@pytest.fixture(scope="session")
def ioredis_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ioredis installed from the npm registry into a temporary directory, once per session."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm not on PATH: the ioredis snippet cannot run here")
    folder = tmp_path_factory.mktemp("ioredis")
    proc = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "ioredis"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"npm install ioredis failed: {proc.stderr[-500:]}"
    return folder


def test_redis_cli_snippet_runs(tls_sandbox: sandbox.Sandbox) -> None:
    s = client.redis_cli_snippet("localhost", tls_sandbox.primary.port, tls_sandbox.client_files())
    assert "--cacert" in s.text and "--cert" in s.text and "--key" in s.text and "--sni localhost" in s.text
    proc = _bash(s.text)
    assert proc.returncode == 0 and proc.stdout.strip() == "PONG", proc


def test_redis_cli_without_client_cert_is_refused(tls_sandbox: sandbox.Sandbox) -> None:
    s = client.redis_cli_snippet("localhost", tls_sandbox.primary.port, tls_sandbox.client_files(None))
    assert "--cert" not in s.text
    assert "PONG" not in _bash(s.text).stdout


def test_openssl_snippet_runs(tls_sandbox: sandbox.Sandbox) -> None:
    s = client.openssl_snippet("localhost", tls_sandbox.primary.port, tls_sandbox.client_files())
    proc = _bash(s.text)
    assert proc.returncode == 0, proc.stderr
    assert "+PONG" in proc.stdout and "+OK" in proc.stdout
    assert "Verification: OK" in proc.stderr


def test_openssl_snippet_rejects_a_wrong_name(tls_sandbox: sandbox.Sandbox) -> None:
    s = client.openssl_snippet(
        "localhost", tls_sandbox.primary.port, tls_sandbox.client_files(), "wrong.invalid"
    )
    proc = _bash(s.text)
    assert proc.returncode != 0 and "+PONG" not in proc.stdout


@pytest.mark.parametrize(
    "make", [client.redis_py_snippet, client.redis_py_pool_snippet], ids=["client", "pool"]
)
def test_redis_py_snippets_run(tls_sandbox: sandbox.Sandbox, tmp_path: Path, make: object) -> None:
    s = make("localhost", tls_sandbox.primary.port, tls_sandbox.client_files())  # type: ignore[operator]
    assert "ssl_context" not in s.text.replace("# ", "")
    script = tmp_path / "snippet.py"
    script.write_text(s.text)
    proc = _run([sys.executable, str(script)])
    assert proc.returncode == 0 and proc.stdout.strip() == "PONG", proc


def test_ioredis_snippet_runs(tls_sandbox: sandbox.Sandbox, ioredis_dir: Path) -> None:
    s = client.ioredis_snippet("127.0.0.1", tls_sandbox.primary.port, tls_sandbox.client_files(), "localhost")
    for part in ("ca:", "cert:", "key:", 'servername: "localhost"', "checkServerIdentity"):
        assert part in s.text
    (ioredis_dir / "ok.js").write_text(s.text)
    proc = _run(["node", "ok.js"], cwd=ioredis_dir)
    assert proc.returncode == 0 and proc.stdout.strip() == "PONG", proc


def test_ioredis_snippet_rejects_a_wrong_name(tls_sandbox: sandbox.Sandbox, ioredis_dir: Path) -> None:
    s = client.ioredis_snippet(
        "127.0.0.1", tls_sandbox.primary.port, tls_sandbox.client_files(), "wrong.invalid"
    )
    (ioredis_dir / "wrong.js").write_text(s.text)
    proc = _run(["node", "wrong.js"], cwd=ioredis_dir)
    assert proc.returncode != 0 and "PONG" not in proc.stdout
    assert "wrong.invalid" in proc.stderr or "altnames" in proc.stderr.lower(), proc.stderr


def test_snippets_cover_every_tool_and_hold_no_key_material(tls_sandbox: sandbox.Sandbox) -> None:
    files = tls_sandbox.client_files()
    all_ = client.snippets("localhost", tls_sandbox.primary.port, files)
    assert [s.tool for s in all_] == ["redis-cli", "openssl s_client", "redis-py", "redis-py pool", "ioredis"]
    for s in all_:
        assert "PRIVATE KEY" not in s.text and files.ca in s.text.replace("\\", "")


# --------------------------------------------------------------------------- redis-py: right and wrong


def test_rediss_url_round_trip(tls_sandbox: sandbox.Sandbox) -> None:
    url = client.redis_url("localhost", tls_sandbox.primary.port, tls_sandbox.client_files())
    assert url.startswith(f"rediss://localhost:{tls_sandbox.primary.port}/0?")
    r = client.redis_from_url(url)
    assert r.ping() is True
    r.close()


def test_pool_decode_responses_on_the_pool(tls_sandbox: sandbox.Sandbox) -> None:
    pool = client.redis_pool("localhost", tls_sandbox.primary.port, tls_sandbox.client_files())
    r = redis.Redis(connection_pool=pool)
    r.set("runbook:test", "v")
    assert r.get("runbook:test") == "v"
    pool.disconnect()


def test_mistake_ssl_context_argument_raises_typeerror(tls_sandbox: sandbox.Sandbox) -> None:
    ctx = client.tls_context(tls_sandbox.client_files())
    with pytest.raises(TypeError, match="ssl_context"):
        redis.Redis(host="localhost", port=tls_sandbox.primary.port, ssl_context=ctx)  # type: ignore[call-arg]


def test_mistake_pool_with_ssl_true_fails_at_first_connection(tls_sandbox: sandbox.Sandbox) -> None:
    files: TlsClientFiles = tls_sandbox.client_files()
    pool = redis.ConnectionPool(
        host="localhost", port=tls_sandbox.primary.port, ssl=True, ssl_ca_certs=files.ca
    )
    r = redis.Redis(connection_pool=pool)  # constructing works: the mistake shows only later
    with pytest.raises(TypeError, match="ssl"):
        r.ping()


def test_mistake_decode_responses_beside_connection_pool_is_ignored(tls_sandbox: sandbox.Sandbox) -> None:
    pool = client.redis_pool(
        "localhost", tls_sandbox.primary.port, tls_sandbox.client_files(), decode_responses=False
    )
    r = redis.Redis(connection_pool=pool, decode_responses=True)
    r.set("runbook:test", "v")
    assert r.get("runbook:test") == b"v", "decode_responses beside connection_pool= is ignored"
    pool.disconnect()


def test_tls_context_refuses_tls11(tls_sandbox: sandbox.Sandbox) -> None:
    ctx = client.tls_context(tls_sandbox.client_files())
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2 and ctx.check_hostname


# --------------------------------------------------------------------------- the helpers notebook 03 uses


def test_run_snippet_reports_pong_and_failures(tls_sandbox: sandbox.Sandbox, ioredis_dir: Path) -> None:
    files = tls_sandbox.client_files()
    runs = [
        client.run_snippet(s, node_dir=ioredis_dir)
        for s in client.snippets("localhost", tls_sandbox.primary.port, files)
    ]
    assert all(r.ran and r.ok for r in runs), runs
    bad = client.redis_cli_snippet("localhost", tls_sandbox.primary.port, tls_sandbox.client_files(None))
    run = client.run_snippet(bad)
    assert run.ran and not run.ok
    js = client.ioredis_snippet("localhost", tls_sandbox.primary.port, files)
    assert not client.run_snippet(js, node_dir=None).ran


def test_common_mistakes_all_fail_as_documented(tls_sandbox: sandbox.Sandbox) -> None:
    results = client.common_mistakes("localhost", tls_sandbox.primary.port, tls_sandbox.client_files())
    assert [r.status for r in results] == ["pass", "pass", "pass"], results
    with client.redis_client("localhost", tls_sandbox.primary.port, tls_sandbox.client_files()) as r:
        assert 0 < r.ttl("runbook:mistakes") <= 60, "the check's key must carry a TTL"


def test_common_mistakes_write_nothing_to_a_read_only_replica(session_work: Path, start_server) -> None:  # type: ignore[no-untyped-def]
    from runbook import pki, workdir

    paths = pki.PkiPaths(workdir.pki_dir(session_work))
    replica = start_server(paths, replicaof="127.0.0.1 1")  # role slave at once; its link never comes up
    files = TlsClientFiles.from_pki(paths.root)
    results = client.common_mistakes("localhost", replica.port, files)
    assert [r.status for r in results] == ["pass", "pass", "skip"], results
    assert "read-only replica" in results[2].detail
    with client.redis_client("localhost", replica.port, files) as r:
        assert r.dbsize() == 0


@pytest.mark.integration
def test_every_snippet_answers_on_a_step_deployment_whose_client_file_holds_a_chain(tmp_path: Path) -> None:
    """step writes the client certificate as leaf + intermediate and the server trusts only the root:
    `openssl s_client -cert` sends the leaf alone (the server answers "unknown ca"), so the printed
    snippet adds -cert_chain; every snippet runs as printed and answers."""
    import corpus

    dep = corpus.build("step", tmp_path / "step")
    node = corpus.start(dep, tmp_path / "node")
    try:
        found = client.snippets("127.0.0.1", node.port, dep.files, dep.server_name)
        openssl = next(s for s in found if s.tool == "openssl s_client")
        assert f"-cert_chain {dep.client_cert}" in openssl.text
        runs = [client.run_snippet(s) for s in found if s.language != "javascript"]
        assert all(r.ran and r.ok for r in runs), [(r.tool, r.output[-200:]) for r in runs if not r.ok]
    finally:
        sandbox.stop_node(node)
    single = client.snippets("127.0.0.1", 6380, dep.files.__class__(str(dep.ca), str(dep.ca), "k"), "x")
    assert (
        "-cert_chain" not in next(s for s in single if s.tool == "openssl s_client").text
    )  # one certificate
