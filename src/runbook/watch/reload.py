"""Reload one node with ONE ``CONFIG SET``, verify, and roll back on failure.

* **reload**: :func:`runbook.rotation.reload_tls` naming every file the node reads (its own paths,
  link certificates included), so Redis swaps the whole TLS context at once or keeps the old one;
* **verify**: a fresh strict handshake presents exactly the certificate that was checked (serial
  and fingerprint); a replica re-links with the new certificates (``CLIENT KILL TYPE master``)
  and reaches ``master_link_status:up``; the watched replicas of a primary do too; a cluster
  node stays ``cluster_state:ok``;
* **rollback** (refused reload or failed verification): ``CONFIG SET`` pointing at the copy of
  the last good set in the state dir, then the old certificate is shown served again.

Touches the server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from runbook import rotation
from runbook.client import redis_client
from runbook.errors import RunbookError
from runbook.results import CheckResult
from runbook.rotation.targets import call
from runbook.watch.target import NodeFiles, WatchTarget

Hook = Callable[[WatchTarget], None]


@dataclass
class Outcome:
    """What one reload did: ``result`` is reloaded | rolled-back | failed."""

    result: str
    steps: list[CheckResult] = field(default_factory=list)
    served: x509.Certificate | None = None

    def add(self, step: str, ok: bool, detail: str, fix: str = "") -> bool:
        self.steps.append(CheckResult(step, "pass" if ok else "fail", detail, "" if ok else fix))
        return ok

    @property
    def failure(self) -> CheckResult | None:
        return next((s for s in self.steps if s.status == "fail"), None)


def admin(target: WatchTarget) -> redis.Redis:
    # Connects to the host; the server name is only sent (SNI) and verified, as in rotation.
    ep = target.endpoint
    return redis_client(
        ep.host,
        ep.port,
        ep.files,
        server_hostname=ep.hostname,
        socket_timeout=5.0,
        single_connection_client=True,
        mode="compatible",  # admin path: a CA strict clients refuse never blocks a reload
    )


def same_cert(a: x509.Certificate | None, b: x509.Certificate | None) -> bool:
    return (
        a is not None and b is not None and a.fingerprint(hashes.SHA256()) == b.fingerprint(hashes.SHA256())
    )


def served(target: WatchTarget) -> x509.Certificate:
    """The certificate a fresh strict mutual-TLS handshake is presented now. Connects."""
    ep = target.endpoint
    return rotation.served_certificate(ep.host, ep.port, ep.files, ep.hostname)


def apply(
    target: WatchTarget,
    files: NodeFiles,
    expect: x509.Certificate,
    *,
    rollback_to: list[tuple[str, str]] | None,
    previous: x509.Certificate | None,
    replicas: Sequence[WatchTarget] = (),
    before_reload: Hook | None = None,
) -> Outcome:
    """Reload ``target`` onto its own files and verify it presents ``expect``; roll back on failure."""
    out = Outcome("reloaded")
    try:
        client = admin(target)
    except (redis.RedisError, OSError) as exc:
        out.result = "failed"
        out.add("connect", False, f"cannot connect to reload: {_line(exc)}", "retried when the files change")
        return out
    try:
        if before_reload is not None:
            before_reload(target)  # drills and tests: something changes between the check and the reload
        settings = files.settings()
        names = " ".join(k for k, _ in settings)
        try:
            rotation.reload_tls(client, settings)
            out.add("reload", True, f"one CONFIG SET {names}")
        except redis.RedisError as exc:
            out.add("reload", False, f"CONFIG SET {names} refused: {_line(exc)}", "read the server log")
            _rollback(out, client, target, files, rollback_to, previous, replicas)
            return out
        if _verify(out, client, target, files, expect, replicas):
            return out
        _rollback(out, client, target, files, rollback_to, previous, replicas)
        return out
    finally:
        with contextlib.suppress(Exception):
            client.close()


def _verify(
    out: Outcome,
    client: redis.Redis,
    target: WatchTarget,
    files: NodeFiles,
    expect: x509.Certificate | None,
    replicas: Sequence[WatchTarget],
    prefix: str = "verify",
) -> bool:
    try:
        out.served = served(target)
    except RunbookError as exc:
        return out.add(f"{prefix}:handshake", False, str(exc), "read the server log")
    serial = rotation.serial_of(out.served)
    if expect is not None and not out.add(
        f"{prefix}:serial",
        same_cert(out.served, expect),
        f"a fresh strict handshake presents serial {serial}"
        + ("" if same_cert(out.served, expect) else f", not {rotation.serial_of(expect)}"),
        "another process changed the files or reloaded the server: retried when the files change",
    ):
        return False
    return _links(out, client, target, files, replicas, prefix)


def _links(
    out: Outcome,
    client: redis.Redis,
    target: WatchTarget,
    files: NodeFiles,
    replicas: Sequence[WatchTarget],
    prefix: str,
) -> bool:
    ok = True
    if files.node.role == "slave":
        ok = _relink(out, client, target, prefix) and ok
    for replica in replicas:
        try:
            rc = admin(replica)
        except (redis.RedisError, OSError) as exc:
            ok = out.add(
                f"{prefix}:{replica.endpoint.label}:replication", False, _line(exc), "is the replica up?"
            )
            continue
        try:
            ok = _relink(out, rc, replica, prefix) and ok
        finally:
            rc.close()
    if files.node.mode == "cluster":
        try:
            state_ok = "cluster_state:ok" in str(call(client, "CLUSTER", "INFO"))
        except (redis.RedisError, OSError):
            state_ok = False
        ok = out.add(
            f"{prefix}:cluster", state_ok, "cluster_state:ok" if state_ok else "cluster_state is not ok",
            "check tls-cluster and the bus certificates (clientAuth)",
        ) and ok  # fmt: skip
    return ok


def _relink(out: Outcome, client: redis.Redis, target: WatchTarget, prefix: str) -> bool:
    """Re-link a replica to its primary (new handshake with the new certificates) and wait for ``up``."""
    try:
        call(client, "CLIENT", "KILL", "TYPE", "master")
        up = rotation.wait_link_up(client, rotation.LINK_TIMEOUT)
    except (redis.RedisError, OSError):
        up = False
    return out.add(
        f"{prefix}:{target.endpoint.label}:replication",
        up,
        "re-linked, master_link_status:up" if up else "master_link_status is not up",
        "check tls-replication and the link certificates (clientAuth)",
    )


def _rollback(
    out: Outcome,
    client: redis.Redis,
    target: WatchTarget,
    files: NodeFiles,
    rollback_to: list[tuple[str, str]] | None,
    previous: x509.Certificate | None,
    replicas: Sequence[WatchTarget],
) -> None:
    out.result = "failed"
    if rollback_to is None:
        out.add(
            "rollback", False, "no copy of the last good files in the state dir",
            "restore the previous certificate and key by hand, then reload",
        )  # fmt: skip
        with contextlib.suppress(RunbookError):
            out.served = served(target)
        return
    try:
        rotation.reload_tls(client, rollback_to)
    except redis.RedisError as exc:
        out.add(
            "rollback:reload", False, f"CONFIG SET of the good copy refused: {_line(exc)}", "read the log"
        )
        return
    out.add("rollback:reload", True, "one CONFIG SET pointing at the last good copy (state dir)")
    if _verify(out, client, target, files, previous, replicas, prefix="rollback"):
        out.result = "rolled-back"


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
