"""The loopback redis-servers one run starts: a plaintext one, one TLS server per key type, one
with ``tls-session-caching no``; their PKIs, readiness, and stopping them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runbook import pki, sandbox
from runbook.bench.connection import client_ctx, tls_ping
from runbook.bench.settings import HOSTNAME, KEY_TYPES, LOOPBACK, RUNBOOK_KEY
from runbook.client import Endpoint, TlsClientFiles
from runbook.errors import RunbookError


@dataclass(frozen=True)
class BenchServer:
    """A server to benchmark: where it listens and, for TLS, the client files."""

    node: sandbox.Node
    files: TlsClientFiles | None  # None: plaintext

    @property
    def port(self) -> int:
        return self.node.port if self.files else self.node.plaintext_port

    @property
    def endpoint(self) -> Endpoint:
        """Where clients reach it: the loopback address, verified for ``localhost``, our client files."""
        return Endpoint(LOOPBACK, self.port, HOSTNAME, self.files or TlsClientFiles(""), name=self.node.name)

    def benchmark_args(self) -> list[str]:
        args = ["-h", self.endpoint.host, "-p", str(self.port)]
        if self.files:
            args += ["--tls", "--sni", HOSTNAME, "--cacert", self.files.ca]
            args += ["--cert", str(self.files.cert), "--key", str(self.files.key)]
        return args


@dataclass
class BenchServers:
    """The loopback servers of one run: plaintext, TLS per key type, TLS without session cache."""

    plaintext: BenchServer
    tls: dict[str, BenchServer]
    no_cache: BenchServer


def bench_pki(work: Path, key_type: str) -> pki.PkiPaths:
    """The benchmark's own PKI for ``key_type`` under ``<work>/bench/pki/``. Writes files; idempotent."""
    paths = pki.PkiPaths(work / "bench" / "pki" / key_type)
    pki.create_pki(paths.root, pki.PkiSpec(key_type=key_type))
    return paths


@contextlib.contextmanager
def bench_servers(work: Path) -> Iterator[BenchServers]:
    """Start the benchmark's redis-servers under ``<work>/bench/run/``; stop them on exit.

    Starts processes. Every server gets ``sandbox.base_conf`` (so the same directives), the
    plaintext one with ``port N`` and ``tls-port 0``, the TLS ones with ``port 0``.
    """
    run_dir = work / "bench" / "run"
    nodes: list[sandbox.Node] = []

    def start(name: str, paths: pki.PkiPaths, tls: bool, extra: dict[str, str] | None = None) -> BenchServer:
        node_dir = run_dir / name
        port = sandbox.free_port()
        conf = {**sandbox.base_conf(node_dir, paths, port), **(extra or {})}
        if not tls:  # the same directives, with the TLS port closed and the plaintext one open
            conf.update({"port": str(port), "tls-port": "0"})
        node = sandbox.start_node(name, "bench", node_dir, conf, paths, wait=False)
        nodes.append(node)
        return BenchServer(node, TlsClientFiles.from_pki(paths.root) if tls else None)

    try:
        pkis = {kt: bench_pki(work, kt) for kt in KEY_TYPES}
        servers = BenchServers(
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


def wait_ready(target: BenchServer, timeout: float = 10.0) -> None:
    """Block until a bench server answers PING (mutual TLS, or plaintext), or raise its reason.

    TLS servers are probed with :func:`tls_ping` and one client context (no system trust store
    to load per attempt, unlike a redis-py client), so starting five servers stays quick.
    """
    if target.files is None:
        sandbox.wait_ready_plaintext(target.node, timeout=timeout)
        return
    ctx = client_ctx(target.files)
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        if not sandbox.pid_alive(target.node.pid):
            reason = next(
                (ln for ln in reversed(sandbox.log_tail(target.node)) if ln.strip()), "no log written"
            )
            raise RunbookError(f"bench server {target.node.name} exited at start: {reason.strip()}")
        try:
            tls_ping(ctx, target.endpoint)
            return
        except (OSError, RunbookError) as exc:
            last = str(exc)
        time.sleep(0.02)
    raise RunbookError(
        f"bench server {target.node.name} did not answer a TLS PING within {timeout:.0f}s ({last}): "
        f"read {target.node.log_path}"
    )
