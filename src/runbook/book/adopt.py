"""Notebook 09's steps: a deployment the runbook did not build, assessed, moved to the strict profile, proven.

Under the sandbox target the notebook adopts a deployment made the way a common guide makes it
(:func:`runbook.pki.write_guide_pki`: a CA without keyUsage) served by a primary and a replica linked
over TLS, started here on the host's ``redis-server`` (like the labs, whatever the backend). Under the
external target it adopts the operator's deployment, with the operator's files, and starts nothing.
The assessment is :func:`runbook.adopt.assess`; the migration is :func:`runbook.adopt.migrate`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from runbook import adopt, pki, sandbox
from runbook.book.summaries import Summary
from runbook.checks.links import admin_info, link_check
from runbook.client import Endpoint, TlsClientFiles, redis_client, target_endpoint
from runbook.client.probe import ping
from runbook.display import Table
from runbook.errors import RunbookError
from runbook.loadgen import LoadGen, LoadStats
from runbook.results import CheckResult

MARKER_KEY = "runbook:adopt:marker"  # written before the migration, read after; it expires by itself
MARKER_TTL = 3600
SITE_FILE = "site.json"
MIGRATE_CHOICES = ("sandbox", "yes", "no")


def guide_lines() -> str:
    """The common guide's ``openssl`` lines the sandbox's deployment is made with (shown in the notebook)."""
    return "\n".join(pki.guide_lines())


def adopt_dir(work: Path) -> Path:
    return work / "adopt"


@dataclass
class Adoption:
    """One adoption in progress: where the deployment is, with which files, and what each step found."""

    work: Path
    endpoints: list[Endpoint]
    ca_key: str  # the CA's private key (signing); "" when only the plan can be shown
    external: bool
    migrate_now: bool
    nodes: list[sandbox.Node] = field(default_factory=list)  # the sandbox's guide deployment
    marker: str = ""  # the value written before the migration ("" when nothing was written)
    before: adopt.Assessment | None = None
    migration: adopt.Migration | None = None
    load: LoadStats | None = None
    proof: list[CheckResult] = field(default_factory=list)

    @property
    def files(self) -> TlsClientFiles:
        return self.endpoints[0].files

    # ------------------------------------------------------------------ steps

    def describe(self) -> str:
        """Which nodes, with which files, and whether the migration will run (no key material)."""
        nodes = ", ".join(f"{e.name} {e.address}" if e.name else e.address for e in self.endpoints)
        f = self.files
        how = "runs (under load)" if self.migrate_now else "plan only"
        key = f"CA key {Path(self.ca_key).name}" if self.ca_key else "no CA key"
        return (
            f"adopting {len(self.endpoints)} node(s): {nodes}\n"
            f"clients trust {Path(f.ca).name}, present {Path(f.cert or '-').name}; {key}; migration {how}"
        )

    def assess(self) -> Table:
        """What every kind of client sees at every node, before the migration (read-only)."""
        self.before = adopt.assess(self.endpoints)
        views: Table = self.before.tables()[0]
        return views

    def findings(self) -> Table:
        """The assessment's findings, each with its cause id and exact fix."""
        if self.before is None:
            raise RunbookError("assess first: the findings come from the assessment")
        rows = [[f.id, f.node, f.detail, self._shown(f.fix)] for f in self.before.findings]
        return Table(
            ["finding", "node", "detail", "fix"], rows or [["none", "", "nothing to fix", ""]], "findings"
        )

    def plan(self) -> list[str]:
        """The migration's plan (a dry run: nothing written), or why there is none."""
        if not self.ca_key:
            return ["no plan: give ca_key_file (the CA's private key) to plan the migration"]
        return [
            self._shown(line) for line in adopt.migrate(self.endpoints, self.ca_key, dry_run=True).lines()
        ]

    def migrate(self) -> list[str]:
        """Migrate to the strict profile while a pooled and a reconnecting client count every command.

        Writes files, reloads servers (:func:`runbook.adopt.migrate`); the load's keys expire by
        themselves. Returns the migration's lines and the load's."""
        if not self.migrate_now:
            return ["skip: plan only (migrate='yes' and ca_key_file migrate an external deployment)"]
        primary = self._primary()
        if primary is None:  # no node takes writes: migrate without the counting load
            self.migration = adopt.migrate(self.endpoints, self.ca_key)
            return [
                *(self._shown(line) for line in self.migration.lines()),
                "no primary among the nodes: no load",
            ]
        load = LoadGen(primary, pooled=2, reconnecting=1, batch=20, max_seconds=300, mode="compatible")
        with load:
            self.migration = adopt.migrate(self.endpoints, self.ca_key)
            self.load = load.stop()
        return [
            *(self._shown(line) for line in self.migration.lines()),
            f"load during the migration: {self.load.commands} commands ({self.load.failed_commands} failed), "
            f"new connections: {self.load.failed_reconnects} refused",
        ]

    def write_marker(self) -> str:
        """Write one key with a TTL on the primary (never on a replica) to prove no data is lost.

        Only when the migration runs; returns the line to show."""
        if not self.migrate_now:
            return "nothing written: the migration does not run (plan only)"
        primary = self._primary()
        if primary is None:
            return "nothing written: every node is a replica"
        self.marker = f"written before adoption at {primary.address}"
        client = self._client(primary)
        try:
            client.set(MARKER_KEY, self.marker, ex=MARKER_TTL)
        finally:
            client.close()
        return f"{MARKER_KEY} written on {primary.address}, expires in {MARKER_TTL} s"

    def prove(self) -> list[CheckResult]:
        """After the migration: status, a clean assessment, a strict client on every node, links, data, load."""
        m = self.migration
        if m is None:
            self.proof = [CheckResult("migration", "skip", "plan only: nothing migrated, nothing to prove")]
            return self.proof
        after = m.after or adopt.assess(self.endpoints)
        checks = [
            CheckResult(
                "migrated", "pass" if m.status in ("migrated", "nothing-to-do") else "fail", m.status
            ),
            CheckResult(
                "assessment-clean",
                "pass" if after.ok else "fail",
                "every client view passes" if after.ok else ", ".join(sorted(after.finding_ids)),
            ),
        ]
        for e in self.endpoints:
            got = ping(e, mode="strict")
            ok = got.ok and got.value == b"PONG"
            detail = "Python 3.13's default checks verify chain and name" if ok else got.error or "no PONG"
            checks.append(CheckResult(f"strict-client {e.address}", "pass" if ok else "fail", detail))
        links = [v for v in after.views if v.client == "replica"]
        checks.append(
            CheckResult(
                "links", "pass" if all(v.ok for v in links) else "fail", "; ".join(v.detail for v in links)
            )
        )
        if self.marker:
            read = self._read_marker()
            checks.append(
                CheckResult(
                    "data-kept", "pass" if read == self.marker else "fail", f"{MARKER_KEY} = {read!r}"
                )
            )
        if self.load is not None:
            s = self.load
            checks.append(
                CheckResult(
                    "zero-failed-commands",
                    "pass" if s.ok else "fail",
                    f"{s.commands} commands, {s.failed_commands} failed, {s.failed_reconnects} refused connections",
                )
            )
        self.proof = checks
        return checks

    def verify(self) -> str:
        """Raise AssertionError naming every failed proof (the migration is then rolled back or partial)."""
        failed = [f"{c.id}: {c.detail}" for c in self.proof if c.status == "fail"]
        assert not failed, (
            "the adoption is not proven: " + "; ".join(failed) + " (read the migration's lines)"
        )
        return (
            "proven: " + ", ".join(c.id for c in self.proof if c.status == "pass")
            if self.proof
            else "nothing to prove"
        )

    def finish(self) -> str:
        """Stop the sandbox's guide deployment (external: nothing to stop)."""
        if self.external:
            return "external deployment: nothing started, nothing stopped"
        stop_site(self.work)
        return f"{len(self.nodes)} sandbox servers stopped"

    def summary(self) -> Summary:
        """The verdict table and the record for ``<work>/summaries/09_adopt.json`` (no secrets)."""
        verdict = [
            CheckResult(
                "assessed",
                "pass" if self.before is not None else "fail",
                f"{len(self.endpoints)} node(s), {len(self.before.findings) if self.before else 0} finding(s)",
            )
        ]
        if self.migrate_now:
            verdict += self.proof or [CheckResult("proof", "fail", "the proof step did not run")]
        else:
            verdict.append(CheckResult("migration", "skip", "plan only: set migrate='yes' and ca_key_file"))
        after = self.migration.after if self.migration else None
        evidence = {
            "adoption": {
                "nodes": [e.address for e in self.endpoints],
                "findings_before": sorted(self.before.finding_ids) if self.before else [],
                "findings_after": sorted(after.finding_ids) if after else [],
                "status": self.migration.status if self.migration else "not-run",
                "load": self.load.summary() if self.load else {},
            }
        }
        return Summary("09_adopt", verdict, evidence, {"target": "external" if self.external else "sandbox"})

    # ------------------------------------------------------------------ helpers

    def _primary(self) -> Endpoint | None:
        """The first node that answers ``role:master`` (writes go there, never to a replica)."""
        for e in self.endpoints:
            (info,) = admin_info(e, "replication")
            if info.get("role") == "master":
                return e
        return None

    def _shown(self, text: str) -> str:
        """``text`` with the work dir written ``<work dir>`` (the sandbox's files live there)."""
        return text.replace(f"{self.work}/", "<work dir>/")

    def _client(self, e: Endpoint) -> redis.Redis:
        return redis_client(e.host, e.port, e.files, server_hostname=e.hostname, mode="compatible")

    def _read_marker(self) -> str:
        client = self._client(self._primary() or self.endpoints[0])
        try:
            value = client.get(MARKER_KEY)
        except (redis.RedisError, OSError) as exc:
            raise RunbookError(f"cannot read {MARKER_KEY} after the migration: {exc}") from None
        finally:
            client.close()
        return str(value or "")


# --------------------------------------------------------------------------- preparing


def prepare(
    work: Path,
    target: str = "sandbox",
    redis_host: str = "",
    redis_port: int = 0,
    nodes: str | Sequence[str] = "",
    server_name: str = "",
    ca_file: str = "",
    client_cert: str = "",
    client_key: str = "",
    ca_key_file: str = "",
    migrate: str = "sandbox",
) -> Adoption:
    """The deployment to adopt, from the notebook's parameters.

    Sandbox: (re)make the guide's PKI under ``<work>/adopt/pki`` and start a primary and a replica
    serving it (the previous run's servers are stopped first). Starts processes. External: the
    endpoints from the parameters (``nodes`` as ``HOST:PORT``), nothing started. ``migrate``: ``yes``,
    ``no`` (plan only) or ``sandbox`` (yes on the sandbox, plan only on an external deployment).
    """
    if migrate not in MIGRATE_CHOICES:
        raise RunbookError(f"migrate={migrate!r}: one of {', '.join(MIGRATE_CHOICES)}")
    first = target_endpoint(target, redis_host, redis_port, server_name, ca_file, client_cert, client_key)
    if first is not None:
        specs = [n.strip() for n in nodes.split(",")] if isinstance(nodes, str) else list(nodes)
        endpoints = [first, *(_node(first, spec) for spec in specs if spec)]
        if migrate == "yes" and not ca_key_file:
            raise RunbookError("migrate='yes' needs ca_key_file: the CA's private key signs the re-signed CA")
        return Adoption(work, endpoints, ca_key_file, True, migrate == "yes")
    stop_site(work)
    root = adopt_dir(work)
    shutil.rmtree(root, ignore_errors=True)  # the sandbox's own previous guide deployment
    guide = pki.write_guide_pki(root / "pki")
    started = _start_guide_pair(root, guide)
    files = TlsClientFiles(str(guide.ca_cert), str(guide.client_cert), str(guide.client_key))
    endpoints = [Endpoint("127.0.0.1", n.port, "localhost", files, name=n.name) for n in started]
    _wait_linked(endpoints[1])
    return Adoption(work, endpoints, str(guide.ca_key), False, migrate != "no", nodes=started)


def _node(first: Endpoint, spec: str) -> Endpoint:
    host, sep, port = spec.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        raise RunbookError(f"node {spec!r} is not HOST:PORT (e.g. 10.0.0.6:6380 or [::1]:6380)")
    return Endpoint(host, int(port), first.server_name, first.files, external=True)


def _start_guide_pair(root: Path, guide: pki.GuidePki) -> list[sandbox.Node]:
    """A primary and a replica serving the guide's files, linked over TLS; recorded for :func:`stop_site`."""
    started: list[sandbox.Node] = []
    try:
        for name in ("primary", "replica"):
            node_dir = root / name
            port = sandbox.free_port()
            directives = sandbox.served_conf(
                node_dir,
                port,
                guide.server_cert,
                guide.server_key,
                guide.ca_cert,
                tls_replication="yes",
                repl_diskless_sync_delay="0",  # the default 5 s would delay the first sync
            )
            if started:
                directives["replicaof"] = f"127.0.0.1 {started[0].port}"
            node_dir.mkdir(parents=True, exist_ok=True)
            node = sandbox.start_node(name, name, node_dir, directives, pki.PkiPaths(guide.root), wait=False)
            started.append(node)
            _record(root, started)
            sandbox.wait_listening(node)
    except BaseException:
        for node in started:
            sandbox.stop_node(node)
        raise
    return started


def _wait_linked(replica: Endpoint, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        check = link_check(replica)
        if check.ok or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if not check.ok:
        raise RunbookError(f"the guide deployment's replica did not link: {check.detail}")


def _record(root: Path, nodes: Sequence[sandbox.Node]) -> None:
    (root / SITE_FILE).write_text(json.dumps([n.__dict__ for n in nodes], indent=1) + "\n")


def stop_site(work: Path) -> list[int]:
    """Stop the sandbox guide deployment a previous run of notebook 09 left (idempotent); the pids stopped."""
    path = adopt_dir(work) / SITE_FILE
    if not path.exists():
        return []
    nodes = [sandbox.Node(**n) for n in json.loads(path.read_text())]
    for node in nodes:
        sandbox.stop_node(node)
    path.unlink()
    return [n.pid for n in nodes]
