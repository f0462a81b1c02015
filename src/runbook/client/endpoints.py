"""The run's target: the Redis a notebook talks to (sandbox or external), from notebook parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook.client.contexts import TlsClientFiles
from runbook.errors import RunbookError

TARGETS: tuple[str, ...] = ("sandbox", "external")
#: The command-line option of each connection parameter (the one flag set of every command).
PARAMETER_FLAGS: dict[str, str] = {
    "redis_host": "--host",
    "redis_port": "--port",
    "server_name": "--server-name",
    "ca_file": "--ca",
    "client_cert": "--cert",
    "client_key": "--key",
}


@dataclass(frozen=True)
class Endpoint:
    """The Redis a notebook talks to: where, the name its certificate must carry, the client files.

    ``external`` is True for a server the operator runs (nothing may be started or stopped).
    """

    host: str
    port: int
    server_name: str
    files: TlsClientFiles
    external: bool = False

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets), as the audit evidence spells it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """What a notebook shows as the target: ``sandbox`` or the external ``host:port``."""
        return self.address if self.external else "sandbox"

    @property
    def client_label(self) -> str:
        """The client certificate in use, by file name (``none``: no client certificate)."""
        return Path(self.files.cert).stem if self.files.cert else "none"


def target_endpoint(
    target: str,
    redis_host: str = "",
    redis_port: int = 0,
    server_name: str = "",
    ca_file: str = "",
    client_cert: str = "",
    client_key: str = "",
) -> Endpoint | None:
    """The external target from the notebook parameters (docs/external-target.md); None for the sandbox.

    Checks the parameters only (opens no connection): host, port and an existing CA file are
    required, ``client_cert`` and ``client_key`` go together, ``server_name`` defaults to the host.
    """
    if target not in TARGETS:
        raise RunbookError(f"unknown target {target!r}: set target to sandbox or external")
    if target == "sandbox":
        return None
    missing = [
        n for n, v in (("redis_host", redis_host), ("redis_port", redis_port), ("ca_file", ca_file)) if not v
    ]
    if missing:
        raise RunbookError(
            f"target external needs {', '.join(missing)}: set it (runbook run {PARAMETER_FLAGS[missing[0]]})"
        )
    if bool(client_cert) != bool(client_key):
        raise RunbookError("client_cert and client_key go together: set both or neither")
    if not 0 < int(redis_port) < 65536:
        raise RunbookError(f"redis_port {redis_port} is not a TCP port: pass --port, the server's TLS port")
    for name, value in (("ca_file", ca_file), ("client_cert", client_cert), ("client_key", client_key)):
        if value and not Path(value).is_file():
            flag = PARAMETER_FLAGS[name]
            raise RunbookError(f"{name} {value} is not a file: pass the PEM file's path with {flag}")
    files = TlsClientFiles(ca_file, client_cert or None, client_key or None)
    return Endpoint(redis_host, int(redis_port), server_name or redis_host, files, external=True)
