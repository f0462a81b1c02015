"""What TLS costs, measured: plaintext vs TLS, handshake cost, session resumption, pooling.

:func:`measure` starts its own loopback servers (a plaintext one and TLS ones that differ from it
only by TLS; one TLS server per certificate key type; one with ``tls-session-caching no``), runs
every measurement bounded by a count and a time limit, stops the servers and returns a
:class:`BenchReport` that renders as tables, serialises to JSON and plots with matplotlib.

Two kinds of figures are reported side by side:

* **client-observed rates** (requests or connections per second, as ``redis-benchmark`` or a Python
  client sees them): what an application feels, but on a shared machine they also measure the
  neighbours;
* **server CPU per operation** (from the kernel's per-thread run-time accounting of the
  ``redis-server`` process): the work TLS adds on the server, much less sensitive to other load.
  Verdicts use it where it exists (Linux) and fall back to the rates elsewhere.

"Runbook settings" and "guide settings" (the comparison) are defined in :data:`RUNBOOK_SETTINGS`
and :data:`GUIDE_SETTINGS`; both servers share every directive except the certificates.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import itertools
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import redis

from runbook import display, pki, sandbox, workdir
from runbook.client import TlsClientFiles, redis_client, redis_pool, tls_context
from runbook.errors import RunbookError
from runbook.results import CheckResult

LOOPBACK = "127.0.0.1"
HOSTNAME = "localhost"
KEY_TYPES: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-4096")
RUNBOOK_KEY = "ecdsa-p256"
GUIDE_KEY = "rsa-4096"
PROTOCOLS: dict[str, ssl.TLSVersion] = {"TLSv1.3": ssl.TLSVersion.TLSv1_3, "TLSv1.2": ssl.TLSVersion.TLSv1_2}
BENCH_HINT = "install redis-tools (apt-get install redis-tools), Redis >= 6 with TLS"
CLAIM_LOW, CLAIM_HIGH = 5.0, 10.0  # the "TLS costs 5-10%" figure common guides repeat

RUNBOOK_SETTINGS = (
    "ECDSA P-256 CA, server and client certificates; TLS 1.2+1.3; tls-session-caching yes; "
    "applications share a connection pool (runbook.client.redis_pool)"
)
GUIDE_SETTINGS = (
    "RSA-4096 CA, server and client certificates (openssl genrsa 4096); same redis.conf otherwise; "
    "applications open a new connection per command (a new redis.Redis(ssl=True) per request)"
)

# Verdict thresholds: meaningful, but tolerant of a loaded machine (the benchmark script reports
# the measured ratios against the stricter targets of the issue).
ECDSA_OVER_RSA4096_MIN = 1.5
RESUMED_OVER_FULL_MIN = 1.5  # with RSA-4096; with ECDSA P-256 under TLS 1.3 it saves little
POOLED_OVER_PER_COMMAND_MIN = 2.0
NO_SLOWER_TOLERANCE = 0.8


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """How much to measure. Every loop is bounded by a count and by ``max_seconds``."""

    name: str
    requests: int  # redis-benchmark -n without pipelining
    pipeline_requests: int  # redis-benchmark -n with pipelining
    tests: tuple[str, ...]  # redis-benchmark -t
    clients: tuple[int, ...]  # redis-benchmark -c
    pipelines: tuple[int, ...]  # redis-benchmark -P
    handshakes: int  # new connections per key type / resumption series
    churn_requests: int  # redis-benchmark -k 0 (a new connection per request)
    python_commands: int  # commands through a pooled redis-py client
    per_command: int  # redis-py commands with a new client (connection) each
    repeats: int  # each measurement is repeated, the median is kept
    max_seconds: float  # bound of one Python measurement loop
    timeout: float  # bound of one redis-benchmark run

    def __post_init__(self) -> None:
        counts = (
            self.requests,
            self.pipeline_requests,
            self.handshakes,
            self.churn_requests,
            self.per_command,
        )
        if min(counts) < 1 or self.python_commands < 1 or self.repeats < 1:
            raise RunbookError(f"profile {self.name!r} needs counts >= 1: fix its numbers")
        if not self.tests or not self.clients or not self.pipelines:
            raise RunbookError(f"profile {self.name!r} needs tests, clients and pipelines: fix its lists")


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke",
        requests=300,
        pipeline_requests=1600,
        tests=("get",),
        clients=(4,),
        pipelines=(1, 16),
        handshakes=3,
        churn_requests=8,
        python_commands=20,
        per_command=2,
        repeats=1,
        max_seconds=2.0,
        timeout=60.0,
    ),
    "quick": Profile(
        "quick",
        requests=4000,
        pipeline_requests=24000,
        tests=("get",),
        clients=(10,),
        pipelines=(1, 16),
        handshakes=10,
        churn_requests=16,
        python_commands=200,
        per_command=3,
        repeats=1,
        max_seconds=1.5,
        timeout=60.0,
    ),
    "full": Profile(
        "full",
        requests=50000,
        pipeline_requests=400000,
        tests=("get", "set"),
        clients=(1, 50),
        pipelines=(1, 16),
        handshakes=120,
        churn_requests=200,
        python_commands=3000,
        per_command=20,
        repeats=3,
        max_seconds=15.0,
        timeout=300.0,
    ),
}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise RunbookError(f"unknown bench profile {name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ThroughputResult:
    """One redis-benchmark run (median of the repeats) against one transport."""

    test: str
    clients: int
    pipeline: int
    transport: str  # plaintext | tls
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_us_per_op: float | None
    client_us_per_op: float | None

    @property
    def workload(self) -> str:
        return f"{self.test.upper()} c={self.clients} P={self.pipeline}"


@dataclass(frozen=True)
class HandshakeResult:
    """New mutual-TLS connections (handshake + PING + close), one after another, one key type."""

    key_type: str
    protocol: str
    connections: int
    per_second: float  # client-observed
    server_ms: float | None  # server CPU per new connection
    client_ms: float  # Python client CPU per new connection

    @property
    def server_capacity(self) -> float | None:
        """New connections per second one server core could accept (1 / server CPU)."""
        return 1000.0 / self.server_ms if self.server_ms else None


@dataclass(frozen=True)
class ResumptionResult:
    """Full or resumed handshakes against a server with ``tls-session-caching`` on or off."""

    key_type: str
    session_caching: bool
    protocol: str
    kind: str  # full | resumed
    attempts: int
    completed: int
    reused: int  # connections whose SSLSocket.session_reused was True
    per_second: float
    server_ms: float | None
    error: str = ""


@dataclass(frozen=True)
class PoolingResult:
    """redis-py GETs over TLS: a shared pool vs a new client (connection) per command."""

    mode: str  # pooled | connect-per-command
    key_type: str
    commands: int
    per_second: float
    server_us_per_op: float | None
    client_us_per_op: float


@dataclass(frozen=True)
class ComparisonResult:
    """One workload under the runbook's settings and under the guide's settings."""

    workload: str
    runbook_ops: float
    guide_ops: float
    runbook_server_us: float | None
    guide_server_us: float | None

    @property
    def speedup(self) -> float:
        """Runbook ops/s divided by guide ops/s (> 1: the runbook is faster)."""
        return self.runbook_ops / self.guide_ops if self.guide_ops else float("inf")

    @property
    def cpu_saving(self) -> float | None:
        """Guide server CPU per op divided by the runbook's (> 1: the runbook is cheaper)."""
        if not self.runbook_server_us or not self.guide_server_us:
            return None
        return self.guide_server_us / self.runbook_server_us


@dataclass
class BenchReport:
    """Everything one :func:`measure` run found."""

    profile: str
    redis_version: str
    openssl: str
    cpus: int
    seconds: float = 0.0
    throughput: list[ThroughputResult] = field(default_factory=list)
    handshakes: list[HandshakeResult] = field(default_factory=list)
    resumption: list[ResumptionResult] = field(default_factory=list)
    pooling: list[PoolingResult] = field(default_factory=list)
    comparison: list[ComparisonResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runbook_settings"] = RUNBOOK_SETTINGS
        data["guide_settings"] = GUIDE_SETTINGS
        data["figures"] = figures(self)
        return data

    def throughput_pair(
        self, test: str, clients: int, pipeline: int
    ) -> tuple[ThroughputResult, ThroughputResult]:
        rows = {
            r.transport: r
            for r in self.throughput
            if (r.test, r.clients, r.pipeline) == (test, clients, pipeline)
        }
        return rows["plaintext"], rows["tls"]

    def handshake(self, key_type: str) -> HandshakeResult | None:
        return next((h for h in self.handshakes if h.key_type == key_type), None)

    def resumption_row(
        self, key_type: str, caching: bool, protocol: str, kind: str
    ) -> ResumptionResult | None:
        return next(
            (
                r
                for r in self.resumption
                if (r.key_type, r.session_caching, r.protocol, r.kind) == (key_type, caching, protocol, kind)
            ),
            None,
        )


# --------------------------------------------------------------------------- measuring helpers


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by all threads of ``pid`` (Linux schedstat, ns precision), or None."""
    stats = glob.glob(f"/proc/{pid}/task/*/schedstat")
    if not stats:
        return None
    total = 0
    for path in stats:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(path).read_text().split()[0])
    return total / 1e9


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def _per_op(delta: float | None, ops: int, scale: float) -> float | None:
    return None if delta is None or ops <= 0 else delta / ops * scale


def _cpu_delta(pid: int, before: float | None) -> float | None:
    after = server_cpu_seconds(pid)
    return None if before is None or after is None else after - before


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _median_opt(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def redis_benchmark_binary() -> str:
    found = shutil.which("redis-benchmark")
    if not found:
        raise RunbookError(f"redis-benchmark not found on PATH: {BENCH_HINT}")
    return found


def parse_benchmark_csv(text: str) -> dict[str, float]:
    """The last data row of ``redis-benchmark --csv`` as floats (rps, p50_latency_ms, ...)."""
    rows = list(csv.reader(io.StringIO(text.strip())))
    if len(rows) < 2 or rows[0][:2] != ["test", "rps"]:
        raise RunbookError(f"unexpected redis-benchmark output {text.strip()[:80]!r}: {BENCH_HINT}")
    header, last = rows[0], rows[-1]
    return {name: float(value) for name, value in zip(header[1:], last[1:], strict=False)}


@dataclass(frozen=True)
class _Target:
    """A server to benchmark: where it listens and, for TLS, the client files."""

    node: sandbox.Node
    files: TlsClientFiles | None  # None: plaintext

    @property
    def port(self) -> int:
        return self.node.port if self.files else self.node.plaintext_port

    def benchmark_args(self) -> list[str]:
        args = ["-h", LOOPBACK, "-p", str(self.port)]
        if self.files:
            args += ["--tls", "--sni", HOSTNAME, "--cacert", self.files.ca]
            args += ["--cert", str(self.files.cert), "--key", str(self.files.key)]
        return args


def run_redis_benchmark(
    target: _Target,
    *,
    test: str,
    requests: int,
    clients: int,
    pipeline: int = 1,
    keepalive: bool = True,
    timeout: float = 60.0,
) -> tuple[dict[str, float], float | None, float]:
    """One redis-benchmark run. Returns (csv figures, server CPU seconds, client CPU seconds)."""
    cmd = [redis_benchmark_binary(), *target.benchmark_args(), "-t", test, "-n", str(requests)]
    cmd += ["-c", str(clients), "-P", str(pipeline), "--csv"]
    if not keepalive:
        cmd += ["-k", "0"]
    before, children = server_cpu_seconds(target.node.pid), _children_cpu()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RunbookError(
            f"redis-benchmark {test} -c {clients} -P {pipeline} took over {timeout:.0f}s: "
            "use the quick profile (--quick) or a less loaded machine"
        ) from None
    if proc.returncode != 0 or "rps" not in proc.stdout:
        tail = " ".join((proc.stderr or proc.stdout).split())[-160:]
        raise RunbookError(f"redis-benchmark failed ({tail}): {BENCH_HINT}")
    return parse_benchmark_csv(proc.stdout), _cpu_delta(target.node.pid, before), _children_cpu() - children


def _bounded(fn: Callable[[], Any], count: int, max_seconds: float) -> tuple[int, float]:
    """Call ``fn`` up to ``count`` times or until ``max_seconds`` passed (at least once)."""
    done, start = 0, time.perf_counter()
    while done < count and (done == 0 or time.perf_counter() - start < max_seconds):
        fn()
        done += 1
    return done, time.perf_counter() - start


@dataclass(frozen=True)
class Ping:
    """What one new TLS connection did."""

    session: ssl.SSLSession | None
    reused: bool
    protocol: str


def tls_ping(ctx: ssl.SSLContext, port: int, session: ssl.SSLSession | None = None) -> Ping:
    """One new TLS connection: handshake, PING, read +PONG, close.

    Reading the reply matters: TLS 1.3 servers send their session tickets after the handshake,
    so ``SSLSocket.session`` only holds a resumable session once data has been read.
    """
    with socket.create_connection((LOOPBACK, port), timeout=10.0) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname=HOSTNAME, session=session) as conn:
            conn.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = conn.recv(64)
                if not chunk:
                    break
                reply += chunk
            if reply != b"+PONG\r\n":
                raise RunbookError(f"unexpected reply {reply!r} to PING: read the server log")
            return Ping(conn.session, bool(conn.session_reused), conn.version() or "")


# --------------------------------------------------------------------------- servers


@dataclass
class _Servers:
    """The loopback servers of one run: plaintext, TLS per key type, TLS without session cache."""

    plaintext: _Target
    tls: dict[str, _Target]
    no_cache: _Target


def bench_pki(work: Path, key_type: str) -> pki.PkiPaths:
    """The benchmark's own PKI for ``key_type`` under ``<work>/bench/pki/``. Writes files; idempotent."""
    paths = pki.PkiPaths(work / "bench" / "pki" / key_type)
    pki.create_pki(paths.root, pki.PkiSpec(key_type=key_type))
    return paths


@contextlib.contextmanager
def bench_servers(work: Path) -> Iterator[_Servers]:
    """Start the benchmark's redis-servers under ``<work>/bench/run/``; stop them on exit.

    Starts processes. Every server gets ``sandbox.base_conf`` (so the same directives), the
    plaintext one with ``port N`` and ``tls-port 0``, the TLS ones with ``port 0``.
    """
    run_dir = work / "bench" / "run"
    nodes: list[sandbox.Node] = []

    def start(name: str, paths: pki.PkiPaths, tls: bool, extra: dict[str, str] | None = None) -> _Target:
        node_dir = run_dir / name
        port = sandbox.free_port()
        conf = {**sandbox.base_conf(node_dir, paths, port), **(extra or {})}
        if not tls:  # the same directives, with the TLS port closed and the plaintext one open
            conf.update({"port": str(port), "tls-port": "0"})
        node = sandbox.start_node(name, "bench", node_dir, conf, paths, wait=False)
        nodes.append(node)
        return _Target(node, TlsClientFiles.from_pki(paths.root) if tls else None)

    try:
        pkis = {kt: bench_pki(work, kt) for kt in KEY_TYPES}
        servers = _Servers(
            plaintext=start("plaintext", pkis[RUNBOOK_KEY], tls=False),
            tls={kt: start(f"tls-{kt}", pkis[kt], tls=True) for kt in KEY_TYPES},
            no_cache=start("tls-no-session-cache", pkis[RUNBOOK_KEY], True, {"tls-session-caching": "no"}),
        )
        for target in (servers.plaintext, *servers.tls.values(), servers.no_cache):
            wait_ready(target)
        yield servers
    finally:
        for node in nodes:
            sandbox.stop_node(node)


def wait_ready(target: _Target, timeout: float = 10.0) -> None:
    """Block until a bench server answers PING (mutual TLS, or plaintext), or raise its reason.

    TLS servers are probed with :func:`tls_ping` and one client context (no system trust store
    to load per attempt, unlike a redis-py client), so starting five servers stays quick.
    """
    if target.files is None:
        sandbox.wait_ready_plaintext(target.node, timeout=timeout)
        return
    ctx = _client_ctx(target.files)
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        if not sandbox.pid_alive(target.node.pid):
            reason = next(
                (ln for ln in reversed(sandbox.log_tail(target.node)) if ln.strip()), "no log written"
            )
            raise RunbookError(f"bench server {target.node.name} exited at start: {reason.strip()}")
        try:
            tls_ping(ctx, target.port)
            return
        except (OSError, RunbookError) as exc:
            last = str(exc)
        time.sleep(0.02)
    raise RunbookError(
        f"bench server {target.node.name} did not answer a TLS PING within {timeout:.0f}s ({last}): "
        f"read {target.node.log_path}"
    )


# --------------------------------------------------------------------------- measurements


def measure_throughput(
    target: _Target, transport: str, test: str, clients: int, pipeline: int, prof: Profile
) -> ThroughputResult:
    """redis-benchmark against one server; the median of ``prof.repeats`` runs."""
    requests = prof.pipeline_requests if pipeline > 1 else prof.requests
    runs = [
        run_redis_benchmark(
            target, test=test, requests=requests, clients=clients, pipeline=pipeline, timeout=prof.timeout
        )
        for _ in range(prof.repeats)
    ]
    return ThroughputResult(
        test=test,
        clients=clients,
        pipeline=pipeline,
        transport=transport,
        requests=requests,
        rps=_median([r[0]["rps"] for r in runs]),
        p50_ms=_median([r[0]["p50_latency_ms"] for r in runs]),
        p99_ms=_median([r[0]["p99_latency_ms"] for r in runs]),
        server_us_per_op=_median_opt([_per_op(r[1], requests, 1e6) for r in runs]),
        client_us_per_op=_median_opt([_per_op(r[2], requests, 1e6) for r in runs]),
    )


def _client_ctx(files: TlsClientFiles, protocol: str | None = None) -> ssl.SSLContext:
    return tls_context(files, maximum=PROTOCOLS[protocol] if protocol else None)


def measure_handshakes(target: _Target, key_type: str, prof: Profile) -> HandshakeResult:
    """Full mutual-TLS handshakes, one connection after another, with a Python client."""
    assert target.files is not None
    ctx = _client_ctx(target.files)

    def once() -> None:
        if tls_ping(ctx, target.port).reused:
            raise RunbookError("a connection without a session was resumed: report this as a bug")

    protocol = tls_ping(ctx, target.port).protocol  # warm-up, and the protocol negotiated
    runs = []
    for _ in range(prof.repeats):
        before, cpu0 = server_cpu_seconds(target.node.pid), time.process_time()
        done, elapsed = _bounded(once, prof.handshakes, prof.max_seconds)
        runs.append(
            (
                done,
                done / elapsed,
                _per_op(_cpu_delta(target.node.pid, before), done, 1e3),
                (time.process_time() - cpu0) / done * 1e3,
            )
        )
    return HandshakeResult(
        key_type=key_type,
        protocol=protocol,
        connections=sum(r[0] for r in runs),
        per_second=_median([r[1] for r in runs]),
        server_ms=_median_opt([r[2] for r in runs]),
        client_ms=_median([r[3] for r in runs]),
    )


def measure_resumption(
    target: _Target, key_type: str, caching: bool, protocol: str, prof: Profile
) -> list[ResumptionResult]:
    """Full handshakes, then resumed ones (each reusing the newest ``SSLSession``)."""
    assert target.files is not None
    ctx = _client_ctx(target.files, protocol)
    results = []
    for kind in ("full", "resumed"):
        reused = 0
        error = ""
        session: ssl.SSLSession | None = None

        def once(kind: str = kind) -> None:
            nonlocal reused, session
            ping = tls_ping(ctx, target.port, session if kind == "resumed" else None)
            reused += ping.reused
            if kind == "resumed":
                session = ping.session

        try:
            if kind == "resumed":
                session = tls_ping(ctx, target.port).session  # a first full handshake yields it
            before = server_cpu_seconds(target.node.pid)
            done, elapsed = _bounded(once, prof.handshakes, prof.max_seconds)
            per_second = done / elapsed
            server_ms = _per_op(_cpu_delta(target.node.pid, before), done, 1e3)
        except (ssl.SSLError, OSError) as exc:
            done, per_second, server_ms = 0, 0.0, None
            error = " ".join(str(exc).split())
        results.append(
            ResumptionResult(
                key_type, caching, protocol, kind, prof.handshakes, done, reused, per_second, server_ms, error
            )
        )
    return results


def _redis_py_loop(
    target: _Target, mode: str, key_type: str, fn: Callable[[], Any], count: int, prof: Profile
) -> PoolingResult:
    before, cpu0 = server_cpu_seconds(target.node.pid), time.process_time()
    done, elapsed = _bounded(fn, count, prof.max_seconds)
    return PoolingResult(
        mode,
        key_type,
        done,
        done / elapsed,
        _per_op(_cpu_delta(target.node.pid, before), done, 1e6),
        (time.process_time() - cpu0) / done * 1e6,
    )


def measure_pooled(target: _Target, key_type: str, prof: Profile) -> PoolingResult:
    """redis-py GETs over TLS through one shared pool (``runbook.client.redis_pool``)."""
    assert target.files is not None
    pool = redis_pool(HOSTNAME, target.port, target.files, max_connections=4)
    client = redis.Redis(connection_pool=pool)
    try:
        client.get("bench:key")  # warm-up: the pool's one handshake
        runs = [
            _redis_py_loop(
                target, "pooled", key_type, lambda: client.get("bench:key"), prof.python_commands, prof
            )
            for _ in range(prof.repeats)
        ]
    finally:
        pool.disconnect()
    return _median_pooling(runs)


def measure_per_command(target: _Target, key_type: str, prof: Profile) -> PoolingResult:
    """redis-py GETs over TLS with a new client, so a new connection, per command."""
    files = target.files
    assert files is not None

    def once() -> None:
        client = redis_client(HOSTNAME, target.port, files)
        try:
            client.get("bench:key")
        finally:
            client.close()

    runs = [
        _redis_py_loop(target, "connect-per-command", key_type, once, prof.per_command, prof)
        for _ in range(prof.repeats)
    ]
    return _median_pooling(runs)


def _median_pooling(runs: list[PoolingResult]) -> PoolingResult:
    first = runs[0]
    return PoolingResult(
        first.mode,
        first.key_type,
        sum(r.commands for r in runs),
        _median([r.per_second for r in runs]),
        _median_opt([r.server_us_per_op for r in runs]),
        _median([r.client_us_per_op for r in runs]),
    )


def measure_pooling(target: _Target, key_type: str, prof: Profile) -> list[PoolingResult]:
    """redis-py over TLS: GETs through one shared pool vs a new client per command."""
    return [measure_pooled(target, key_type, prof), measure_per_command(target, key_type, prof)]


def measure_comparison(servers: _Servers, prof: Profile, report: BenchReport) -> list[ComparisonResult]:
    """The same workloads under the runbook's settings and the guide's settings.

    redis-benchmark workloads run back to back (runbook, then guide) so both see the same machine
    load; the redis-py workload reuses the pooled row ``report`` already holds.
    """
    runbook, guide = servers.tls[RUNBOOK_KEY], servers.tls[GUIDE_KEY]
    out = []
    clients = max(prof.clients)
    steady = measure_throughput(runbook, "tls", "get", clients, 1, prof)
    guide_steady = measure_throughput(guide, "tls", "get", clients, 1, prof)
    out.append(
        ComparisonResult(
            f"redis-benchmark GET c={clients}, keep-alive (incl. {clients} handshakes)",
            steady.rps,
            guide_steady.rps,
            steady.server_us_per_op,
            guide_steady.server_us_per_op,
        )
    )

    def churn(target: _Target) -> tuple[float, float | None]:
        found, cpu, _client = run_redis_benchmark(
            target,
            test="ping_inline",
            requests=prof.churn_requests,
            clients=4,
            keepalive=False,
            timeout=prof.timeout,
        )
        return found["rps"], _per_op(cpu, prof.churn_requests, 1e6)

    pairs = [(churn(runbook), churn(guide)) for _ in range(prof.repeats)]
    out.append(
        ComparisonResult(
            "redis-benchmark PING c=4, new connection per request",
            _median([p[0][0] for p in pairs]),
            _median([p[1][0] for p in pairs]),
            _median_opt([p[0][1] for p in pairs]),
            _median_opt([p[1][1] for p in pairs]),
        )
    )
    pooled = next((p for p in report.pooling if p.mode == "pooled" and p.key_type == RUNBOOK_KEY), None)
    pooled = pooled or measure_pooled(runbook, RUNBOOK_KEY, prof)
    per_command = measure_per_command(guide, GUIDE_KEY, prof)
    out.append(
        ComparisonResult(
            "redis-py GET (runbook: shared pool; guide: new client per command)",
            pooled.per_second,
            per_command.per_second,
            pooled.server_us_per_op,
            per_command.server_us_per_op,
        )
    )
    return out


def measure(
    work: Path | str | None = None, prof: Profile | str = "quick", *, progress: bool | None = None
) -> BenchReport:
    """Run every measurement of ``prof`` and return the report.

    Starts loopback redis-servers under ``<work>/bench/run/`` and stops them before returning;
    writes the benchmark's PKIs under ``<work>/bench/pki/`` (kept and reused: RSA-4096 keys are
    slow to generate). Progress bars go to stderr (default: when stderr is a terminal).
    """
    from tqdm import tqdm

    chosen = profile(prof) if isinstance(prof, str) else prof
    wd = workdir.work_dir(work)
    redis_benchmark_binary()
    version = ".".join(map(str, sandbox.redis_server_version()))
    report = BenchReport(chosen.name, version, ssl.OPENSSL_VERSION, os.cpu_count() or 0)
    start = time.perf_counter()
    with bench_servers(wd) as servers:
        report.timings["start servers"] = round(time.perf_counter() - start, 3)
        runbook, guide = servers.tls[RUNBOOK_KEY], servers.tls[GUIDE_KEY]
        steps: list[tuple[str, Callable[[], Any], list[Any]]] = []
        run: Callable[[], Any]
        for test, clients, pipeline in itertools.product(chosen.tests, chosen.clients, chosen.pipelines):
            for transport, target in (("plaintext", servers.plaintext), ("tls", runbook)):
                run = partial(measure_throughput, target, transport, test, clients, pipeline, chosen)
                steps.append((f"{transport} {test} c={clients} P={pipeline}", run, report.throughput))
        for kt in KEY_TYPES:
            run = partial(measure_handshakes, servers.tls[kt], kt, chosen)
            steps.append((f"handshakes {kt}", run, report.handshakes))
        series = (
            (RUNBOOK_KEY, True, runbook),
            (GUIDE_KEY, True, guide),
            (RUNBOOK_KEY, False, servers.no_cache),
        )
        for (kt, caching, target), protocol in itertools.product(series, PROTOCOLS):
            run = partial(measure_resumption, target, kt, caching, protocol, chosen)
            steps.append((f"resumption {kt} caching={caching} {protocol}", run, report.resumption))
        steps.append(("pooling", partial(measure_pooling, runbook, RUNBOOK_KEY, chosen), report.pooling))
        steps.append(
            ("runbook vs guide", partial(measure_comparison, servers, chosen, report), report.comparison)
        )
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(
            total=len(steps), desc=f"bench ({chosen.name})", disable=not show, file=sys.stderr, leave=False
        ) as bar:
            for label, step, into in steps:
                bar.set_postfix_str(label)
                began = time.perf_counter()
                found = step()
                report.timings[label] = round(time.perf_counter() - began, 3)
                into.extend(found if isinstance(found, list) else [found])
                bar.update(1)
    report.seconds = time.perf_counter() - start
    return report


# --------------------------------------------------------------------------- figures and verdicts


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def handshake_ratio(report: BenchReport, fast: str = RUNBOOK_KEY, slow: str = GUIDE_KEY) -> float | None:
    """How many times more new connections ``fast`` certificates allow than ``slow`` ones.

    Server CPU based when available (robust on a shared machine), else client-observed rates.
    """
    f, s = report.handshake(fast), report.handshake(slow)
    if f is None or s is None:
        return None
    by_cpu = _ratio(s.server_ms, f.server_ms)
    return by_cpu if by_cpu is not None else _ratio(f.per_second, s.per_second)


def resumption_ratio(report: BenchReport, key_type: str, protocol: str = "TLSv1.3") -> float | None:
    """Resumed over full handshakes (server CPU based when available), caching on."""
    full = report.resumption_row(key_type, True, protocol, "full")
    resumed = report.resumption_row(key_type, True, protocol, "resumed")
    if full is None or resumed is None or not resumed.completed:
        return None
    by_cpu = _ratio(full.server_ms, resumed.server_ms)
    return by_cpu if by_cpu is not None else _ratio(resumed.per_second, full.per_second)


def pooling_ratio(report: BenchReport) -> float | None:
    rows = {p.mode: p for p in report.pooling}
    if "pooled" not in rows or "connect-per-command" not in rows:
        return None
    return _ratio(rows["pooled"].per_second, rows["connect-per-command"].per_second)


def tls_cost_percent(plain: ThroughputResult, tls: ThroughputResult) -> float:
    """Throughput lost with TLS, in percent of the plaintext throughput."""
    return (1.0 - tls.rps / plain.rps) * 100.0 if plain.rps else 0.0


def cost_rows(report: BenchReport) -> list[dict[str, Any]]:
    """Per workload: plaintext and TLS rps, the loss, server CPU per request, inside 5-10%?"""
    rows = []
    seen = []
    for r in report.throughput:
        key = (r.test, r.clients, r.pipeline)
        if key in seen:
            continue
        seen.append(key)
        plain, tls = report.throughput_pair(*key)
        loss = tls_cost_percent(plain, tls)
        rows.append(
            {
                "workload": plain.workload,
                "plaintext_rps": plain.rps,
                "tls_rps": tls.rps,
                "throughput_loss_pct": loss,
                "server_us_plaintext": plain.server_us_per_op,
                "server_us_tls": tls.server_us_per_op,
                "server_cpu_added_pct": (
                    (tls.server_us_per_op / plain.server_us_per_op - 1.0) * 100.0
                    if tls.server_us_per_op and plain.server_us_per_op
                    else None
                ),
                "claim_holds": loss <= CLAIM_HIGH,
            }
        )
    return rows


def figures(report: BenchReport) -> dict[str, Any]:
    """The headline figures, as plain numbers (what the README and the summary record quote)."""
    return {
        "tls_throughput_loss_pct": {
            r["workload"]: round(r["throughput_loss_pct"], 1) for r in cost_rows(report)
        },
        "tls_server_cpu_added_pct": {
            r["workload"]: _round(r["server_cpu_added_pct"]) for r in cost_rows(report)
        },
        "ecdsa_p256_over_rsa4096_new_connections": _round(handshake_ratio(report)),
        "rsa2048_over_rsa4096_new_connections": _round(handshake_ratio(report, "rsa-2048")),
        "resumed_over_full": {kt: _round(resumption_ratio(report, kt)) for kt in (RUNBOOK_KEY, GUIDE_KEY)},
        "pooled_over_connect_per_command": _round(pooling_ratio(report)),
        "runbook_over_guide": {c.workload: _round(c.speedup) for c in report.comparison},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def checks(report: BenchReport) -> list[CheckResult]:
    """Verdicts with stable wording (the measured ratios are in :func:`figures`)."""
    out = []
    measured = (
        bool(report.throughput)
        and all(r.rps > 0 for r in report.throughput)
        and all(h.per_second > 0 for h in report.handshakes)
    )
    out.append(
        CheckResult(
            "measured",
            "pass" if measured else "fail",
            "plaintext and TLS servers answered every workload with real numbers",
            "" if measured else "read the bench servers' logs under <work>/bench/run/",
        )
    )
    ratio = handshake_ratio(report)
    ok = ratio is not None and ratio >= ECDSA_OVER_RSA4096_MIN
    out.append(
        CheckResult(
            "ecdsa-vs-rsa4096",
            "pass" if ok else "fail",
            f"ECDSA P-256 allows >= {ECDSA_OVER_RSA4096_MIN}x the new mutual-TLS connections of RSA-4096",
            "" if ok else "re-run on a less loaded machine (a new connection's cost is CPU)",
        )
    )
    resumed_rows = [r for r in report.resumption if r.session_caching and r.kind == "resumed"]
    full_rows = [r for r in report.resumption if r.session_caching and r.kind == "full"]
    proven = (
        bool(resumed_rows)
        and all(r.completed and r.reused == r.completed for r in resumed_rows)
        and all(r.reused == 0 for r in full_rows)
    )
    out.append(
        CheckResult(
            "resumption-proven",
            "pass" if proven else "fail",
            "with tls-session-caching yes every offered session was resumed (session_reused)",
            "" if proven else "keep tls-session-caching yes (the Redis default)",
        )
    )
    ratios = [resumption_ratio(report, GUIDE_KEY, p) for p in PROTOCOLS]
    ok = all(r is not None and r >= RESUMED_OVER_FULL_MIN for r in ratios)
    out.append(
        CheckResult(
            "resumption-cheaper",
            "pass" if ok else "fail",
            f"with RSA-4096 certificates resumed handshakes cost >= {RESUMED_OVER_FULL_MIN}x less than full "
            "ones (TLS 1.2 and 1.3)",
            "" if ok else "re-run on a less loaded machine",
        )
    )
    off = [r for r in report.resumption if not r.session_caching and r.kind == "resumed"]
    refused = bool(off) and all(r.completed == 0 and r.error for r in off)
    out.append(
        CheckResult(
            "session-caching-off",
            "warn" if refused else "pass",
            "tls-session-caching no: clients that offer a session are refused (redis#7270)"
            if refused
            else "tls-session-caching no: clients that offer a session fall back to a full handshake",
            "keep tls-session-caching yes" if refused else "",
        )
    )
    ratio = pooling_ratio(report)
    ok = ratio is not None and ratio >= POOLED_OVER_PER_COMMAND_MIN
    out.append(
        CheckResult(
            "pooling",
            "pass" if ok else "fail",
            f"a shared redis-py pool runs >= {POOLED_OVER_PER_COMMAND_MIN}x the commands of "
            "a connection per command",
            "" if ok else "re-run on a less loaded machine",
        )
    )
    slower = [
        c.workload
        for c in report.comparison
        if c.speedup < NO_SLOWER_TOLERANCE and (c.cpu_saving is None or c.cpu_saving < NO_SLOWER_TOLERANCE)
    ]
    ok = bool(report.comparison) and not slower
    out.append(
        CheckResult(
            "runbook-vs-guide",
            "pass" if ok else "fail",
            f"runbook settings no slower than the guide's on all {len(report.comparison)} "
            f"workloads (tolerance {NO_SLOWER_TOLERANCE})",
            "" if ok else f"slower on: {'; '.join(slower)}",
        )
    )
    return out


# --------------------------------------------------------------------------- tables and plots


def _f(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def cost_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "workload",
            "plaintext rps",
            "TLS rps",
            "throughput lost",
            "server µs/req plain",
            "server µs/req TLS",
            "server CPU added",
            f"within {CLAIM_LOW:.0f}-{CLAIM_HIGH:.0f}%?",
        ],
        (
            [
                r["workload"],
                _f(r["plaintext_rps"]),
                _f(r["tls_rps"]),
                f"{r['throughput_loss_pct']:.0f}%",
                _f(r["server_us_plaintext"], 1),
                _f(r["server_us_tls"], 1),
                "-" if r["server_cpu_added_pct"] is None else f"{r['server_cpu_added_pct']:.0f}%",
                "yes" if r["claim_holds"] else "no",
            ]
            for r in cost_rows(report)
        ),
        "Plaintext vs TLS (redis-benchmark, identical servers but TLS)",
    )


def throughput_table(report: BenchReport) -> display.Table:
    return display.Table(
        ["workload", "transport", "requests", "rps", "p50 ms", "p99 ms", "server µs/req", "client µs/req"],
        (
            [
                r.workload,
                r.transport,
                r.requests,
                _f(r.rps),
                _f(r.p50_ms, 3),
                _f(r.p99_ms, 3),
                _f(r.server_us_per_op, 1),
                _f(r.client_us_per_op, 1),
            ]
            for r in report.throughput
        ),
        "Throughput and latency",
    )


def handshake_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "key type",
            "protocol",
            "connections",
            "conn/s (client)",
            "server ms/conn",
            "conn/s per server core",
            "client ms/conn",
        ],
        (
            [
                h.key_type,
                h.protocol,
                h.connections,
                _f(h.per_second),
                _f(h.server_ms, 2),
                _f(h.server_capacity),
                _f(h.client_ms, 2),
            ]
            for h in report.handshakes
        ),
        "New mutual-TLS connections (full handshake + PING)",
    )


def resumption_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "key type",
            "session caching",
            "protocol",
            "handshake",
            "completed",
            "resumed",
            "conn/s",
            "server ms/conn",
            "error",
        ],
        (
            [
                r.key_type,
                "yes" if r.session_caching else "no",
                r.protocol,
                r.kind,
                f"{r.completed}/{r.attempts}",
                r.reused,
                _f(r.per_second),
                _f(r.server_ms, 2),
                r.error[:60],
            ]
            for r in report.resumption
        ),
        "Session resumption (Python client reusing SSLSession)",
    )


def pooling_table(report: BenchReport) -> display.Table:
    return display.Table(
        ["mode", "key type", "commands", "commands/s", "server µs/cmd", "client µs/cmd"],
        (
            [
                p.mode,
                p.key_type,
                p.commands,
                _f(p.per_second),
                _f(p.server_us_per_op, 1),
                _f(p.client_us_per_op),
            ]
            for p in report.pooling
        ),
        "redis-py: pooled vs connect-per-command",
    )


def comparison_table(report: BenchReport) -> display.Table:
    return display.Table(
        [
            "workload",
            "runbook ops/s",
            "guide ops/s",
            "runbook/guide",
            "server µs/op runbook",
            "server µs/op guide",
        ],
        (
            [
                c.workload,
                _f(c.runbook_ops),
                _f(c.guide_ops),
                f"{c.speedup:.2f}x",
                _f(c.runbook_server_us, 1),
                _f(c.guide_server_us, 1),
            ]
            for c in report.comparison
        ),
        "Runbook settings vs the guide's settings",
    )


def tables(report: BenchReport) -> list[display.Table]:
    return [
        cost_table(report),
        throughput_table(report),
        handshake_table(report),
        resumption_table(report),
        pooling_table(report),
        comparison_table(report),
    ]


def plot(report: BenchReport, path: Path | str | None = None) -> Any:
    """A 2x2 matplotlib figure of the report (Agg, headless). Writes a PNG when ``path`` is given."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    rows = cost_rows(report)
    xs = range(len(rows))
    ax1.bar([x - 0.2 for x in xs], [r["plaintext_rps"] for r in rows], 0.4, label="plaintext")
    ax1.bar([x + 0.2 for x in xs], [r["tls_rps"] for r in rows], 0.4, label="TLS")
    ax1.set_xticks(list(xs), [r["workload"].replace(" ", "\n", 1) for r in rows], fontsize=8)
    ax1.set_ylabel("requests/s")
    ax1.set_title("Throughput, plaintext vs TLS")
    ax1.legend()
    hs = report.handshakes
    capacity = [h.server_capacity or h.per_second for h in hs]
    ax2.bar([h.key_type for h in hs], capacity, color="tab:orange")
    ax2.set_ylabel("new connections/s per server core")
    ax2.set_title("Handshake cost by certificate key type")
    res = [r for r in report.resumption if r.session_caching]
    labels = [f"{r.key_type}\n{r.protocol}\n{r.kind}" for r in res]
    by_cpu = all(r.server_ms for r in res)
    heights = [1000.0 / r.server_ms if by_cpu and r.server_ms else r.per_second for r in res]
    ax3.bar(labels, heights, color=["tab:gray" if r.kind == "full" else "tab:green" for r in res])
    ax3.tick_params(axis="x", labelsize=7)
    ax3.set_ylabel("connections/s per server core" if by_cpu else "connections/s (client)")
    ax3.set_title("Full vs resumed handshakes")
    comp = report.comparison
    cx = range(len(comp))
    ax4.bar([x - 0.2 for x in cx], [c.runbook_ops for c in comp], 0.4, label="runbook settings")
    ax4.bar([x + 0.2 for x in cx], [c.guide_ops for c in comp], 0.4, label="guide settings")
    ax4.set_xticks(list(cx), ["steady", "reconnect", "redis-py"][: len(comp)])
    ax4.set_yscale("log")
    ax4.set_ylabel("ops/s (log)")
    ax4.set_title("Runbook vs guide settings")
    ax4.legend()
    fig.suptitle(
        f"What TLS costs: redis {report.redis_version}, {report.cpus} CPUs, profile {report.profile}"
    )
    if path is not None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=90)
    return fig


def with_profile(base: str, **changes: Any) -> Profile:
    """A copy of a named profile with some numbers changed (e.g. for tests)."""
    return replace(profile(base), **changes)


# --------------------------------------------------------------------------- notebook 06: external target

CHECK_IDS: tuple[str, ...] = (
    "measured",
    "ecdsa-vs-rsa4096",
    "resumption-proven",
    "resumption-cheaper",
    "session-caching-off",
    "pooling",
    "runbook-vs-guide",
)
EXTERNAL_SKIP = (
    "the benchmark starts its own local redis-servers, and nothing may be started under target=external: "
    "run with target=sandbox, or `python -m runbook bench` on a test host"
)


def skipped_checks(reason: str = EXTERNAL_SKIP) -> list[CheckResult]:
    """Every verdict of :func:`checks` with status ``skip`` and ``reason`` (nothing measured or started)."""
    return [CheckResult(check_id, "skip", reason) for check_id in CHECK_IDS]


def evidence(report: BenchReport | None, reason: str = EXTERNAL_SKIP) -> dict[str, Any]:
    """The ``evidence`` of notebook 06's summary record; ``report=None``: the measurements were skipped."""
    base: dict[str, Any] = {"runbook_settings": RUNBOOK_SETTINGS, "guide_settings": GUIDE_SETTINGS}
    if report is None:
        return {**base, "figures": {}, "skipped": reason}
    return {"redis_version": report.redis_version, "bench_profile": report.profile, **base,
            "figures": figures(report)}  # fmt: skip
