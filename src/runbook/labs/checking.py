"""``lab check``: the live setup, verified the way the application connects, and no weakened TLS.

First the application's connection to every node of the lab (its ``client.json`` settings, through
:func:`runbook.diagnose.diagnose_endpoint`). A failure says what still fails in the application's
terms, never the cause id or the fix. Once the application connects, the fix itself is judged: the
client keeps TLS and verification on, and every node still requires client certificates, keeps its
plaintext port closed and allows TLS 1.2+ only (read live with ``CONFIG GET``, else from the
redis.conf on disk). Read-only: a few short connections.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from runbook import diagnose
from runbook.client import redis_client
from runbook.errors import RunbookError
from runbook.labs import catalogue
from runbook.labs.state import VERSIONS, ClientSettings, LabState, conf_value, read_client
from runbook.results import CheckResult, all_ok, as_dicts
from runbook.sandbox import Node

#: What still fails, in the application's terms (never the cause id, never the fix).
SYMPTOMS: dict[str, str] = {
    "server-unreachable": "nothing accepts the application's connection on that port",
    "server-key-mismatch": "nothing accepts the application's connection: the server is not running",
    "server-file-unreadable": "nothing accepts the application's connection: the server is not running",
    "server-key-passphrase": "nothing accepts the application's connection: the server is not running",
    "untrusted-ca": "the application rejects the server's certificate",
    "hostname-mismatch": "the application rejects the server's certificate",
    "cert-expired": "a certificate in the handshake is rejected",
    "cert-not-yet-valid": "a certificate in the handshake is rejected",
    "server-cert-wrong-usage": "the application rejects the server's certificate",
    "client-cert-missing": "the server drops the application right after the handshake",
    "client-cert-untrusted": "the server drops the application right after the handshake",
    "client-cert-wrong-usage": "the server drops the application right after the handshake",
    "plaintext-to-tls-port": "the application and the port do not speak the same protocol",
    "tls-to-plaintext-port": "the application and the port do not speak the same protocol",
    "protocol-mismatch": "the TLS handshake fails before any certificate is exchanged",
    "no-shared-cipher": "the TLS handshake fails before any certificate is exchanged",
    "outgoing-cert-wrong-usage": "the node answers, but it is not replicating from its primary",
    "replication-link-down": "the node answers, but it is not replicating from its primary",
    "ca-not-strict": "the application rejects the server's certificate chain",
    "server-name-cn-only": "the application rejects the server's certificate",
    "chain-not-strict": "the application rejects the server's certificate chain",
    "missing-intermediate": "the application rejects the server's certificate chain",
}
STILL_FAILING_FIX = "investigate with the toolkit (docs/training.md); `runbook lab hint` when stuck"
STRICT_VERSIONS = {"TLSv1.2", "TLSv1.3"}


@dataclass
class LabCheck:
    """The verdict of one ``lab check``: every check passes when the lab is fixed without shortcuts."""

    lab: str
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all_ok(self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "ok": self.ok, "checks": as_dicts(self.checks)}


def check_lab(state: LabState, *, timeout: float = 1.0, settle: float = 3.0) -> LabCheck:
    """Verify the lab's live setup as the application uses it, then refuse weakened TLS.

    ``timeout``: per connection (loopback answers at once; a TLS client on a plaintext port waits it out).
    ``settle``: how long a replica's link may take to come up (fleet labs). Read-only.
    """
    settings = read_client(state)
    if settings.tls and not settings.verify:  # the application would connect to anything: no need to look
        return LabCheck(state.name, [_client_settings(settings)])
    results = [_application(state, settings, node, timeout, settle) for node in state.nodes]
    if not all_ok(results):
        results.append(CheckResult("shortcuts", "skip", "judged once the application connects"))
        return LabCheck(state.name, results)
    results.append(_client_settings(settings))
    for node in state.nodes:
        results += _server_settings(state, node, settings.endpoint.hostname)
    proofs = catalogue.get(state.name).proofs
    if proofs is not None and settings.tls and settings.verify:
        results += proofs(state)
    return LabCheck(state.name, results)


def _port_for(state: LabState, settings: ClientSettings, node: Node) -> int:
    if node.name == state.app_node:
        return settings.endpoint.port
    return node.port or node.plaintext_port


def _application(
    state: LabState, s: ClientSettings, node: Node, timeout: float, settle: float
) -> CheckResult:
    check_id = f"application:{node.name}"
    try:
        found = diagnose.diagnose_endpoint(
            replace(s.endpoint, port=_port_for(state, s, node)),
            tls=s.tls,
            min_version=s.version("min"),
            max_version=s.version("max"),
            ciphers=s.ciphers or None,
            timeout=timeout,
            log_file=node.log_path,
            settle=settle if state.fleet else 0.5,
        )
    except (RunbookError, OSError, ValueError) as exc:
        return CheckResult(
            check_id, "fail", f"the application's settings cannot be used: {exc}", "correct client.json"
        )
    if found.ok:
        return CheckResult(check_id, "pass", "the application connects and Redis answers")
    return CheckResult(
        check_id, "fail", SYMPTOMS.get(found.cause, "the application's connection fails"), STILL_FAILING_FIX
    )


def _client_settings(s: ClientSettings) -> CheckResult:
    problems = []
    if not s.tls:
        problems.append("TLS is off")
    elif not s.verify:
        problems.append("certificate verification is off")
    elif not s.endpoint.files.ca:
        problems.append("no CA to verify the server with")
    if s.tls and s.min_version and VERSIONS[s.min_version] < VERSIONS["TLSv1.2"]:
        problems.append(f"versions below TLS 1.2 are allowed (min_version {s.min_version})")
    if problems:
        return CheckResult(
            "client-settings",
            "fail",
            "refused, this weakens TLS: " + "; ".join(problems) + " in client.json",
            "keep tls and verify true, ca set and min_version TLSv1.2 or later: fix the cause instead",
        )
    return CheckResult("client-settings", "pass", "TLS on, server verified, TLS 1.2 or later")


def _server_settings(state: LabState, node: Node, server_name: str) -> list[CheckResult]:
    values, source = _live_settings(state, node, server_name)
    auth = values["tls-auth-clients"]
    port = values["port"]
    versions = set(values["tls-protocols"].split()) or STRICT_VERSIONS
    name = node.name
    return [
        CheckResult(f"mutual-tls:{name}", "pass", f"tls-auth-clients yes ({source})")
        if auth == "yes"
        else CheckResult(
            f"mutual-tls:{name}",
            "fail",
            f"refused, this weakens TLS: tls-auth-clients {auth} ({source})",
            "keep tls-auth-clients yes and give clients certificates from the server's CA",
        ),
        CheckResult(f"plaintext-port:{name}", "pass", f"port 0 ({source})")
        if port in ("0", "")
        else CheckResult(
            f"plaintext-port:{name}",
            "fail",
            f"refused, this weakens TLS: plaintext port {port} is open ({source})",
            "set port 0: clients connect to the tls-port",
        ),
        CheckResult(f"tls-versions:{name}", "pass", f"{' '.join(sorted(versions))} ({source})")
        if versions <= STRICT_VERSIONS
        else CheckResult(
            f"tls-versions:{name}",
            "fail",
            f"refused, this weakens TLS: tls-protocols allows {' '.join(sorted(versions - STRICT_VERSIONS))} ({source})",
            'set tls-protocols "TLSv1.2 TLSv1.3"',
        ),
    ]


def _live_settings(state: LabState, node: Node, server_name: str) -> tuple[dict[str, str], str]:
    """tls-auth-clients, port and tls-protocols: live (CONFIG GET as the lab's operator, verifying the
    name the application verifies; one attempt), else from the redis.conf on disk."""
    names = ("tls-auth-clients", "port", "tls-protocols")
    if node.port:
        client = redis_client(
            "localhost",
            node.port,
            state.admin_files(),
            server_hostname=server_name,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            live = {n: str(dict(client.config_get(n)).get(n, "")) for n in names}  # type: ignore[arg-type, unused-ignore]  # redis-py < 8 types it loosely
            return live, "live"
        except (redis.RedisError, OSError):
            pass
        finally:
            client.close()
    defaults = {"tls-auth-clients": "yes", "port": "6379", "tls-protocols": ""}
    return {n: conf_value(node, n, defaults[n]) for n in names}, "redis.conf"
