"""Notebook 04's toolkit target: where the toolkit steps point (the sandbox primary or an external
Redis), and the steps that take it: certificate dates, chains, and the two diagnoses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook import diagnose, display, drills, pki, rotation
from runbook.client import Endpoint, TlsClientFiles, probe, tls_context
from runbook.client.probe import Handshake
from runbook.diagnose import ciphers_accepted, protocols_accepted
from runbook.diagnose import handshake as diagnose_handshake
from runbook.diagnose.endpoint import diagnose_endpoint
from runbook.diagnose.probes import ClientSpec, peer_certificate, server_version
from runbook.diagnose.results import Diagnosis
from runbook.errors import RunbookError
from runbook.results import CheckResult

if TYPE_CHECKING:
    from runbook.book.target import Target

DRILLS_NEED_SANDBOX = "drills need the local sandbox: run with target=sandbox"


@dataclass(frozen=True)
class Toolkit:
    """Where the toolkit steps of notebook 04 point: the sandbox primary or an external Redis.

    ``server_cert`` is a file holding the server certificate to check (the sandbox's own file, or,
    for an external server, the certificate it presented, saved as public PEM); ``client_cert`` is
    ``None`` when the client has no certificate.
    """

    target: str
    endpoint: Endpoint
    ca_file: Path
    server_cert: Path
    client_cert: Path | None
    topology: str
    log_path: Path | None
    prerequisites: list[list[str]]

    @property
    def spec(self) -> ClientSpec:
        """How the toolkit's client connects: the endpoint, no other limit; strict verification on the
        sandbox (our own PKI), as Redis-compatible clients verify on an external deployment (what only
        strict clients refuse is step 2's finding, never a failed connection)."""
        return ClientSpec(self.endpoint, mode="strict" if self.target == "sandbox" else "compatible")

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def server_name(self) -> str:
        return self.endpoint.hostname

    @property
    def address(self) -> str:
        return self.endpoint.address

    @property
    def cert_files(self) -> list[Path]:
        """The certificates whose dates step 1 checks: CA, server, client (when there is one)."""
        return [self.ca_file, self.server_cert, *([self.client_cert] if self.client_cert else [])]

    def identity(self) -> dict[str, Any]:
        """``redis_version`` (asked of the server), ``target`` and (sandbox) ``topology`` evidence. Connects."""
        version = server_version(self.spec)  # asked of the server (binary or container)
        if self.target == "external":
            return {"redis_version": version, "target": self.address}
        return {"redis_version": version, "target": self.address, "topology": self.topology}

    def log_hint(self, work: Path | str) -> str:
        """Where this server's log is, as a line for the notebook (relative to the work dir)."""
        if self.log_path is not None:
            return f"sandbox log: {self.log_path.relative_to(Path(work))}"
        return "server log: on the Redis host (`CONFIG GET logfile`; often /var/log/redis/redis-server.log)"


def toolkit_sandbox(box: Any, pki_dir: Path | str) -> Toolkit:
    """The toolkit pointed at the primary of a running sandbox (:class:`runbook.sandbox.Sandbox`)."""
    paths = pki.PkiPaths(Path(pki_dir))
    files = TlsClientFiles.from_pki(paths.root)
    node = box.primary
    return Toolkit(
        "sandbox", Endpoint("localhost", node.port, "localhost", files, name="sandbox"), paths.ca_cert,
        paths.server_cert, paths.client_cert(), box.topology, node.log_path,
        [["PKI", "ca.crt, redis-server.crt, redis-client.crt present"],
         ["sandbox", f"{box.topology}, {len(box.nodes)} node(s), healthy"]],
    )  # fmt: skip


def toolkit_external(endpoint: Endpoint, out_dir: Path | str, timeout: float = 3.0) -> Toolkit:
    """The toolkit pointed at an external Redis (:class:`runbook.client.Endpoint`).

    Connects once to fetch the certificate the server presents (step 2 verifies it) and writes
    it, public PEM only, to ``<out_dir>/served-server.crt``. Starts nothing.
    """
    from cryptography.hazmat.primitives import serialization

    from runbook import files as _files

    files = endpoint.files
    served = peer_certificate(ClientSpec(endpoint), timeout)
    if served is None:
        d = diagnose_endpoint(endpoint, timeout=timeout)
        raise RunbookError(f"no verified TLS handshake with {endpoint.address}: {d.cause}: {d.fix}")
    path = Path(out_dir) / "served-server.crt"
    _files.write_file(path, served.public_bytes(serialization.Encoding.PEM), _files.PUBLIC)
    client = Path(files.cert) if files.cert else None
    return Toolkit(
        "external", endpoint, Path(files.ca), path, client, "", None,
        [["target", f"external Redis at {endpoint.address}, certificate name {endpoint.server_name}"],
         ["client files", "CA" + (" + client certificate" if client else " only (no client certificate)")]],
    )  # fmt: skip


def date_checks(paths: Sequence[Path | str], warn_days: int = 30) -> list[CheckResult]:
    """Step 1: one ``dates:<file>`` result per certificate file, judged against its own lifetime
    (:func:`runbook.pki.expiry`: a 24 h certificate shows hours and passes while renewal keeps up)."""
    out = []
    for p in paths:
        c = pki.inspect(p)
        judged = pki.expiry(pki.load_cert(Path(p)), warn_days)
        left = (
            f"{c.days_left} days left" if judged.status == "pass" and "days" in judged.text else judged.text
        )
        out.append(
            CheckResult(
                f"dates:{c.path.rsplit('/', 1)[-1]}",
                judged.status,
                f"{c.subject}; EKU {', '.join(c.eku) or '-'}; {left}",
                {"pass": "", "warn": "renew it soon (notebook 05)", "fail": "rotate it (notebook 05)"}[
                    judged.status
                ],
            )
        )
    return out


def chain_checks(tk: Toolkit) -> list[CheckResult]:
    """Step 2: the server certificate (for ``tk.server_name``) and the client's chain to the CA file."""
    ca = pki.load_certs(tk.ca_file)
    detail = f"chains to {tk.ca_file.name} with the right purpose"
    checks: list[tuple[str, Any]] = [
        ("chain:server", lambda: pki.verify_server_cert(pki.load_cert(tk.server_cert), ca, tk.server_name))
    ]
    if tk.client_cert is not None:
        client = tk.client_cert
        checks.append(("chain:client", lambda: pki.verify_client_cert(pki.load_cert(client), ca)))
    out = []
    for check, verify in checks:
        try:
            verify()
            out.append(CheckResult(check, "pass", detail))
        except RunbookError as exc:
            out.append(_judged(tk, check, str(exc)))
    if tk.client_cert is None:
        out.append(CheckResult("chain:client", "skip", "no client certificate given (client_cert)"))
    return out


def _judged(tk: Toolkit, check: str, strict_reason: str) -> CheckResult:
    """A chain strict X.509 refuses: on the sandbox (our own PKI) a failure; on an external deployment
    judged as Redis judges it (a ``warn`` with the way to the strict profile when Redis-compatible
    clients accept it, else a failure with OpenSSL's reason)."""
    if tk.target == "sandbox":
        return CheckResult(check, "fail", strict_reason, "re-issue it (notebook 01)")
    adopt_fix = "`runbook adopt` names the cause; `runbook adopt --migrate` moves to the strict profile"
    if check == "chain:server":
        got = probe.handshake(tk.endpoint, tls_context(tk.endpoint.files, mode="compatible"))
        refusal = "" if got.ok else got.error
    else:
        assert tk.client_cert is not None and tk.endpoint.files.key
        judged = rotation.client_chain_check(
            check,
            pki.load_cert(tk.client_cert),
            pki.load_key(Path(tk.endpoint.files.key)),
            pki.load_certs(tk.client_cert)[1:],
            pki.load_certs(tk.ca_file),
            "",
            "re-issue it from the CA the server trusts",
            str(tk.ca_file),
        )
        refusal = "" if judged.status != "fail" else judged.detail
    if refusal:
        return CheckResult(
            check, "fail", f"{strict_reason}; Redis (OpenSSL) refuses it too: {refusal}", adopt_fix
        )
    return CheckResult(
        check, "warn", f"Redis and OpenSSL accept it; strict clients refuse it: {strict_reason}", adopt_fix
    )


def handshake(tk: Toolkit) -> Handshake:
    """Step 3: one verified handshake plus ``PING``, what it negotiated and the server presented;
    raises naming the diagnosed cause when it fails. Read-only."""
    return diagnose_handshake(tk.spec)


def protocols(tk: Toolkit) -> dict[str, bool]:
    """Step 4: which TLS versions the server completes a handshake with (one connection each)."""
    return protocols_accepted(tk.spec)


def ciphers(tk: Toolkit) -> dict[str, bool]:
    """Step 4: which TLS 1.2 cipher suites the server accepts, one offered at a time."""
    return ciphers_accepted(tk.spec)


def toolkit_diagnoses(tk: Toolkit, work: Path | str | None = None) -> dict[str, Diagnosis]:
    """Step 6: the client as configured, then the same client without a certificate. Read-only."""
    client = tk.endpoint
    return {
        "with the client certificate": diagnose_endpoint(client, work=work),
        "without a client certificate": diagnose_endpoint(
            client.with_files(TlsClientFiles(client.files.ca)), work=work
        ),
    }


def drill_names() -> list[str]:
    """The drills the form offers (besides ``all``)."""
    return drills.names()


def select_drills(choice: str) -> list[drills.Drill]:
    """``all``, one drill name or a comma-separated list; an unknown name raises, naming the choices."""
    return drills.select(choice)


def log_patterns() -> list[dict[str, str]]:
    """What to grep for in a redis-server log, and the cause each pattern means."""
    return diagnose.log_patterns()


def run_drills(target: Target, chosen: Sequence[drills.Drill]) -> list[drills.DrillResult] | None:
    """Run the chosen drills (each a broken server in a temporary folder, diagnosed, cleaned up; starts
    processes) with the work dir's CA; None (not run) under the external target, where nothing may start."""
    return target.local(drills.run, [d.name for d in chosen], pki_dir=target.pki_dir)


def drills_table(results: Sequence[drills.DrillResult] | None, answers: bool = False) -> display.Table:
    """The drills' outcomes (none when not run); the expected cause and fix only when ``answers``."""
    return display.Table(*drills.table(results or [], answers))
