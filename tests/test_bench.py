"""runbook.bench: verdict logic on built reports (unit) and one tiny real run (integration).

No timed assertions: the integration tests check that real measurements come back (numbers
> 0, resumption proven by ``session_reused``, servers stopped), never how fast anything was.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.connection import SSLConnection

from runbook import bench, cli
from runbook.client import ContextSSLConnection
from runbook.errors import RunbookError

# --------------------------------------------------------------------------- built reports


def _report(
    *,
    ecdsa_ms: float = 3.0,
    rsa4096_ms: float = 10.0,
    resumed_ms: float = 1.0,
    caching_off_refused: bool = True,
    pooled: float = 1000.0,
    per_command: float = 5.0,
    guide_ops: float = 100.0,
    guide_us: float = 50.0,
) -> bench.BenchReport:
    r = bench.BenchReport("test", "7.0.15", "OpenSSL 3", 2)
    for transport, rps in (("plaintext", 20000.0), ("tls", 15000.0)):
        us = 10.0 if transport == "plaintext" else 20.0
        r.throughput.append(bench.ThroughputResult("get", 50, 1, transport, 1000, rps, 1.0, 2.0, us, 20.0))
    for kt, ms in (("ecdsa-p256", ecdsa_ms), ("rsa-2048", 4.0), ("rsa-4096", rsa4096_ms)):
        r.handshakes.append(bench.HandshakeResult(kt, "TLSv1.3", 10, 1000 / ms / 2, ms, ms))
    for kt, full_ms in (("ecdsa-p256", ecdsa_ms), ("rsa-4096", rsa4096_ms)):
        for proto in bench.PROTOCOLS:
            r.resumption.append(bench.ResumptionResult(kt, True, proto, "full", 10, 10, 0, 50.0, full_ms))
            r.resumption.append(
                bench.ResumptionResult(kt, True, proto, "resumed", 10, 10, 10, 90.0, resumed_ms)
            )
    for proto in bench.PROTOCOLS:
        r.resumption.append(bench.ResumptionResult("ecdsa-p256", False, proto, "full", 10, 10, 0, 50.0, 3.0))
        if caching_off_refused:
            r.resumption.append(
                bench.ResumptionResult(
                    "ecdsa-p256", False, proto, "resumed", 10, 0, 0, 0.0, None, "internal error"
                )
            )
        else:
            r.resumption.append(
                bench.ResumptionResult("ecdsa-p256", False, proto, "resumed", 10, 10, 0, 50.0, 3.0)
            )
    r.pooling = [
        bench.PoolingResult("pooled", "ecdsa-p256", 100, pooled, 50.0, 100.0),
        bench.PoolingResult("connect-per-command", "ecdsa-p256", 5, per_command, 4000.0, 6000.0),
        bench.PoolingResult(
            "connect-per-command", "ecdsa-p256", 5, per_command / 5, 4000.0, 30000.0, bench.SSL_ARGS_CLIENT
        ),
    ]
    r.comparison = [bench.ComparisonResult("steady", 100.0, guide_ops, 50.0, guide_us)]
    return r


def _status(report: bench.BenchReport) -> dict[str, str]:
    return {c.id: c.status for c in bench.checks(report)}


def test_checks_pass_on_a_plausible_report() -> None:
    status = _status(_report())
    assert status == {
        "measured": "pass",
        "ecdsa-vs-rsa4096": "pass",
        "resumption-proven": "pass",
        "resumption-cheaper": "pass",
        "session-caching-off": "warn",
        "pooling": "pass",
        "runbook-vs-guide": "pass",
    }


def test_checks_come_in_the_documented_order_with_a_fix_only_when_not_passing() -> None:
    for report in (
        _report(),
        _report(ecdsa_ms=9.0, pooled=6.0, per_command=5.0, guide_ops=200.0, guide_us=20.0),
    ):
        found = bench.checks(report)
        assert [c.id for c in found] == list(bench.CHECK_IDS)
        assert all((c.status == "pass") == (c.fix == "") for c in found)


def test_checks_fail_when_ecdsa_is_not_cheaper_than_rsa4096() -> None:
    assert _status(_report(ecdsa_ms=9.0, rsa4096_ms=10.0))["ecdsa-vs-rsa4096"] == "fail"


def test_checks_fail_when_resumption_did_not_happen() -> None:
    report = _report()
    report.resumption[1] = bench.ResumptionResult(
        "ecdsa-p256", True, "TLSv1.3", "resumed", 10, 10, 3, 90.0, 1.0
    )
    assert _status(report)["resumption-proven"] == "fail"


def test_checks_fail_when_resumed_is_not_cheaper_with_rsa4096() -> None:
    assert _status(_report(resumed_ms=2.9))["resumption-cheaper"] == "pass"  # ECDSA gains little: fine
    assert _status(_report(resumed_ms=7.0))["resumption-cheaper"] == "fail"


def test_caching_off_is_pass_when_clients_fall_back() -> None:
    assert _status(_report(caching_off_refused=False))["session-caching-off"] == "pass"


def test_checks_fail_when_pooling_does_not_help() -> None:
    assert _status(_report(pooled=6.0, per_command=5.0))["pooling"] == "fail"


def test_pooling_ratio_compares_the_pool_with_each_kind_of_new_client() -> None:
    report = _report(pooled=1000.0, per_command=5.0)
    assert bench.pooling_ratio(report) == pytest.approx(200.0)  # the same connection class: pooling only
    assert bench.pooling_ratio(report, bench.SSL_ARGS_CLIENT) == pytest.approx(1000.0)
    figures = bench.figures(report)
    assert figures["pooled_over_connect_per_command"] == pytest.approx(200.0)
    assert figures["pooled_over_connect_per_command_ssl_args"] == pytest.approx(1000.0)
    report.pooling = report.pooling[:2]  # no redis-py ssl_* row: that ratio is unknown, the verdict stands
    assert bench.pooling_ratio(report, bench.SSL_ARGS_CLIENT) is None
    assert _status(report)["pooling"] == "pass"


def test_runbook_vs_guide_tolerates_noise_but_not_a_real_loss() -> None:
    assert _status(_report(guide_ops=110.0, guide_us=55.0))["runbook-vs-guide"] == "pass"  # within noise
    assert _status(_report(guide_ops=200.0, guide_us=40.0))["runbook-vs-guide"] == "pass"  # cheaper on CPU
    assert _status(_report(guide_ops=200.0, guide_us=20.0))["runbook-vs-guide"] == "fail"


def test_ratios_prefer_server_cpu_and_fall_back_to_rates() -> None:
    report = _report(ecdsa_ms=2.0, rsa4096_ms=10.0)
    assert bench.handshake_ratio(report) == pytest.approx(5.0)
    report.handshakes = [
        bench.HandshakeResult("ecdsa-p256", "TLSv1.3", 10, 300.0, None, 1.0),
        bench.HandshakeResult("rsa-4096", "TLSv1.3", 10, 100.0, None, 1.0),
    ]
    assert bench.handshake_ratio(report) == pytest.approx(3.0)


def test_cost_rows_and_the_5_10_claim() -> None:
    rows = bench.cost_rows(_report())
    assert rows[0]["throughput_loss_pct"] == pytest.approx(25.0)
    assert rows[0]["claim_holds"] is False
    assert rows[0]["server_cpu_added_pct"] == pytest.approx(100.0)  # 10 -> 20 µs per request
    assert (
        json.loads(json.dumps(_report().to_dict()))["figures"]["ecdsa_p256_over_rsa4096_new_connections"] > 1
    )


def test_tables_render_every_row() -> None:
    report = _report()
    texts = [t.text() for t in bench.tables(report)]
    assert "ecdsa-p256" in texts[2] and "rsa-4096" in texts[2]
    assert "internal error" in texts[3]
    assert "connect-per-command" in texts[4]
    assert bench.RUNBOOK_CLIENT in texts[4] and bench.SSL_ARGS_CLIENT in texts[4]


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "plots" / "bench.png"
    bench.plot(_report(), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parse_benchmark_csv() -> None:
    text = (
        '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
        '"max_latency_ms"\n"GET","28776.98","1.092","0.304","1.023","1.671","3.487","5.071"\n'
    )
    figures = bench.parse_benchmark_csv(text)
    assert figures["rps"] == pytest.approx(28776.98)
    assert figures["p99_latency_ms"] == pytest.approx(3.487)
    with pytest.raises(RunbookError, match="redis-benchmark"):
        bench.parse_benchmark_csv("Error: Connection reset by peer")


def test_profiles_are_validated() -> None:
    with pytest.raises(RunbookError, match="choose one of"):
        bench.profile("huge")
    with pytest.raises(RunbookError, match="counts >= 1"):
        bench.with_profile("quick", handshakes=0)


def test_cli_rejects_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--profile", "huge"])
    assert exc.value.code == cli.EXIT_USAGE


# --------------------------------------------------------------------------- one tiny real run


@pytest.fixture(scope="module")
def bench_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-work")


@pytest.fixture(scope="module")
def smoke_report(bench_work: Path) -> bench.BenchReport:
    return bench.measure(bench_work, "smoke", progress=False)


@pytest.mark.integration
def test_real_run_returns_real_numbers(smoke_report: bench.BenchReport) -> None:
    r = smoke_report
    prof = bench.profile("smoke")
    assert r.redis_version and r.cpus >= 1
    assert {(t.transport, t.pipeline) for t in r.throughput} == {
        (tr, p) for tr in ("plaintext", "tls") for p in prof.pipelines
    }
    assert all(t.rps > 0 and t.p50_ms >= 0 and t.p99_ms >= t.p50_ms for t in r.throughput)
    assert [h.key_type for h in r.handshakes] == list(bench.KEY_TYPES)
    assert all(h.per_second > 0 and h.connections >= 1 and h.protocol == "TLSv1.3" for h in r.handshakes)
    assert all(h.server_ms is None or h.server_ms > 0 for h in r.handshakes)
    assert [(p.mode, p.client, p.connection_class) for p in r.pooling] == [
        ("pooled", bench.RUNBOOK_CLIENT, "ContextSSLConnection"),
        ("connect-per-command", bench.RUNBOOK_CLIENT, "ContextSSLConnection"),
        ("connect-per-command", bench.SSL_ARGS_CLIENT, "SSLConnection"),
    ]
    assert all(p.per_second > 0 for p in r.pooling)
    assert len(r.comparison) == 3 and all(c.runbook_ops > 0 and c.guide_ops > 0 for c in r.comparison)


@pytest.mark.integration
def test_real_run_proves_resumption(smoke_report: bench.BenchReport) -> None:
    cached = [x for x in smoke_report.resumption if x.session_caching]
    assert {(x.key_type, x.protocol) for x in cached} == {
        (kt, p) for kt in (bench.RUNBOOK_KEY, bench.GUIDE_KEY) for p in bench.PROTOCOLS
    }
    for row in cached:
        assert row.completed >= 1, row
        assert row.reused == (row.completed if row.kind == "resumed" else 0), row
    # tls-session-caching no: a client offering a session is refused (redis#7270), full ones work
    off = {x.kind: x for x in smoke_report.resumption if not x.session_caching and x.protocol == "TLSv1.3"}
    assert off["full"].completed >= 1
    assert off["resumed"].completed == 0 and off["resumed"].error


@pytest.mark.integration
def test_real_run_stops_its_servers_and_keeps_its_pki(
    smoke_report: bench.BenchReport, bench_work: Path
) -> None:
    run_dirs = sorted((bench_work / "bench" / "run").iterdir())
    assert len(run_dirs) == 5
    assert not any((d / "redis.pid").exists() for d in run_dirs)
    confs = {d.name: (d / "redis.conf").read_text().splitlines() for d in run_dirs}
    strip = {
        "port",
        "tls-port",
        "dir",
        "logfile",
        "pidfile",
        "tls-cert-file",
        "tls-key-file",
        "tls-ca-cert-file",
    }
    same = {name: [ln for ln in lines if ln.split(" ")[0] not in strip] for name, lines in confs.items()}
    assert same["plaintext"] == same["tls-ecdsa-p256"] == same["tls-rsa-4096"]  # identical settings but TLS
    assert any(ln == "tls-port 0" for ln in confs["plaintext"])
    key = bench_work / "bench" / "pki" / "rsa-4096" / "redis-server.key"
    assert key.stat().st_mode & 0o777 == 0o600


@pytest.mark.integration
def test_cli_bench_json_and_plot(bench_work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = bench_work / "cli.png"
    code = cli.main(
        ["bench", "--profile", "smoke", "--json", "--plot", str(png), "--work-dir", str(bench_work)]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == (cli.EXIT_OK if out["ok"] else cli.EXIT_FAILED)
    assert {c["id"] for c in out["checks"]} >= {"ecdsa-vs-rsa4096", "resumption-proven", "runbook-vs-guide"}
    assert out["profile"] == "smoke" and out["throughput"] and out["figures"]
    assert png.read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- which client each side uses


@pytest.fixture
def live_servers(
    smoke_report: bench.BenchReport, bench_work: Path, tmp_path: Path
) -> Iterator[bench.BenchServers]:
    """The bench servers, started afresh in their own work dir (with the smoke run's PKIs, copied)."""
    shutil.copytree(bench_work / "bench" / "pki", tmp_path / "bench" / "pki")
    with bench.bench_servers(tmp_path) as servers:
        yield servers


@pytest.fixture
def tls_wraps(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Records, without changing them, every TLS connect redis-py makes and every system-store load.

    ``wraps``: (connection class, port) per socket wrapped by redis-py's ``SSLConnection`` or by
    ``ContextSSLConnection`` (which overrides the method and does not call redis-py's);
    ``system_store``: one entry per ``SSLContext.load_default_certs`` (what
    ``ssl.create_default_context()`` without a CA file does).
    """
    seen: dict[str, list[Any]] = {"wraps": [], "system_store": []}

    def spy(
        original: Callable[[Any, socket.socket], ssl.SSLSocket],
    ) -> Callable[[Any, socket.socket], ssl.SSLSocket]:
        def wrap(self: Any, sock: socket.socket) -> ssl.SSLSocket:
            seen["wraps"].append((type(self).__name__, self.port))
            return original(self, sock)

        return wrap

    load_default_certs = ssl.SSLContext.load_default_certs

    def load_system_store(self: ssl.SSLContext, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH) -> None:
        seen["system_store"].append(purpose)
        load_default_certs(self, purpose)

    monkeypatch.setattr(SSLConnection, "_wrap_socket_with_ssl", spy(SSLConnection._wrap_socket_with_ssl))
    monkeypatch.setattr(
        ContextSSLConnection, "_wrap_socket_with_ssl", spy(ContextSSLConnection._wrap_socket_with_ssl)
    )
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", load_system_store)
    return seen


@pytest.mark.integration
def test_per_command_clients_use_the_connection_class_they_are_labelled_with(
    live_servers: bench.BenchServers, tls_wraps: dict[str, list[Any]]
) -> None:
    target = live_servers.tls[bench.RUNBOOK_KEY]
    prof = bench.profile("smoke")
    runbook = bench.measure_per_command(target, bench.RUNBOOK_KEY, prof)
    assert (runbook.client, runbook.connection_class) == (bench.RUNBOOK_CLIENT, "ContextSSLConnection")
    assert tls_wraps["wraps"] == [("ContextSSLConnection", target.port)] * runbook.commands
    assert tls_wraps["system_store"] == []  # runbook.client trusts ca.crt only

    tls_wraps["wraps"].clear()
    guide = bench.measure_per_command(target, bench.RUNBOOK_KEY, prof, bench.SSL_ARGS_CLIENT)
    assert (guide.client, guide.connection_class) == (bench.SSL_ARGS_CLIENT, "SSLConnection")
    assert tls_wraps["wraps"] == [("SSLConnection", target.port)] * guide.commands
    assert len(tls_wraps["system_store"]) == guide.commands  # a new context and the system store per connect
    with pytest.raises(RunbookError, match="choose one of"):
        bench.new_client(target, "redis.Redis(ssl=True)")


@pytest.mark.integration
def test_comparison_measures_the_guide_with_redis_py_ssl_args_and_the_runbook_with_its_pool(
    live_servers: bench.BenchServers, tls_wraps: dict[str, list[Any]]
) -> None:
    runbook, guide = live_servers.tls[bench.RUNBOOK_KEY], live_servers.tls[bench.GUIDE_KEY]
    report = bench.BenchReport("smoke", "", "", 1)  # no pooled row yet: the comparison measures one
    rows = bench.measure_comparison(live_servers, bench.profile("smoke"), report)
    redis_py = rows[-1]
    assert "redis.Redis(ssl=True" in redis_py.workload and redis_py.runbook_ops > 0 and redis_py.guide_ops > 0
    by_port: dict[int, set[str]] = {}
    for cls, port in tls_wraps["wraps"]:
        by_port.setdefault(port, set()).add(cls)
    assert by_port == {runbook.port: {"ContextSSLConnection"}, guide.port: {"SSLConnection"}}
    guide_connects = sum(port == guide.port for _cls, port in tls_wraps["wraps"])
    assert (
        guide_connects >= bench.profile("smoke").per_command
        and len(tls_wraps["system_store"]) == guide_connects
    )
