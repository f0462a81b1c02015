"""Assess a live deployment the runbook did not build: what each kind of client sees. Read-only.

For every node (``--host/--port`` and each ``--node``), with the operator's own files:

``strict``     a strict client: Python 3.13's default context (``VERIFY_X509_STRICT``, names in
               subjectAltName), as redis-py on 3.13 and ``openssl verify -x509_strict`` judge;
``openssl``    an OpenSSL-based client that checks the name (compatible mode: what Redis accepts);
``redis-cli``  redis-cli / hiredis: OpenSSL's chain check, no name check;
``redis-py``   a real redis-py client (``PING``) over the context redis-py builds on Python 3.13;
``node``       Node.js (ioredis, ``tls.connect``): OpenSSL's chain check with the given CA, then
               ``tls.checkServerIdentity``'s name rules (:func:`node_identity_error`);
``replica``    ``INFO replication``: a replica's ``master_link_status``, a primary's replicas;
``cluster``    for a cluster-enabled node, ``CLUSTER INFO``: ``cluster_state`` other than ``ok`` is a
               finding (``cluster-not-ok``) with its cause (unassigned slots, failing peers, not joined).

Findings carry a cause id, the node, what is wrong and the exact fix (commands the runbook
accepts, naming the operator's files): a refusal by Redis-compatible clients is diagnosed by
:func:`runbook.diagnose.diagnose_endpoint`; what only strict clients refuse comes from
:func:`runbook.pki.strict_findings` (``ca-not-strict``, ``server-name-cn-only``); dates from
:func:`runbook.pki.expiry`; links from ``INFO replication``. Nothing is written anywhere.
"""

from __future__ import annotations

import ipaddress
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
    "node": "Node.js / ioredis: OpenSSL chain, tls.checkServerIdentity names",
    "replica": "INFO replication",
    "cluster": "CLUSTER INFO (cluster-enabled nodes)",
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
    view("node", *_node(e, timeout))
    if compatible is not None:
        d = diagnose_endpoint(e, timeout=timeout, settle=0.0)
        finding(d.cause, f"{d.summary} ({compatible})", d.fix)
        return
    leaf = _served_leaf(e, timeout)
    cas = pki.load_certs(Path(e.files.ca))
    unlinked = _intermediate_not_served(e, cas, timeout)
    if unlinked is not None:
        finding(
            "missing-intermediate",
            f"the server sends its certificate without {unlinked.subject.rfc4514_string()}, the "
            f"intermediate to {unlinked.issuer.rfc4514_string()}: clients trusting only that root fail "
            "(your CA file or certificate file completes the chain for you alone)",
            "serve leaf + intermediate in tls-cert-file (`cat leaf.crt intermediate.crt`; `step ca renew` "
            "writes both), then reload it with `runbook watch --once`",
        )
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
    for unexplained in unexplained_refusals(result.views, result.findings, e.address):
        finding(
            "client-refused",
            f"{unexplained.client} clients ({CLIENTS[unexplained.client]}) refuse this node although "
            f"Redis-compatible clients connect: {unexplained.detail}",
            f"connect as that client does (its CA file and the name {e.hostname}) and run `runbook diagnose "
            f"--host {e.host} --port {e.port} --server-name {e.hostname} --ca {e.files.ca}`; re-issue the "
            "server certificate with every name clients use in subjectAltName",
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


def unexplained_refusals(
    views: Sequence[ClientView], findings: Sequence[Finding], node: str
) -> list[ClientView]:
    """The TLS client views at ``node`` that fail while no TLS finding at ``node`` says why: each must
    become a finding, so that a clean assessment is true for every kind of client. Pure."""
    explained = any(f.node == node and f.id not in ("cert-expiry", "replica-link-down") for f in findings)
    tls_views = [v for v in views if v.node == node and v.client not in ("replica", "cluster")]
    return [] if explained else [v for v in tls_views if not v.ok]


def node_identity_error(leaf: x509.Certificate, hostname: str) -> str | None:
    """Node's ``tls.checkServerIdentity(hostname, cert)`` (lib/tls.js, Node 17 and later), as ioredis
    runs it after OpenSSL verified the chain: None when Node accepts the name, else its reason.

    The rules, from Node's source: the host loses a trailing dot; an IP host must be one of the
    certificate's IP SANs (never the CN); a DNS host must match a DNS SAN when there is any (a ``*``
    only in the leftmost label, not for IP-like or two-label patterns); only a certificate without DNS
    SANs falls back to the subject CN (with the same wildcard rule). Pure."""
    host = hostname.rstrip(".").lower()
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [d.lower() for d in san.get_values_for_type(x509.DNSName)]
        ips = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    if _is_ip(host):
        if ipaddress.ip_address(host.strip("[]")) in [ipaddress.ip_address(i) for i in ips]:
            return None
        return f"IP: {host} is not in the cert's list: {', '.join(ips)}"
    cns = [str(a.value).lower() for a in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    if dns:
        ok = any(_node_match(host, d) for d in dns)
        return None if ok else f"Host: {host}. is not in the cert's altnames: {', '.join(dns)}"
    if cns:
        return None if any(_node_match(host, c) for c in cns) else f"Host: {host}. is not cert's CN: {cns[0]}"
    return "Cert does not contain a DNS name"


def _node_match(host: str, pattern: str) -> bool:
    """Node's ``check(hostParts, pattern, wildcards=true)``: labels compared case-insensitively; a
    wildcard only in the first label of a pattern with three or more labels, never in an IDN label."""
    h, p = host.split("."), pattern.rstrip(".").split(".")
    if len(h) != len(p) or not all(p) or _is_ip(pattern):
        return False
    if h[1:] != p[1:]:
        return False
    first = p[0]
    if "*" not in first:
        return h[0] == first
    if len(p) <= 2 or first.startswith("xn--"):
        return False
    prefix, _, suffix = first.partition("*")
    return (
        "*" not in suffix
        and h[0].startswith(prefix)
        and h[0].endswith(suffix)
        and (len(h[0]) >= len(prefix) + len(suffix))
    )


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _node(e: Endpoint, timeout: float) -> tuple[bool, str]:
    """ioredis: ``tls.connect({ca, cert, key, servername})``: OpenSSL's default chain check against the
    given CA only (no -x509_strict: compatible mode, name unchecked by OpenSSL), then
    :func:`node_identity_error` on the presented leaf."""
    try:
        ctx = tls_context(e.files, mode="compatible", check_hostname=False)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return False, _one_line(exc)
    got = probe.handshake(e, ctx, timeout=timeout)
    if not got.ok or not got.chain:
        return False, got.error or "no certificate presented"
    why = node_identity_error(x509.load_der_x509_certificate(got.chain[0]), e.hostname)
    return (False, f"ERR_TLS_CERT_ALTNAME_INVALID: {why}") if why else (True, "chain and name verified")


def _intermediate_not_served(
    e: Endpoint, cas: list[x509.Certificate], timeout: float
) -> x509.Certificate | None:
    """The intermediate from the CA file or the ``--cert`` file that links the served chain to a root
    of the CA file, when the server does not send it (a client trusting only that root then fails, while
    this admin connection, holding the intermediate, succeeds); None when the served chain reaches a root."""
    got = probe.presented_chain(e, timeout)
    served = [x509.load_der_x509_certificate(d) for d in got.chain]
    roots = [c for c in cas if c.issuer == c.subject]
    if not served or not roots:
        return None
    cert = served[0]
    for _ in range(len(served)):
        if any(r.subject == cert.issuer and pki.signed_by(cert, r) for r in roots):
            return None
        nxt = next((c for c in served[1:] if c.subject == cert.issuer and pki.signed_by(cert, c)), None)
        if nxt is None:
            break
        cert = nxt
    held = [c for c in cas if c.issuer != c.subject] + (
        pki.load_certs(Path(e.files.cert))[1:] if e.files.cert else []
    )
    for inter in held:
        if (
            inter.subject == cert.issuer
            and pki.signed_by(cert, inter)
            and any(pki.signed_by(inter, r) for r in roots)
        ):
            return inter
    return None


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
    """``INFO replication`` and ``INFO cluster`` over an admin connection (compatible): a down link is a
    finding; so is a cluster-enabled node whose ``CLUSTER INFO`` says other than ``cluster_state:ok``."""
    try:
        info, cluster = admin_info(e, "replication", "cluster", timeout=timeout)
        enabled = cluster.get("cluster_enabled") in (1, "1")
        state = admin_info(e, "cluster-info", timeout=timeout)[0] if enabled else {}
    except (redis.RedisError, OSError, ValueError) as exc:
        view("replica", False, f"INFO replication refused: {_one_line(exc)}")
        return
    if enabled:
        _cluster(e, state, view, finding)
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


def _cluster(e: Endpoint, info: dict[str, Any], view: Any, finding: Any) -> None:
    """``CLUSTER INFO`` of a cluster-enabled node: ``cluster_state`` and, when it is not ``ok``, why."""
    state = str(info.get("cluster_state", "unknown"))
    assigned, known = int(info.get("cluster_slots_assigned", 0)), int(info.get("cluster_known_nodes", 0))
    failing = int(info.get("cluster_slots_fail", 0)) + int(info.get("cluster_slots_pfail", 0))
    view("cluster", state == "ok", f"cluster_state:{state}, {assigned} of 16384 slots, {known} node(s) known")
    if state == "ok":
        return
    if known <= 1 and assigned == 0:
        cause, fix = (
            "the node has not joined a cluster and serves no slot",
            "create or join the cluster (`redis-cli --tls ... --cluster create` / `--cluster add-node`)",
        )
    elif failing:
        cause, fix = (
            f"{failing} slot(s) are served by peers that fail or are unreachable over the cluster bus",
            f"`runbook diagnose --host {e.host} --port {e.port}` on those peers; the cluster bus needs "
            "tls-cluster yes and certificates the peers trust for clientAuth",
        )
    else:
        cause, fix = (
            f"{16384 - assigned} of 16384 slots are not assigned to any node",
            "assign the missing slots (`redis-cli --tls ... --cluster fix`, or CLUSTER ADDSLOTSRANGE)",
        )
    finding("cluster-not-ok", f"cluster_state:{state}: {cause}", fix)
