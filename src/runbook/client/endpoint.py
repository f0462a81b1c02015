"""The one Redis endpoint type, its IPv6-safe address, and the external endpoint from notebook parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace
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


NO_FILES = TlsClientFiles("")  # no CA given (system trust), no client certificate


def address(host: str, port: int) -> str:
    """``host:port`` with an IPv6 host in brackets (``[::1]:6380``): how every report spells a server."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Endpoint:
    """A Redis endpoint: where it listens, the name its certificate must carry, and who we are to it.

    The one type for "a Redis server to talk to": the audit, the diagnosis, rotation, the watcher,
    the fleet, the sandbox, the benchmarks and the notebooks all take one. ``server_name`` is the
    name verified in the certificate and sent as SNI ("" means ``host``); ``files`` the CA to trust
    and, for mutual TLS, the client certificate and key (an empty ``ca`` trusts the system store,
    as an application without a CA setting does);
    ``name`` an operator's label (an inventory host name); ``external`` is True for a server the
    operator runs (the runbook never starts or stops it).
    """

    host: str
    port: int
    server_name: str = ""
    files: TlsClientFiles = NO_FILES
    name: str = ""
    external: bool = False

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets): reports, evidence, Prometheus ``target`` labels."""
        return address(self.host, self.port)

    @property
    def hostname(self) -> str:
        """The name a handshake verifies and sends as SNI: ``server_name``, else ``host``."""
        return self.server_name or self.host

    @property
    def label(self) -> str:
        """The operator's name for the endpoint, else its address."""
        return self.name or self.address

    @property
    def who(self) -> str:
        """The label with the address when the endpoint has a name (``cache-1 at 10.0.0.5:6380``)."""
        return f"{self.name} at {self.address}" if self.name else self.address

    @property
    def client_label(self) -> str:
        """The client certificate in use, by file name (``none``: no client certificate)."""
        return Path(self.files.cert).stem if self.files.cert else "none"

    def with_files(self, files: TlsClientFiles) -> Endpoint:
        """The same server, seen with another TLS identity."""
        return replace(self, files=files)


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
