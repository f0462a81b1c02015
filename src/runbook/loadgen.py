"""A bounded load generator on loopback: proof that a rotation drops nothing.

Two kinds of clients run in threads against one TLS endpoint:

* **pooled** clients keep one long-lived connection each (a redis-py pool, as applications
  do) and send pipelined ``INCR`` batches, so the connections opened before a reload must
  survive it;
* **reconnecting** clients open a fresh mutual-TLS connection for every command, so every
  command is also a new handshake against whatever certificate the server presents right now.

Everything is bounded: by a command count and by wall time, whichever comes first. Counts are
commands (each pipelined command counts once), failed commands, reconnects, failed reconnects,
the worst round-trip latency, and the serials the reconnecting clients saw. Each worker
``INCR``s its own key (created with a TTL: :data:`KEY_TTL`), so :meth:`LoadGen.server_total` can prove the server really executed
every command counted as done. Starts threads and network connections; writes ``INCR`` keys.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
from cryptography import x509

from runbook.client import Endpoint, Mode, redis_pool, tls_context, wire

KEY_TTL = 3600  # seconds: the INCR keys expire by themselves on the server


@dataclass
class LoadStats:
    """Counters of a load run (or of a window of it, see :meth:`LoadGen.window`)."""

    commands: int = 0
    failed_commands: int = 0
    reconnects: int = 0
    failed_reconnects: int = 0
    worst_latency_ms: float = 0.0
    seconds: float = 0.0
    serials: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed_commands == 0 and self.failed_reconnects == 0 and self.commands > 0

    @property
    def rate(self) -> float:
        return self.commands / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready counters (no serial list, no error text)."""
        return {
            "commands": self.commands,
            "failed_commands": self.failed_commands,
            "reconnects": self.reconnects,
            "failed_reconnects": self.failed_reconnects,
            "worst_latency_ms": round(self.worst_latency_ms, 2),
            "seconds": round(self.seconds, 2),
        }


@dataclass
class _Counters:
    commands: int = 0
    failed_commands: int = 0
    reconnects: int = 0
    failed_reconnects: int = 0
    serials: dict[str, int] = field(default_factory=dict)  # serial -> first reconnect index seen


class LoadGen:
    """Threads of pooled and reconnecting TLS clients against one :class:`~runbook.client.Endpoint`
    (its ``files`` are the client's, its ``hostname`` the name every connection verifies).
    ``mode``: how the clients verify (``strict``: Python 3.13's default context, what we issue;
    ``compatible``: what applications on OpenSSL's defaults accept, as a deployment's clients do
    before ``adopt --migrate``).

    Use as ``with LoadGen(...) as load: ...``; :meth:`mark` snapshots the counters so a window
    (e.g. the rotation) can be measured on its own; :meth:`stop` returns the totals.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        pooled: int = 2,
        reconnecting: int = 2,
        batch: int = 50,
        max_commands: int = 1_000_000,
        max_seconds: float = 30.0,
        socket_timeout: float = 5.0,
        mode: Mode = "strict",
    ) -> None:
        self.endpoint = endpoint
        self.mode: Mode = mode
        self.pooled, self.reconnecting, self.batch = pooled, reconnecting, max(1, batch)
        self.max_commands, self.max_seconds = max_commands, max_seconds
        self.socket_timeout = socket_timeout
        self.prefix = f"runbook:loadgen:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._c = _Counters()
        self._worst = 0.0
        self._worst_since_mark = 0.0
        self._errors: list[str] = []
        self._threads: list[threading.Thread] = []
        self._keys: list[str] = []
        self._t0 = 0.0
        self._t_end = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LoadGen:
        """Start the worker threads (they stop at the first bound reached or at :meth:`stop`)."""
        self._t0 = time.monotonic()
        keys = [f"{self.prefix}:pooled:{i}" for i in range(self.pooled)]
        keys += [f"{self.prefix}:reconnect:{i}" for i in range(self.reconnecting)]
        self._expiring(keys)
        for key in keys:
            self._spawn(self._pooled_worker if ":pooled:" in key else self._reconnect_worker, key)
        return self

    def _expiring(self, keys: list[str]) -> None:
        """Create the workers' keys at 0 with a TTL (``INCR`` keeps it), so nothing outlives the run on a
        user's Redis even when :meth:`server_total` never runs. A server that cannot be reached now is
        left to the workers, which count the failures."""
        pool = self._pool(socket_timeout=self.socket_timeout)
        client = redis.Redis(connection_pool=pool)
        try:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.set(key, 0, ex=KEY_TTL)
            pipe.execute()
        except (redis.RedisError, OSError):
            pass
        finally:
            pool.disconnect()

    def _spawn(self, target: Any, key: str) -> None:
        self._keys.append(key)
        t = threading.Thread(target=target, args=(key,), name=key, daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self) -> LoadStats:
        """Stop every worker, wait for them and return the totals."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.socket_timeout + 5)
        if not self._t_end:
            self._t_end = time.monotonic()
        return self.totals()

    def __enter__(self) -> LoadGen:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait(self, timeout: float | None = None) -> LoadStats:
        """Block until a bound is reached (or ``timeout``), then stop and return the totals."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.05)
        return self.stop()

    # ------------------------------------------------------------------ counters

    def _done(self) -> bool:
        if self._stop.is_set():
            return True
        if self._c.commands >= self.max_commands or time.monotonic() - self._t0 >= self.max_seconds:
            self._t_end = self._t_end or time.monotonic()
            self._stop.set()
            return True
        return False

    def _record(self, ok: int, failed: int, latency: float, error: str = "") -> None:
        with self._lock:
            self._c.commands += ok
            self._c.failed_commands += failed
            self._worst = max(self._worst, latency)
            self._worst_since_mark = max(self._worst_since_mark, latency)
            if error and len(self._errors) < 20:
                self._errors.append(error)

    def mark(self) -> tuple[_Counters, float]:
        """Snapshot the counters now (and reset the worst latency of the window)."""
        with self._lock:
            snap = _Counters(
                self._c.commands,
                self._c.failed_commands,
                self._c.reconnects,
                self._c.failed_reconnects,
                dict(self._c.serials),
            )
            self._worst_since_mark = 0.0
            return snap, time.monotonic()

    def window(self, since: tuple[_Counters, float]) -> LoadStats:
        """The counters accumulated since a :meth:`mark` (worst latency of that window)."""
        before, t = since
        with self._lock:
            c = self._c
            new_serials = [s for s in c.serials if s not in before.serials]
            return LoadStats(
                commands=c.commands - before.commands,
                failed_commands=c.failed_commands - before.failed_commands,
                reconnects=c.reconnects - before.reconnects,
                failed_reconnects=c.failed_reconnects - before.failed_reconnects,
                worst_latency_ms=self._worst_since_mark * 1000,
                seconds=time.monotonic() - t,
                serials=new_serials,
                errors=list(self._errors),
            )

    def totals(self) -> LoadStats:
        with self._lock:
            c = self._c
            end = self._t_end or time.monotonic()
            return LoadStats(
                commands=c.commands,
                failed_commands=c.failed_commands,
                reconnects=c.reconnects,
                failed_reconnects=c.failed_reconnects,
                worst_latency_ms=self._worst * 1000,
                seconds=end - self._t0 if self._t0 else 0.0,
                serials=list(c.serials),
                errors=list(self._errors),
            )

    def _pool(self, **kwargs: Any) -> redis.ConnectionPool:
        ep = self.endpoint
        return redis_pool(
            ep.host,
            ep.port,
            ep.files,
            server_hostname=ep.hostname,
            max_connections=1,
            mode=self.mode,
            **kwargs,
        )

    def server_total(self) -> int:
        """The sum of the workers' ``INCR`` keys as the server holds them (one fresh connection)."""
        pool = self._pool()
        client = redis.Redis(connection_pool=pool)
        try:
            values: list[Any] = list(client.mget(self._keys)) if self._keys else []  # type: ignore[arg-type, unused-ignore]  # redis-py < 8 types it loosely
            return sum(int(v) for v in values if v is not None)
        finally:
            client.delete(*self._keys) if self._keys else None
            pool.disconnect()

    # ------------------------------------------------------------------ workers

    def _pooled_worker(self, key: str) -> None:
        pool = self._pool(socket_timeout=self.socket_timeout)
        client = redis.Redis(connection_pool=pool)
        try:
            while not self._done():
                t = time.monotonic()
                try:
                    pipe = client.pipeline(transaction=False)
                    for _ in range(self.batch):
                        pipe.incr(key)
                    results = pipe.execute(raise_on_error=False)
                    bad = sum(1 for r in results if isinstance(r, Exception))
                    self._record(len(results) - bad, bad, time.monotonic() - t)
                except (redis.RedisError, OSError) as exc:
                    self._record(0, self.batch, time.monotonic() - t, f"pooled: {exc}")
        finally:
            pool.disconnect()

    def _reconnect_worker(self, key: str) -> None:
        while not self._done():
            t = time.monotonic()
            sock = self._fresh_connection(t)
            if sock is None:
                continue
            try:
                reply = wire.command(sock, "INCR", key)
                if not isinstance(reply, int):
                    raise OSError(f"unexpected reply {wire.text(reply)[:80]!r}")
                self._record(1, 0, time.monotonic() - t)
            except (OSError, wire.ProtocolError) as exc:
                self._record(0, 1, time.monotonic() - t, f"command after reconnect: {exc}")
            finally:
                sock.close()

    def _fresh_connection(self, t: float) -> ssl.SSLSocket | None:
        """A new mutual-TLS connection (counted as a reconnect, its serial noted); None if it failed."""
        try:
            # a fresh context per connection: the files are re-read, as a new process would
            ctx = tls_context(self.endpoint.files, mode=self.mode)
            raw = socket.create_connection(
                (self.endpoint.host, self.endpoint.port), timeout=self.socket_timeout
            )
            sock = ctx.wrap_socket(raw, server_hostname=self.endpoint.hostname)
        except (OSError, ValueError) as exc:
            with self._lock:
                self._c.reconnects += 1
                self._c.failed_reconnects += 1
            self._record(0, 1, time.monotonic() - t, f"reconnect: {' '.join(str(exc).split())}")
            return None
        der = sock.getpeercert(binary_form=True)
        serial = format(x509.load_der_x509_certificate(der).serial_number, "X") if der else ""
        with self._lock:
            self._c.reconnects += 1
            if serial and serial not in self._c.serials:
                self._c.serials[serial] = self._c.reconnects
        return sock


@contextmanager
def running(endpoint: Endpoint, **kwargs: Any) -> Iterator[LoadGen]:
    """``with running(endpoint, ...) as load:`` starts a :class:`LoadGen` and always stops it."""
    load = LoadGen(endpoint, **kwargs)
    load.start()
    try:
        yield load
    finally:
        load.stop()
