"""What a notebook runs against: the sandbox Redis, or an external Redis the operator runs.

One type, two kinds, the same interface, so notebook cells never branch on the target:

* :meth:`Target.endpoint`: where to connect (host, port, the name the certificate must carry, the
  client files), a :class:`runbook.client.Endpoint`;
* :meth:`Target.ensure`: the prerequisites (sandbox: the PKI and a running sandbox, created
  idempotently; external: the given files, checked, nothing started), as rows to show;
* :attr:`Target.may_start_servers`: whether a step may start, stop or restart servers, and
  :meth:`Target.local` / :meth:`Target.skipped` for a step that needs local servers: run it, or
  record it as ``skip`` with :attr:`Target.skip_reason`;
* the few steps whose work differs by target (notebook 02's server start or deploy instructions,
  live verification, the toolkit of notebook 04), each one method with the same name on both kinds.

:func:`from_params` builds it from the common notebook parameters of the external-target contract
(docs/external-target.md); the parameters are validated by :func:`runbook.client.target_endpoint`. An
:class:`ExternalTarget` refuses to start a sandbox (:meth:`ExternalTarget.sandbox` raises): the
contract the pipeline enforces with ``TargetContractError``.

The pipeline's :class:`runbook.pipeline.RunTarget` is the other side of that contract: the run's
validated connection parameters, from which each notebook builds its :class:`Target` here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from runbook import client, config, pki, sandbox, workdir
from runbook.client import Endpoint
from runbook.errors import RunbookError
from runbook.results import CheckResult

if TYPE_CHECKING:
    from runbook.book.toolkit import Toolkit

T = TypeVar("T")

#: Why a step that needs local servers is skipped under the external target.
EXTERNAL_SKIP = "target=external: nothing may be started, stopped or restarted here (run with target=sandbox)"


@dataclass
class ServerStep:
    """Notebook 02, step 3: the sandbox started (or reused) and reloaded, or what to deploy by hand.

    ``check`` is the ``server`` verdict: pass/fail for the sandbox, ``skip`` for an external server.
    """

    nodes: list[sandbox.Node]
    title: str
    instructions: str
    check: CheckResult
    reloads: list[tuple[str, config.ApplyReport]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.check.ok

    def reload_rows(self) -> list[tuple[str, int, bool]]:
        """(node, directives set, rewritten) per sandbox node; empty for an external server."""
        return [(n, len(r.changed), r.rewritten) for n, r in self.reloads]


class Target(ABC):
    """The Redis a notebook works on. Build one with :func:`from_params`."""

    kind: ClassVar[str]
    #: True when steps may start, stop or restart redis-server processes.
    may_start_servers: ClassVar[bool]
    #: Why a step that needs local servers does not run here ("" when it does).
    skip_reason: ClassVar[str]

    def __init__(self, work: Path | str) -> None:
        self.work = Path(work)

    @property
    def pki_dir(self) -> Path:
        """The work dir's PKI (notebook 01), whichever the target."""
        return workdir.pki_dir(self.work)

    # --- the common interface -------------------------------------------------------------

    @abstractmethod
    def endpoint(self) -> Endpoint:
        """Where to connect: host, port, server name, client files."""

    @abstractmethod
    def ensure(self) -> list[tuple[str, str]]:
        """Make sure the prerequisites exist (idempotent); rows of (prerequisite, state)."""

    @abstractmethod
    def sandbox(self) -> sandbox.Sandbox:
        """The running sandbox (started if needed). Refused under the external target."""

    @property
    @abstractmethod
    def topology(self) -> str:
        """``standalone``, ``replica``, ``cluster`` (sandbox) or ``external``."""

    @property
    def address(self) -> str:
        """``host:port`` as the audit evidence spells it."""
        return self.endpoint().address

    def local(self, step: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run ``step`` (it starts local servers) when this target allows it; else None (skipped)."""
        return step(*args, **kwargs) if self.may_start_servers else None

    def skipped(self, check_id: str, reason: str = "") -> CheckResult | None:
        """A ``skip`` verdict for a step that needs local servers; None when the step runs here."""
        if self.may_start_servers:
            return None
        return CheckResult(check_id, "skip", reason or self.skip_reason)

    # --- the steps that differ ----------------------------------------------------------

    @abstractmethod
    def deploy_port(self, tls_port: int = 0) -> int | None:
        """The TLS port to write in the file to deploy: ``tls_port``, else the target's (None: preset default)."""

    @abstractmethod
    def start_or_reload(self, conf: Path | None, tls_port: int) -> ServerStep:
        """Notebook 02, step 3: start/reuse and reload the sandbox (``conf``: the rendered section), or
        say what an external server needs (``conf`` None: its live settings were linted, nothing to deploy)."""

    @abstractmethod
    def live_checks(self) -> list[CheckResult]:
        """Notebook 02, step 4: verify with real connections (every node; links for the sandbox)."""

    @abstractmethod
    def expected_server_serial(self) -> str | None:
        """The serial the server must present (the work dir's ``redis-server.crt``); None: not known."""

    @abstractmethod
    def openssl_command(self) -> str:
        """The ``openssl s_client`` command an operator runs to see the same handshake."""

    @abstractmethod
    def toolkit(self) -> Toolkit:
        """Notebook 04: where the toolkit steps point (:class:`runbook.book.toolkit.Toolkit`)."""


class SandboxTarget(Target):
    """The local sandbox Redis in the work dir (started by the runbook, stopped by the pipeline)."""

    kind = "sandbox"
    may_start_servers = True
    skip_reason = ""

    def __init__(
        self,
        work: Path | str,
        client_name: str = pki.DEFAULT_CLIENT,
        topology: str = "standalone",
        backend: str = "",
    ) -> None:
        super().__init__(work)
        self.client_name = client_name
        self._topology = topology
        self.backend = sandbox.resolve_backend(backend)  # "" -> $RUNBOOK_BACKEND or binary

    def __repr__(self) -> str:
        return (
            f"SandboxTarget({str(self.work)!r}, {self.client_name!r}, {self._topology!r}, {self.backend!r})"
        )

    def sandbox(self) -> sandbox.Sandbox:
        """The healthy sandbox of this topology: reused when it runs, else started (idempotent)."""
        return sandbox.ensure(self.work, self._topology, self.backend)

    def endpoint(self) -> Endpoint:
        return self.sandbox().endpoint(self.client_name)

    def ensure(self) -> list[tuple[str, str]]:
        pki.create_pki(self.pki_dir, pki.PkiSpec())
        box = self.sandbox()
        return [
            ("PKI", "ca.crt, redis-server.crt, redis-client.crt present"),
            ("sandbox", f"{box.topology}, {len(box.nodes)} node(s), healthy"),
        ]

    @property
    def topology(self) -> str:
        return self._topology

    def deploy_port(self, tls_port: int = 0) -> int | None:
        return tls_port or None

    def start_or_reload(self, conf: Path | None, tls_port: int) -> ServerStep:
        box = self.sandbox()
        reloads = sandbox.reload_tls(box)
        ok = sandbox.healthy(box)
        check = CheckResult(
            "server",
            "pass" if ok else "fail",
            f"sandbox {box.topology} ({box.backend}), {len(box.nodes)} node(s)",
        )
        return ServerStep(
            box.nodes,
            f"sandbox: {box.topology} ({box.backend})",
            "nothing to deploy by hand: the sandbox runs these settings (python -m runbook sandbox status)",
            check,
            reloads,
        )

    def live_checks(self) -> list[CheckResult]:
        return sandbox.verify(self.sandbox())

    def expected_server_serial(self) -> str | None:
        return pki.inspect(pki.PkiPaths(self.pki_dir).server_cert).serial

    def openssl_command(self) -> str:
        return (
            "PORT=$(python -m runbook sandbox status --json | jq .nodes[0].port)\n"
            "openssl s_client -connect localhost:$PORT -servername localhost -CAfile $WORK/pki/ca.crt "
            "-cert $WORK/pki/redis-client.crt -key $WORK/pki/redis-client.key -brief </dev/null"
        )

    def toolkit(self) -> Toolkit:
        from runbook.book import toolkit

        self.ensure()
        return toolkit.toolkit_sandbox(self.sandbox(), self.pki_dir)


class ExternalTarget(Target):
    """A Redis the operator runs: connect with the given files; never start, stop or restart it."""

    kind = "external"
    may_start_servers = False
    skip_reason = EXTERNAL_SKIP

    def __init__(self, work: Path | str, endpoint: Endpoint) -> None:
        super().__init__(work)
        self._endpoint = endpoint

    def __repr__(self) -> str:
        return f"ExternalTarget({str(self.work)!r}, {self._endpoint.address!r})"

    def sandbox(self) -> sandbox.Sandbox:
        raise RunbookError(
            "target=external: no sandbox may be started (the pipeline fails it with TargetContractError): "
            "use the target's endpoint(), or run with target=sandbox"
        )

    def endpoint(self) -> Endpoint:
        return self._endpoint

    def ensure(self) -> list[tuple[str, str]]:
        ep = self._endpoint
        files = "CA" + (" + client certificate" if ep.files.cert else " only (no client certificate)")
        return [
            ("target", f"external Redis at {ep.address}, certificate name {ep.server_name}"),
            ("client files", files),
        ]

    @property
    def topology(self) -> str:
        return "external"

    def deploy_port(self, tls_port: int = 0) -> int | None:
        return tls_port or self._endpoint.port

    def start_or_reload(self, conf: Path | None, tls_port: int) -> ServerStep:
        ep = self._endpoint
        if conf is None:
            check = CheckResult(
                "server",
                "skip",
                f"external {ep.address}: nothing started, stopped or restarted; its live settings linted",
            )
            instructions = (
                f"# nothing to deploy: step 2 linted the live settings of {ep.address}; fix what its table names on\n"
                "# the server (redis.conf + restart, or CONFIG SET); `runbook config render` writes a strict section"
            )
            return ServerStep([], "sandbox: none (external target)", instructions, check)
        shown = str(conf).replace(str(self.work), "$WORK")
        check = CheckResult(
            "server",
            "skip",
            f"external {ep.address}: nothing started, stopped or restarted; deploy and restart as step 3 shows",
        )
        instructions = config.deploy_instructions(shown, ep.host, 6379, tls_port)
        return ServerStep([], "sandbox: none (external target)", instructions, check)

    def live_checks(self) -> list[CheckResult]:
        return sandbox.verify_external(self._endpoint)

    def expected_server_serial(self) -> str | None:
        return None

    def openssl_command(self) -> str:
        ep = self._endpoint
        return client.openssl_snippet(ep.host, ep.port, ep.files, ep.server_name).text

    def toolkit(self) -> Toolkit:
        from runbook.book import toolkit

        return toolkit.toolkit_external(self._endpoint, self.work / "external")


def from_params(
    work: Path | str | None,
    target: str = "sandbox",
    redis_host: str = "",
    redis_port: int = 0,
    server_name: str = "",
    ca_file: str = "",
    client_cert: str = "",
    client_key: str = "",
    *,
    client_name: str = pki.DEFAULT_CLIENT,
    topology: str = "standalone",
    backend: str = "",
) -> Target:
    """The target from a notebook's common parameters (the external-target contract, docs/external-target.md).

    ``work`` is the notebook's ``work_dir`` parameter or a path: empty means ``$RUNBOOK_WORK_DIR``, else
    ``build/work`` (:func:`runbook.workdir.work_dir`, which creates it); the target's ``work`` is the
    resolved folder. Checks the parameters only; starts and connects to nothing. ``client_name``, ``topology`` and
    ``backend`` choose the sandbox's client certificate and servers (the external target has its
    own). An unknown target or incomplete external parameters raise a one-line RunbookError.
    """
    endpoint = client.target_endpoint(
        target, redis_host, redis_port, server_name, ca_file, client_cert, client_key
    )
    folder = workdir.work_dir(work or None)
    if endpoint is None:
        return SandboxTarget(folder, client_name, topology, backend)
    return ExternalTarget(folder, endpoint)
