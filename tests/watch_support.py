"""Shared pieces of the watch tests: a real TLS redis-server reading files the test can renew, a
writer *process* (tests/watch_writer.py) that renews them, and the watcher run on a thread."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from runbook import files, pki, rotation, sandbox
from runbook.client import Endpoint, TlsClientFiles, redis_client
from runbook.watch import WatchEvent, WatchReport, WatchTarget, watch

WRITER = Path(__file__).with_name("watch_writer.py")


def write(*args: object) -> float:
    """Run the writer process to completion; the Unix time at which it had the new set in place."""
    done = subprocess.run(
        [sys.executable, str(WRITER), *map(str, args)], capture_output=True, text=True, timeout=60, check=True
    )
    done_at: float = json.loads(done.stdout.splitlines()[-1])["done"]
    return done_at


def start_writer(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WRITER), *map(str, args)], stdout=subprocess.PIPE, text=True)


def ca_of(pki_root: Path) -> pki.Issued:
    return pki.Issued(pki.load_cert(pki_root / "ca.crt"), pki.load_key(pki_root / "ca.key"))


def renew(pki_root: Path, like: Path, out: Path, name: str) -> tuple[Path, Path, str]:
    """A renewed certificate like ``like`` (same names, new key and serial), written to ``out``."""
    issued = rotation.reissue_like(pki.load_cert(like), ca_of(pki_root))
    out.mkdir(parents=True, exist_ok=True)
    cert, key = out / f"{name}.crt", out / f"{name}.key"
    files.write_all(issued.planned_writes(cert, key))
    return cert, key, rotation.serial_of(issued.cert)


def start_server(
    pki_root: Path, node_dir: Path, cert: Path, key: Path, ca: Path, **extra: str
) -> sandbox.Node:
    """A TLS-only redis-server reading ``cert``/``key``/``ca`` (paths as given, symlinks kept)."""
    conf = sandbox.base_conf(node_dir, pki.PkiPaths(pki_root), sandbox.free_port())
    conf.update({"tls-cert-file": str(cert), "tls-key-file": str(key), "tls-ca-cert-file": str(ca), **extra})
    return sandbox.start_node(node_dir.name, "primary", node_dir, conf, pki.PkiPaths(pki_root))


def node_files(site_pki: Path, folder: Path, link: bool) -> dict[str, Path]:
    """A server certificate for localhost/127.0.0.1 (and a replica-link client one) in ``folder``."""
    ca = pki.Issued(pki.load_cert(site_pki / "ca.crt"), pki.load_key(site_pki / "ca.key"))
    leaf = pki.make_leaf(ca, "localhost", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"])
    out = {"cert": folder / "server.crt", "key": folder / "server.key", "ca": folder / "ca.crt"}
    writes = [
        *leaf.planned_writes(out["cert"], out["key"]),
        files.PlannedWrite(out["ca"], (site_pki / "ca.crt").read_bytes()),
    ]
    if link:
        client = pki.make_leaf(ca, "replica-link", purpose="client", hostnames=["replica-link"])
        out |= {"link": folder / "link.crt", "link_key": folder / "link.key"}
        writes += client.planned_writes(out["link"], out["link_key"])
    files.write_all(writes)
    return out


@dataclass
class Site:
    """A PKI, the folder a server reads its files from, and the running server."""

    root: Path
    pki: Path
    live: Path
    node: sandbox.Node

    @property
    def tls(self) -> TlsClientFiles:
        return TlsClientFiles.from_pki(self.pki)

    def target(self, group: str = "default") -> WatchTarget:
        return WatchTarget(Endpoint("127.0.0.1", self.node.port, files=self.tls), group)

    def serial(self, port: int | None = None) -> str:
        cert = rotation.served_certificate("127.0.0.1", port or self.node.port, self.tls)
        return rotation.serial_of(cert)

    def client(self, port: int | None = None) -> redis.Redis:
        return redis_client("127.0.0.1", port or self.node.port, self.tls)

    def config_sets(self, port: int | None = None) -> int:
        """How many ``CONFIG SET`` calls the server has executed (INFO commandstats)."""
        c = self.client(port)
        try:
            stats: dict[str, Any] = c.info("commandstats")  # type: ignore[assignment]
        finally:
            c.close()
        return int(stats.get("cmdstat_config|set", {}).get("calls", 0))

    def config(self, name: str, port: int | None = None) -> str:
        c = self.client(port)
        try:
            return str(c.config_get(name)[name])
        finally:
            c.close()

    def renew(self, name: str = "renewed") -> tuple[Path, Path, str]:
        return renew(self.pki, self.pki / "redis-server.crt", self.root / "staged", name)


def make_site(root: Path, *, k8s: bool = False) -> Site:
    pki_root = root / "pki"
    pki.create_pki(pki_root, pki.PkiSpec())
    live = root / ("secret" if k8s else "live")
    if k8s:
        write("k8s", live, pki_root / "redis-server.crt", "tls.crt", pki_root / "redis-server.key", "tls.key",
              pki_root / "ca.crt", "ca.crt")  # fmt: skip
        cert, key, ca = live / "tls.crt", live / "tls.key", live / "ca.crt"
    else:
        live.mkdir(parents=True)
        cert, key, ca = live / "redis-server.crt", live / "redis-server.key", live / "ca.crt"
        files.write_all(
            [
                files.PlannedWrite(cert, (pki_root / "redis-server.crt").read_bytes()),
                files.PlannedWrite(key, (pki_root / "redis-server.key").read_bytes(), files.PRIVATE),
                files.PlannedWrite(ca, (pki_root / "ca.crt").read_bytes()),
            ]
        )
    node = start_server(pki_root, root / "node", cert, key, ca)
    return Site(root, pki_root, live, node)


class Running:
    """``with Running(targets, ...) as w:`` runs :func:`runbook.watch.watch` on a thread."""

    def __init__(self, targets: list[WatchTarget], **kw: Any) -> None:
        kw.setdefault("interval", 0.5)
        kw.setdefault("settle", 0.3)
        self.events: list[WatchEvent] = []
        self.report: WatchReport | None = None
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(targets, kw), daemon=True)

    def _run(self, targets: list[WatchTarget], kw: dict[str, Any]) -> None:
        try:
            self.report = watch(targets, stop_event=self.stop, on_event=self._on, **kw)
        except BaseException as exc:
            self.error = exc
        with self._cond:
            self._cond.notify_all()

    def _on(self, event: WatchEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: str) -> list[WatchEvent]:
        with self._cond:
            return [e for e in self.events if e.kind == kind]

    def wait(self, kind: str, count: int = 1, timeout: float = 30.0) -> list[WatchEvent]:
        """Block until ``count`` events of ``kind`` happened (or fail with what did happen)."""
        done: Callable[[], bool] = lambda: len(self.of(kind)) >= count or self.error is not None  # noqa: E731
        with self._cond:
            self._cond.wait_for(done, timeout)
        if self.error is not None:
            raise self.error
        found = self.of(kind)
        assert len(found) >= count, (
            f"no {count}x {kind!r} within {timeout}s: {[e.line() for e in self.events]}"
        )
        return found

    def wait_for(self, kind: str, pred: Callable[[WatchEvent], bool], timeout: float = 30.0) -> WatchEvent:
        """Block until an event of ``kind`` satisfies ``pred`` (others of that kind may come first)."""
        done: Callable[[], bool] = lambda: any(pred(e) for e in self.of(kind)) or self.error is not None  # noqa: E731
        with self._cond:
            self._cond.wait_for(done, timeout)
        if self.error is not None:
            raise self.error
        found = [e for e in self.of(kind) if pred(e)]
        assert found, f"no matching {kind!r} within {timeout}s: {[e.line() for e in self.events]}"
        return found[0]

    def __enter__(self) -> Running:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the watcher did not stop"
