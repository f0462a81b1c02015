"""Notebook 03's steps, for either target: the client snippets run as printed, redis-py's common mistakes,
the live audit, the refusals of wrong clients and the Prometheus textfile.

:func:`prepare` makes the prerequisites (sandbox: the PKI and a running sandbox; external: nothing) and
reads the server's version once; every later step takes its :class:`ClientChecks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook import checks, client
from runbook.book.target import Target
from runbook.client import Endpoint, Mode, probe
from runbook.client.snippet_runner import SnippetRun
from runbook.client.snippets import Snippet
from runbook.results import CheckResult


@dataclass
class ClientChecks:
    """Where notebook 03 connects (the target's endpoint), the work dir and the server's version."""

    endpoint: Endpoint
    work: Path
    redis_version: str

    @property
    def facts(self) -> list[list[str]]:
        """(fact, value) rows: the target, the name its certificate must carry, our identity, the version."""
        ep = self.endpoint
        return [
            ["target", ep.label],
            ["server name", ep.server_name],
            ["client certificate", ep.client_label],
            ["redis version", self.redis_version],
        ]

    def redis_py_skip(self) -> str:
        """Why redis-py cannot verify this server ("" unless its certificate does not name the host)."""
        ep = self.endpoint
        return client.redis_py_skip_reason(ep.host, ep.port, ep.files, ep.server_name)


def prepare(target: Target) -> ClientChecks:
    """Sandbox: the PKI and a running sandbox (idempotent; may start servers). External: nothing is
    created or started. Then one ``INFO server`` over TLS for the version ("" when it cannot be read)."""
    target.ensure()
    endpoint = target.endpoint()
    return ClientChecks(endpoint, target.work, probe.server_version(endpoint))


def snippets(cc: ClientChecks) -> list[Snippet]:
    """Every client snippet for the endpoint: redis-cli, openssl s_client, redis-py, its pool, ioredis."""
    ep = cc.endpoint
    return client.snippets(ep.host, ep.port, ep.files, ep.server_name)


def snippets_text(found: list[Snippet]) -> str:
    """The snippets as an operator copies them: a ``# --- tool (language)`` header, then the text."""
    return "\n".join(f"# --- {s.tool} ({s.language})\n{s.text}\n" for s in found)


def run_snippets(cc: ClientChecks, found: list[Snippet], install_ioredis: bool = False) -> list[SnippetRun]:
    """Run each snippet exactly as printed (starts processes). ``install_ioredis``: ``npm install ioredis``
    into ``<work>/node`` first (writes files); otherwise the JavaScript snippet runs only where it is there.
    redis-py's snippets are skipped, saying why, when the certificate does not name the host."""
    node_dir = client.install_ioredis(cc.work / "node") if install_ioredis else cc.work / "node"
    py_skip = cc.redis_py_skip()
    return [
        client.run_snippet(s, node_dir=node_dir, skip_reason=py_skip if s.language == "python" else "")
        for s in found
    ]


#: Snippets that verify strictly whatever Python runs them (``openssl s_client -x509_strict``).
STRICT_SNIPPETS = ("openssl s_client",)


def snippet_checks(cc: ClientChecks, runs: list[SnippetRun]) -> list[CheckResult]:
    """Each snippet's verdict: ``pass`` (answered), ``skip`` (did not run, saying why), ``fail``. On an
    external deployment that Redis-compatible clients verify but strict ones refuse (a CA without
    keyUsage, a name only in the CN), a strict snippet's refusal is that finding, a ``warn`` with the
    way to the strict profile: the deployment works, strictness is not a broken client. Connects twice."""
    strict_reason = ""
    if cc.endpoint.external and any(r.ran and not r.ok and r.tool in STRICT_SNIPPETS for r in runs):
        strict, compatible = (
            probe.ping(cc.endpoint, mode="strict"),
            probe.ping(cc.endpoint, mode="compatible"),
        )
        if not strict.ok and compatible.ok:
            strict_reason = strict.error
    out = []
    for r in runs:
        if not r.ran:
            out.append(CheckResult(f"snippet:{r.tool}", "skip", r.output))
        elif r.ok:
            out.append(CheckResult(f"snippet:{r.tool}", "pass", "answered as printed"))
        elif strict_reason and r.tool in STRICT_SNIPPETS:
            out.append(
                CheckResult(
                    f"snippet:{r.tool}",
                    "warn",
                    f"refused by its strict verification only (Redis-compatible clients connect): {strict_reason}",
                    "`runbook adopt` names the cause; `runbook adopt --migrate` moves to the strict profile",
                )
            )
        else:
            out.append(
                CheckResult(
                    f"snippet:{r.tool}",
                    "fail",
                    r.output.strip().splitlines()[-1:][0] if r.output.strip() else "failed",
                )
            )
    return out


def common_mistakes(cc: ClientChecks) -> list[CheckResult]:
    """The redis-py mistakes of common guides, proven live to fail (each ``pass`` = fails as documented)."""
    ep = cc.endpoint
    mode: Mode = "compatible" if ep.external else "strict"
    return client.common_mistakes(ep.host, ep.port, ep.files, skip_reason=cc.redis_py_skip(), mode=mode)


def audit(cc: ClientChecks, plaintext_port: int = 0, warn_days: int = 30) -> checks.AuditReport:
    """The live TLS audit of the endpoint (``plaintext_port`` 0: no plaintext port to prove closed)."""
    return checks.run_audit(cc.endpoint, plaintext_port=plaintext_port or None, warn_days=warn_days)


def refusals(cc: ClientChecks) -> list[checks.Refusal]:
    """Three wrong clients, live: no client certificate, TLS 1.1 only, a wrong server name."""
    return checks.explain_refusals(cc.endpoint)


def write_prometheus(report: checks.AuditReport, work: Path) -> str:
    """Write the audit as a Prometheus textfile to ``<work>/metrics/redis_tls.prom`` (atomic; writes a
    file) and return its ``redis_tls_check_status`` lines."""
    (work / "metrics").mkdir(exist_ok=True)
    prom = checks.write_prometheus(report, work / "metrics" / "redis_tls.prom")
    return "\n".join(
        line for line in prom.read_text().splitlines() if line.startswith("redis_tls_check_status")
    )
