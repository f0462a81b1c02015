"""Notebook 02's steps, for either target: the prerequisites, the TLS settings and their lint, the handshake.

Sandbox: the work dir's PKI (created idempotently, plus the clientAuth identity of replication/cluster
links), a strict TLS section rendered to ``<work>/config/redis-tls.conf`` and linted as a file.
External: the operator's files as given (``ca_file``, ``client_cert``, ``client_key``), never a runbook
PKI; the live server's TLS settings read with ``CONFIG GET`` (read-only) and linted as they are, with the
operator's files judged beside them. Nothing is written under external.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import redis

from runbook import config, pki, rotation, sandbox
from runbook.book.target import Target
from runbook.client import Endpoint, Mode, probe, redis_client, tls_context
from runbook.errors import RunbookError
from runbook.results import Finding, Severity

#: Directives that name files (the server's own, on the server's host).
FILE_DIRECTIVES = (
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-dh-params-file",
)
#: Values never shown (a key passphrase Redis may report).
SECRET_DIRECTIVES = ("tls-key-file-pass", "tls-client-key-file-pass")
LIVE = ("tls-*", "port", "bind")


@dataclass
class Prerequisites:
    """Step 1: the files the notebook needs, present or not, and what to do when one is missing."""

    rows: list[tuple[str, bool]]
    hint: str

    @property
    def ok(self) -> bool:
        return all(present for _, present in self.rows)


@dataclass
class ServerSettings:
    """Step 2: the TLS settings the notebook judges: rendered to a file (sandbox) or read live (external).

    ``directives`` are the settings as redis.conf arguments (quoted); ``path`` the rendered file (None for
    live settings); ``source`` where they come from, as the summary records it; ``text`` what to show
    (passphrases masked)."""

    directives: dict[str, str]
    source: str
    text: str
    tls_port: int
    path: Path | None = None
    migration: bool = False
    operator_files: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How tables name the settings: the rendered file's name, or where the live ones come from."""
        return self.path.name if self.path is not None else self.source


def prerequisites(target: Target) -> Prerequisites:
    """Sandbox: create the work dir's PKI when missing and the link identity for replica/cluster
    topologies (writes files, idempotent). External: the operator's files, checked; nothing written."""
    if target.kind == "external":
        files = target.endpoint().files
        given = [("ca_file", files.ca), ("client_cert", files.cert or ""), ("client_key", files.key or "")]
        rows = [(f"{name}: {path}", Path(path).is_file()) for name, path in given if path]
        return Prerequisites(rows, "pass the files the deployment uses (runbook run --ca --cert --key)")
    paths = pki.PkiPaths(target.pki_dir)
    links = target.topology in ("replica", "cluster")
    if not paths.server_cert.exists():
        pki.create_pki(paths.root)
    if links:
        config.ensure_node_client(paths.root)
    needed = ["ca.crt", "redis-server.crt", "redis-server.key", "redis-client.crt", "redis-client.key"]
    needed += ["clients/redis-node.crt", "clients/redis-node.key"] if links else []
    rows = [(f, (paths.root / f).is_file()) for f in needed]
    return Prerequisites(rows, "PKI files missing: run notebook 01 (or `runbook pki create`)")


def settings(target: Target, preset: str, *, tls_port: int = 0, auth_clients: str = "yes") -> ServerSettings:
    """Sandbox: render the ``preset`` TLS section for the work dir's PKI and write it to
    ``<work>/config/redis-tls.conf`` (writes one file). External: the live server's settings
    (``CONFIG GET tls-*``, ``port``, ``bind``; read-only), the render parameters unused."""
    if target.kind == "external":
        return live_settings(target.endpoint())
    conf = target.work / "config" / "redis-tls.conf"
    topology = target.topology
    rendered = config.settings_for_pki(
        target.pki_dir, preset, tls_port=target.deploy_port(tls_port), auth_clients=auth_clients,
        replication=topology == "replica", cluster=topology == "cluster",
    )  # fmt: skip
    config.write_conf(conf, config.render(rendered))
    text = conf.read_text().replace(str(target.work), "$WORK")
    parsed = {k: " ".join(config.quote(a) for a in v) for k, v in config.parse(conf).args.items()}
    return ServerSettings(parsed, str(conf), text, rendered.tls_port, conf, migration=preset == "migration")


def live_settings(endpoint: Endpoint, timeout: float = 5.0) -> ServerSettings:
    """The TLS settings a running server reports (``CONFIG GET``), read over one compatible admin
    connection with the endpoint's files. Read-only; a refused ``CONFIG GET`` raises one line."""
    client = redis_client(
        endpoint.host, endpoint.port, endpoint.files, server_hostname=endpoint.hostname,
        socket_timeout=timeout, mode="compatible", retry=None,
    )  # fmt: skip
    try:
        got: dict[str, str] = {}
        for pattern in LIVE:
            got.update({str(k): str(v) for k, v in client.config_get(pattern).items()})
    except redis.RedisError as exc:
        raise RunbookError(
            f"CONFIG GET on {endpoint.address} failed ({probe.one_line(exc)}): allow the client +config|get, "
            "or lint the server's redis.conf with `runbook config lint FILE`"
        ) from None
    finally:
        client.close()
    directives = {k: config.quote(v) for k, v in sorted(got.items()) if v != ""}
    shown = {k: ("<set, not shown>" if k in SECRET_DIRECTIVES else v) for k, v in directives.items()}
    text = f"# live TLS settings of {endpoint.address} (CONFIG GET tls-* port bind)\n" + config.conf_text(
        shown
    )
    files = endpoint.files
    operator = {"ca_file": files.ca, "client_cert": files.cert or "", "client_key": files.key or ""}
    port = int(got.get("tls-port") or 0)
    return ServerSettings(
        directives, f"CONFIG GET on {endpoint.address}", text, port, operator_files=operator
    )


def lint(conf: ServerSettings, warn_days: int = 30) -> list[Finding]:
    """Step 2's lint: the rendered file, or the live settings plus the operator's files. Reads the
    files named; a server file not readable here (the server runs on another host) is an ``info``
    finding, not an error: step 4 judges what the server presents."""
    if conf.path is not None:
        return config.lint(conf.path, warn_days=warn_days, migration=conf.migration)
    found = config.lint(conf.directives, warn_days=warn_days, migration=conf.migration)
    remote = {
        d: v.strip('"')
        for d, v in conf.directives.items()
        if d in FILE_DIRECTIVES and not Path(v.strip('"')).exists()
    }
    kept = [f for f in found if f.subject not in remote]
    notes = [
        Finding(
            "info",
            d,
            f"{d} {path}: on the server's host, not readable here",
            "step 4 checks what the server presents",
        )
        for d, path in remote.items()
    ]
    return kept + notes + operator_file_findings(conf.operator_files, warn_days)


def operator_file_findings(files: dict[str, str], warn_days: int = 30) -> list[Finding]:
    """The operator's CA, client certificate and key (the notebook parameters): in date (against
    their own lifetime), the client certificate issued by the CA, the key its private half and
    private (0600). Problems only; reads the files."""
    out: list[Finding] = []
    ca_file, cert_file, key_file = (
        files.get("ca_file", ""),
        files.get("client_cert", ""),
        files.get("client_key", ""),
    )
    for name, path in (("ca_file", ca_file), ("client_cert", cert_file)):
        if not path:
            continue
        for cert in pki.load_certs(Path(path)):
            judged = pki.expiry(cert, warn_days)
            if judged.status != "pass":
                severity: Severity = "error" if judged.status == "fail" else "warn"
                out.append(Finding(severity, name, f"{name} {path}: {judged.text}", "renew it (notebook 05)"))
    if cert_file and key_file:
        chain = pki.load_certs(Path(cert_file))
        cert, key = chain[0], pki.load_key(Path(key_file))
        # judged as Redis judges a client (OpenSSL), strictness a warning: rotation's one client judgement
        accepted = rotation.client_chain_check(
            "client_cert",
            cert,
            key,
            chain[1:],
            pki.load_certs(Path(ca_file)) if ca_file else [],
            "issued by the CA",
            "`runbook adopt` names the fix",
            ca_file,
        )
        if accepted.status in ("fail", "warn"):
            level: Severity = "error" if accepted.status == "fail" else "warn"
            out.append(
                Finding(level, "client_cert", f"client_cert {cert_file}: {accepted.detail}", accepted.fix)
            )
        if not pki.key_matches(cert, key):
            out.append(
                Finding(
                    "error",
                    "client_key",
                    f"client_key {key_file} is not the key of {cert_file}",
                    "pass the matching key",
                )
            )
        if stat.S_IMODE(os.stat(key_file).st_mode) & 0o077:
            out.append(
                Finding(
                    "warn",
                    "client_key",
                    f"client_key {key_file} is readable by others",
                    f"chmod 600 {key_file}",
                )
            )
    return out


def handshake(target: Target) -> tuple[probe.Handshake, str]:
    """Step 5: a verified mutual-TLS handshake with the target and the server's version. Connects.

    The sandbox (our own strict PKI) is verified strictly; an external deployment as Redis-compatible
    clients verify it (step 4's ``strict-clients`` check says whether strict clients do too)."""
    endpoint = target.endpoint()
    mode: Mode = "strict" if target.may_start_servers else "compatible"
    ctx = tls_context(endpoint.files, mode=mode)
    return sandbox.handshake(endpoint, mode=mode), probe.server_version(endpoint, ctx=ctx)


def handshake_rows(target: Target, hs: probe.Handshake) -> list[tuple[str, object]]:
    """The handshake table; the sandbox's last row compares the served serial with its own file."""
    return sandbox.handshake_rows(hs, target.expected_server_serial())
