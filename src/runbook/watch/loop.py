"""The watch loop: renewed files -> settled -> consistent -> one reload -> verified (or rolled back).

Per node, on every pass (an inotify event, or every ``interval`` seconds):

1. read the node's files by content (:mod:`runbook.watch.fileset`); missing files are reported
   and nothing is reloaded (the server keeps serving what it loaded);
2. a set that differs from what the node serves must stay unchanged for ``settle`` seconds (a
   writer that replaces the certificate first and the key a moment later is not caught halfway);
3. the settled set is checked (:mod:`runbook.watch.consistency`); a bad set is never loaded: the
   failure is reported once (one line with the fix) and the set is not retried until it changes;
4. the files are re-read right before the reload (a set that moved again is settled again), then
   :func:`runbook.watch.reload.apply` reloads with ONE ``CONFIG SET``, verifies the new serial and
   the links, or rolls back to the last good copy; a reload failure holds the rest of the node's
   group until that node's files change.

Nodes go one at a time in :func:`runbook.watch.target.order` (replicas first, primaries last).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from runbook import pki, rotation
from runbook.errors import RunbookError
from runbook.results import CheckResult
from runbook.watch import consistency, fileset, metrics, reload
from runbook.watch.observer import Waker
from runbook.watch.report import NodeStatus, WatchEvent, WatchReport
from runbook.watch.state import StateDir, default_dir
from runbook.watch.target import NodeFiles, NodeUnavailable, WatchTarget, discover, order

Key = tuple[tuple[str, str], ...]
EventSink = Callable[[WatchEvent], None]


@dataclass
class _Node:
    target: WatchTarget
    status: NodeStatus
    files: NodeFiles | None = None
    applied: Key | None = None  # the set the server reads from the paths it reports (None: unknown)
    seen: Key | None = None
    seen_at: float = 0.0
    changed_at: float = 0.0
    failed: Key | None = None
    reported: object = None
    served_at: float = 0.0
    served: x509.Certificate | None = field(default=None, repr=False)


class Watcher:
    """The state of one watch run over ``targets`` (use :func:`watch` / :func:`watch_once`)."""

    def __init__(
        self,
        targets: Sequence[WatchTarget],
        *,
        interval: float = 5.0,
        settle: float = 2.0,
        state_dir: Path | str | None = None,
        prometheus: Path | str | None = None,
        poll: bool = False,
        on_event: EventSink | None = None,
        before_reload: reload.Hook | None = None,
        keep_going: bool = False,
    ) -> None:
        if not targets:
            raise RunbookError("no node to watch: pass --host and --port")
        if interval <= 0 or settle < 0:
            raise RunbookError(
                "--interval must be > 0 and --settle >= 0 seconds, e.g. --interval 5 --settle 2"
            )
        if prometheus is not None and not Path(prometheus).parent.is_dir():
            raise RunbookError(
                f"directory {Path(prometheus).parent} does not exist: create it or give another --prometheus"
            )
        self.interval, self.settle = interval, settle
        self.state = StateDir(state_dir or default_dir())
        self.prometheus = prometheus
        self.on_event = on_event
        self.before_reload = before_reload
        self.keep_going = keep_going
        self.nodes = [_Node(t, NodeStatus(t.endpoint.label, t.group, t.endpoint.address)) for t in targets]
        self.report = WatchReport(nodes=[n.status for n in self.nodes])
        self.waker = Waker(poll)
        self.report.backend = self.waker.backend

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        """Discover every node and take stock of what it serves. Connects; raises RunbookError
        (with ``keep_going``: a node that cannot be watched gets its status and is retried)."""
        for n in self.nodes:
            try:
                self._init(n)
            except RunbookError as exc:
                if not self.keep_going:
                    raise
                self._unavailable(n, exc)
        if self.waker.reason and self.waker.backend == "poll":
            self._emit(
                self.nodes[0], "watching", "pass", f"polling every {self.interval:g} s ({self.waker.reason})"
            )
        self._ordered()
        self.write_metrics()

    def _init(self, n: _Node) -> None:
        t = n.target
        files = discover(t)
        from_origin = any(self.state.contains(files.local(r)) for r in files.roles)
        if from_origin:  # a rollback pointed the server at our copies: keep watching the operator's files
            files = discover(t, self.state.load_origin(t))
        else:
            self.state.save_origin(t, files.reported)
        n.files = files
        n.status.role = files.node.role if files.node.mode != "cluster" else f"cluster-{files.node.role}"
        served = self._refresh_served(n)
        snap = fileset.read(files)
        good = self.state.load_good(t)
        cert, key = consistency.leaf_of(snap), consistency.parse_key(snap.data.get("key", b""))
        if snap.complete and reload.same_cert(cert, served) and cert and key and pki.key_matches(cert, key):
            self.state.save_good(t, snap)
            n.applied = None if from_origin else snap.key
        elif good is not None and reload.same_cert(consistency.leaf_of(good), served):
            n.applied = None if from_origin else good.key
        paths = ", ".join(str(files.local(r)) for r in files.roles)
        self._emit(
            n, "watching", "pass", f"serving serial {n.status.served_serial}; {self.waker.backend} on {paths}"
        )

    def _refresh_served(self, n: _Node) -> x509.Certificate:
        served = reload.served(n.target)
        n.served, n.served_at = served, time.monotonic()
        n.status.served_serial = rotation.serial_of(served)
        n.status.not_after = served.not_valid_after_utc.timestamp()
        n.status.chain_not_after = _chain_not_after(n.files, served)
        return served

    def _ordered(self) -> None:
        idx = order([(n.target, n.files) for n in self.nodes])
        self.nodes = [self.nodes[i] for i in idx]

    # ------------------------------------------------------------------ one pass

    def tick(self) -> bool:
        """Look at every node once and reload what is ready. True while a set is settling."""
        self.report.passes += 1
        settling, ready = False, []
        for n in self.nodes:
            snap = self._look(n)
            if snap is None:
                continue
            if snap.key != n.seen:
                n.seen, n.seen_at = snap.key, time.monotonic()
                if n.status.state != "settling":
                    n.changed_at = n.seen_at
                n.status.state, settling = "settling", True
            elif time.monotonic() - n.seen_at < self.settle:
                settling = True
            else:
                ready.append((n, snap))
        for n, snap in ready:
            blocker = self._blocker(n)
            if blocker is not None:
                self._once(n, ("held", blocker.failed), "held", "warn",
                           f"not reloaded: {blocker.target.endpoint.label} of group {n.target.group} failed with these files",
                           "fix the files of that node first")  # fmt: skip
                continue
            self._handle(n, snap)
        dirs = {d for n in self.nodes if n.files is not None for d in fileset.watch_dirs(n.files)}
        self.waker.watch(dirs)
        self.write_metrics()
        return settling

    def _look(self, n: _Node) -> fileset.Snapshot | None:
        """The node's current files when they differ from what it serves and are not a known failure."""
        try:
            if n.files is None:
                self._init(n)
                self._ordered()
            elif time.monotonic() - n.served_at >= self.interval:
                self._refresh_served(n)
        except RunbookError as exc:
            self._unavailable(n, exc)
            return None
        assert n.files is not None
        snap = fileset.read(n.files)
        if not snap.complete:
            n.status.state, n.seen = "missing", None
            detail = (
                "; ".join(snap.missing.values())
                + f"; no reload, serial {n.status.served_serial} still served"
            )
            self._once(
                n, ("missing", *snap.missing), "missing", "fail", detail, "restore the files (or the secret)"
            )
            return None
        if snap.key == n.applied:
            if n.status.state in ("missing", "refused", "settling"):
                self._emit(n, "restored", "pass", "the files match what the node serves again")
            n.status.state, n.seen, n.reported = "ok", None, None
            n.status.detail = n.status.fix = ""
            return None
        if snap.key == n.failed:
            return None
        return snap

    def _unavailable(self, n: _Node, exc: RunbookError) -> None:
        """The node cannot be watched now (down, client files unreadable, CONFIG hidden): its status
        says why, once; it is looked at again every interval."""
        state = exc.state if isinstance(exc, NodeUnavailable) else "unreachable"
        n.files, n.status.state, n.status.detail = None, state, str(exc)
        n.status.fix = "the watcher retries every interval"
        self._once(n, (state, str(exc)), state, "fail", str(exc), n.status.fix)

    def _blocker(self, n: _Node) -> _Node | None:
        for m in self.nodes:
            if (
                (
                    m is not n
                    and m.target.group == n.target.group
                    and m.status.state in ("rolled-back", "failed")
                )
                and m.failed is not None
                and m.seen == m.failed
            ):
                return m
        return None

    def _handle(self, n: _Node, snap: fileset.Snapshot) -> None:
        t, files = n.target, n.files
        assert files is not None
        try:
            served = self._refresh_served(n)
        except RunbookError as exc:
            self._unavailable(n, exc)
            return
        try:
            identity = pki.load_certs(Path(t.endpoint.files.cert)) if t.endpoint.files.cert else []
            checks = consistency.check(
                snap,
                served=served,
                client_trust=rotation.ClientTrust(
                    pki.load_certs(Path(t.endpoint.files.ca)), t.endpoint.files.ca
                ),
                name=t.endpoint.hostname,
                needs_client_auth=files.node.role == "slave" or files.node.mode == "cluster",
                client_cert=identity[0] if identity else None,
                client_intermediates=identity[1:],
                client_key=_identity_key(t.endpoint.files.key),
                ca_path=str(files.local("ca")) if "ca" in files.roles else "",
            )
        except RunbookError as exc:  # the clients' CA or the watcher's certificate became unreadable
            checks = [
                CheckResult("client-files", "fail", str(exc), "restore the files given with --ca/--cert")
            ]
        bad = next((c for c in checks if c.status == "fail"), None)
        if bad is not None:
            n.failed, n.status.state = snap.key, "refused"
            n.status.detail, n.status.fix = f"{bad.id}: {bad.detail}", bad.fix
            self._emit(n, "refused", "fail", f"{bad.id}: {bad.detail}; not loaded, serial "
                       f"{n.status.served_serial} still served", bad.fix)  # fmt: skip
            return
        if fileset.read(files).key != snap.key:  # moved again since it settled: settle again
            n.seen = None
            return
        for warning in (c for c in checks if c.status == "warn"):  # accepted, but never silently
            n.status.warnings += 1
            self._emit(n, "warning", "warn", f"{warning.id}: {warning.detail}; reloading it", warning.fix)
        good = self.state.load_good(t)
        replicas = [
            m.target for m in self.nodes
            if m is not n and m.files is not None and m.files.node.role == "slave"
            and m.files.node.master_port == t.endpoint.port
        ]  # fmt: skip
        outcome = reload.apply(
            t,
            files,
            consistency.leaf_of(snap) or served,
            rollback_to=self.state.good_settings(t, files.roles) if good is not None else None,
            previous=consistency.leaf_of(good) if good is not None else None,
            replicas=replicas,
            before_reload=self.before_reload,
        )
        self._record(n, snap, served, outcome)

    def _record(
        self, n: _Node, snap: fileset.Snapshot, old: x509.Certificate, outcome: reload.Outcome
    ) -> None:
        s = n.status
        s.last_reload, s.last_result = time.time(), outcome.result
        s.reloads[outcome.result] = s.reloads.get(outcome.result, 0) + 1
        if outcome.served is not None:
            s.served_serial = rotation.serial_of(outcome.served)
            s.not_after = outcome.served.not_valid_after_utc.timestamp()
            s.chain_not_after = _chain_not_after(n.files, outcome.served)
        old_serial = rotation.serial_of(old)
        took = time.monotonic() - n.changed_at
        if outcome.result == "reloaded":
            n.applied, n.failed, n.seen, n.reported = snap.key, None, None, None
            self.state.save_good(n.target, snap)
            s.state, s.detail, s.fix = "ok", "", ""
            self._emit(n, "reloaded", "pass", f"serial {old_serial} -> {s.served_serial}, verified "
                       f"{took:.2f} s after the change was seen", old_serial=old_serial,
                       new_serial=s.served_serial, seconds=took)  # fmt: skip
            return
        bad = outcome.failure
        n.failed, s.state = snap.key, outcome.result
        n.applied = None  # the server now reads the state-dir copy (or nothing changed): re-point when fixed
        why = f"{bad.id}: {bad.detail}" if bad else "verification failed"
        tail = (
            f"rolled back, serial {s.served_serial} served"
            if outcome.result == "rolled-back"
            else "NOT rolled back"
        )
        s.detail, s.fix = why, bad.fix if bad else ""
        self._emit(n, outcome.result, "fail", f"{why}; {tail}", s.fix, old_serial=old_serial, seconds=took)

    # ------------------------------------------------------------------ events and output

    def _emit(
        self, n: _Node, kind: str, status: str, detail: str, fix: str = "", *,
        old_serial: str = "", new_serial: str = "", seconds: float | None = None,
    ) -> None:  # fmt: skip
        event = WatchEvent(time.time(), n.target.endpoint.label, kind, status, detail, fix, old_serial, new_serial,
                           None if seconds is None else round(seconds, 3))  # fmt: skip
        self.report.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _once(self, n: _Node, key: object, kind: str, status: str, detail: str, fix: str) -> None:
        """Report a lasting condition once (not on every pass)."""
        if n.reported != key:
            n.reported = key
            self._emit(n, kind, status, detail, fix)

    def write_metrics(self) -> None:
        if self.prometheus is not None:
            metrics.write(self.report, self.prometheus)

    def close(self) -> None:
        self.waker.close()

    # ------------------------------------------------------------------ runs

    def run(self, stop: threading.Event) -> WatchReport:
        """Pass after pass until ``stop`` is set."""
        while not stop.is_set():
            settling = self.tick()
            wait = min(self.interval, max(0.05, self.settle / 4)) if settling else self.interval
            self.waker.wait(wait, stop)
        self.write_metrics()
        return self.report

    def run_once(self, limit: float = 60.0) -> WatchReport:
        """Passes until no set is settling (bounded by ``limit`` seconds): one cron run."""
        deadline = time.monotonic() + max(limit, self.settle * 5)
        while self.tick() and time.monotonic() < deadline:
            time.sleep(min(self.interval, max(0.05, self.settle / 4)))
        for n in self.nodes:
            if n.status.state == "settling":
                n.status.state = "refused"
                self._emit(
                    n,
                    "refused",
                    "fail",
                    "the files kept changing: not reloaded",
                    "run again when the writer is done",
                )
        self.write_metrics()
        return self.report


def watch(
    targets: Sequence[WatchTarget],
    *,
    interval: float = 5.0,
    settle: float = 2.0,
    state_dir: Path | str | None = None,
    prometheus: Path | str | None = None,
    once: bool = False,
    poll: bool = False,
    stop_event: threading.Event | None = None,
    on_event: EventSink | None = None,
    before_reload: reload.Hook | None = None,
    keep_going: bool = False,
) -> WatchReport:
    """Watch ``targets`` until ``stop_event`` is set (or one pass with ``once``). Reloads servers,
    writes the state dir and the Prometheus textfile. Raises RunbookError when a node cannot be
    discovered at the start, unless ``keep_going`` (a fleet): that node's status then says why
    (``unreachable``, ``unreadable``, ``external``) and the others are watched.
    ``before_reload`` is a drill hook run between the check and the reload."""
    watcher = Watcher(
        targets, interval=interval, settle=settle, state_dir=state_dir, prometheus=prometheus,
        poll=poll, on_event=on_event, before_reload=before_reload, keep_going=keep_going,
    )  # fmt: skip
    try:
        watcher.start()
        if once:
            return watcher.run_once()
        return watcher.run(stop_event or threading.Event())
    finally:
        watcher.close()


def watch_once(targets: Sequence[WatchTarget], **kwargs: object) -> WatchReport:
    """One pass (for cron): reload every node whose files on disk differ from what it serves."""
    return watch(targets, once=True, **kwargs)  # type: ignore[arg-type]


def _chain_not_after(files: NodeFiles | None, served: x509.Certificate) -> float:
    """The earliest notAfter of ``served`` and the intermediates its file serves with it (reads the
    node's certificate file; the served certificate alone when that file holds another one)."""
    chain = [served]
    if files is not None and "cert" in files.roles:
        with contextlib.suppress(OSError):
            certs = consistency.parse_certs(files.local("cert").read_bytes())
            if certs and reload.same_cert(certs[0], served):
                chain = certs
    return pki.chain_not_after(chain).timestamp()


def _identity_key(path: str | None) -> pki.PrivateKey | None:
    """The watcher's own key (unencrypted PEM), None when it cannot be read."""
    try:
        return consistency.parse_key(Path(path).read_bytes()) if path else None
    except OSError:
        return None
