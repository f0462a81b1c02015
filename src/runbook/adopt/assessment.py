"""Assess a live deployment the runbook did not build: what each kind of client sees. Read-only.

For every node (``--host/--port`` and each ``--node``), with the operator's own files:

``strict``     a strict client: Python 3.13's default context (``VERIFY_X509_STRICT``, names in
               subjectAltName), as redis-py on 3.13 and ``openssl verify -x509_strict`` judge;
``openssl``    an OpenSSL-based client that checks the name (compatible mode: what Redis accepts);
``redis-cli``  redis-cli / hiredis: OpenSSL's chain check, no name check;
``redis-py``   a real redis-py client (``PING``) over the context redis-py builds on Python 3.13;
``replica``    ``INFO replication``: a replica's ``master_link_status``, a primary's replicas.

Findings carry a cause id, the node, what is wrong and the exact fix (commands the runbook
accepts, naming the operator's files): a refusal by Redis-compatible clients is diagnosed by
:func:`runbook.diagnose.diagnose_endpoint`; what only strict clients refuse comes from
:func:`runbook.pki.strict_findings` (``ca-not-strict``, ``server-name-cn-only``); dates from
:func:`runbook.pki.expiry`; links from ``INFO replication``. Nothing is written anywhere.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
from cryptography import x509

from runbook import pki
from runbook.checks.links import admin_info
from runbook.client import Endpoint, Mode, probe, redis_client, tls_context, wire
from runbook.diagnose import diagnose_endpoint
from runbook.errors import RunbookError
from runbook.files import first_unreadable

CLIENTS: dict[str, str] = {
    "strict": "Python 3.13 default context / OpenSSL -x509_strict",
    "openssl": "OpenSSL-based client checking the name (what Redis accepts)",
    "redis-cli": "redis-cli / hiredis (chain checked, name not)",
    "redis-py": "redis-py PING, context as on Python 3.13",
    "replica": "INFO replication",
}


@dataclass(frozen=True)
class ClientView:
    """What one kind of client sees at one node."""

    node: str
    client: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Finding:
    """Something an operator must fix: a stable cause id, the node, what is wrong, the exact fix."""

    id: str
    node: str
    detail: str
    fix: str


@dataclass
class Assessment:
    """The whole assessment: every client view and every finding; clean when there is no finding."""

    nodes: list[str] = field(default_factory=list)
    views: list[ClientView] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def finding_ids(self) -> set[str]:
        return {f.id for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def tables(self) -> list[Any]:
        """The client views and the findings as two display tables."""
        from runbook.display import Table, mark

        views = Table(
            ["node", "client", "sees", "detail"],
            [[v.node, v.client, mark("pass" if v.ok else "fail"), v.detail] for v in self.views],
            "what each client sees",
        )
        found = Table(
            ["finding", "node", "detail", "fix"],
            [[f.id, f.node, f.detail, f.fix] for f in self.findings] or [["none", "", "nothing to fix", ""]],
            "findings",
        )
        return [views, found]


def check_inputs(endpoints: Sequence[Endpoint]) -> None:
    """Raise :class:`RunbookError` (exit 2) for input no connection could fix: no node, a client
    certificate without its key, a file that cannot be read (named)."""
    if not endpoints:
        raise RunbookError("no node to assess: pass --host and --port")
    files = endpoints[0].files
    if bool(files.cert) != bool(files.key):
        raise RunbookError("give --cert and --key together (the client certificate and its key)")
    if not files.ca:
        raise RunbookError("--ca is required: the CA file your clients trust (redis-cli --cacert)")
    bad = first_unreadable([("--ca", files.ca), ("--cert", files.cert or ""), ("--key", files.key or "")])
    if bad:
        raise RunbookError(f"{bad[0]} {bad[1]} cannot be read ({bad[2]}): pass the file your clients use")
    try:
        pki.load_certs(Path(files.ca))
    except RunbookError as exc:
        raise RunbookError(f"--ca {files.ca}: {exc}") from None


def assess(endpoints: Sequence[Endpoint], *, timeout: float = 3.0, warn_days: int = 30) -> Assessment:
    """Assess every endpoint (module docstring). Read-only: opens a few connections per node."""
    check_inputs(endpoints)
    result = Assessment(nodes=[e.address for e in endpoints])
    for endpoint in endpoints:
        _assess_node(result, endpoint, timeout, warn_days)
    return result


def _assess_node(result: Assessment, e: Endpoint, timeout: float, warn_days: int) -> None:
    def view(client: str, ok: bool, detail: str) -> None:
        result.views.append(ClientView(e.address, client, ok, detail))

    def finding(cause: str, detail: str, fix: str) -> None:
        result.findings.append(Finding(cause, e.address, detail, fix))

    strict = _ping(e, "strict", True, timeout)
    compatible = _ping(e, "compatible", True, timeout)
    cli = _ping(e, "compatible", False, timeout)
    view("strict", strict is None, strict or "PONG")
    view("openssl", compatible is None, compatible or "PONG")
    view("redis-cli", cli is None, cli or "PONG")
    view("redis-py", *_redis_py(e, timeout))
    if compatible is not None:
        d = diagnose_endpoint(e, timeout=timeout, settle=0.0)
        finding(d.cause, f"{d.summary} ({compatible})", d.fix)
        return
    leaf = _served_leaf(e, timeout)
    cas = pki.load_certs(Path(e.files.ca))
    if strict is not None:
        found = pki.strict_findings(cas, [leaf] if leaf else [], e.hostname, ca_path=e.files.ca)
        for f in found:
            finding(f.id, f.detail, f.fix)
        if not found:
            finding(
                "chain-not-strict",
                f"strict clients refuse the server certificate: {strict}",
                "run `runbook pki inspect` on the served chain and re-issue what it flags under the strict "
                "profile (critical keyUsage, SKI/AKI, names in subjectAltName)",
            )
    for role, cert in (("server", leaf), ("client", _client_cert(e))):
        if cert is None:
            continue
        judged = pki.expiry(cert, warn_days)
        if judged.status != "pass":
            finding(
                "cert-expiry",
                f"{role} certificate {cert.subject.rfc4514_string()}: {judged.text}",
                "renew it through the tool that issued it (cert-manager, step, your CA), then "
                "`runbook watch --once` with the same --ca --cert --key reloads Redis",
            )
    _replication(result, e, timeout, view, finding)


def _ping(e: Endpoint, mode: Mode, check_hostname: bool, timeout: float) -> str | None:
    """None when a handshake in ``mode`` and a PING succeed, else the one-line reason."""
    try:
        ctx = tls_context(e.files, mode=mode, check_hostname=check_hostname)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return _one_line(exc)
    got = probe.command(e, "PING", ctx=ctx, timeout=timeout)
    if not got.ok:
        return got.error
    return None if got.value == b"PONG" else f"unexpected reply {wire.text(got.value)[:40]!r}"


def _redis_py(e: Endpoint, timeout: float) -> tuple[bool, str]:
    try:
        client = redis_client(
            e.host, e.port, e.files, server_hostname=e.hostname, socket_timeout=timeout, retry=None
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return False, _one_line(exc)
    return True, "PONG"


def _served_leaf(e: Endpoint, timeout: float) -> x509.Certificate | None:
    try:
        ctx = tls_context(e.files, mode="none")
        with (
            socket.create_connection((e.host, e.port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=e.hostname) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return x509.load_der_x509_certificate(der) if der else None


def _client_cert(e: Endpoint) -> x509.Certificate | None:
    if not e.files.cert:
        return None
    try:
        return pki.load_certs(Path(e.files.cert))[0]
    except RunbookError:
        return None


def _replication(result: Assessment, e: Endpoint, timeout: float, view: Any, finding: Any) -> None:
    """``INFO replication`` over an admin connection (compatible): a down link is a finding."""
    try:
        (info,) = admin_info(e, "replication", timeout=timeout)
    except (redis.RedisError, OSError) as exc:
        view("replica", False, f"INFO replication refused: {_one_line(exc)}")
        return
    if info.get("role") == "slave":
        link = str(info.get("master_link_status", ""))
        primary = f"{info.get('master_host')}:{info.get('master_port')}"
        view("replica", link == "up", f"replica of {primary}: master_link_status {link}")
        if link != "up":
            finding(
                "replica-link-down",
                f"replica of {primary}: master_link_status is {link}",
                f"`runbook diagnose --host {e.host} --port {e.port} --server-name {e.hostname} --ca "
                f"{e.files.ca}` names why (then its fix); the link needs tls-replication yes and a "
                "certificate the primary trusts for clientAuth",
            )
        return
    replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    states = ", ".join(f"{r.get('ip')}:{r.get('port')} {r.get('state')}" for r in replicas)
    view("replica", True, f"primary, {len(replicas)} replica(s){': ' + states if states else ''}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.split(" (_ssl.c:", 1)[0]
