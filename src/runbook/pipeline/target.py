"""What a whole run points at: the sandbox, or an external Redis given by host, port and files.

:class:`RunTarget` is the run's connection parameters, validated before any notebook starts (from
``--target``, the params YAML and the ``--host``/``--port``/... options) and handed to every notebook that
declares them. Inside a notebook those parameters become a :class:`runbook.book.Target`
(``SandboxTarget`` / ``ExternalTarget``), the object the notebook's steps work against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.client import Endpoint, TlsClientFiles
from runbook.client.endpoint import PARAMETER_FLAGS, TARGETS
from runbook.errors import RunbookError

#: Connection parameters of the target; notebooks that declare them receive them.
CONNECTION_PARAMETERS = ("redis_host", "redis_port", "server_name", "ca_file", "client_cert", "client_key")
#: Parameters the pipeline itself gives every notebook that declares them.
COMMON_PARAMETERS = ("target", *CONNECTION_PARAMETERS)
#: Connection parameters that name files (resolved to absolute paths).
PATH_PARAMETERS = ("ca_file", "client_cert", "client_key")


@dataclass(frozen=True)
class RunTarget:
    """What a run points at: ``kind`` and, for ``external`` (nothing is started or stopped), its
    :class:`~runbook.client.Endpoint`. A plain, comparable value; :meth:`parameters` turns it back
    into the notebooks' common parameters."""

    kind: str = "sandbox"
    endpoint: Endpoint | None = None

    @property
    def address(self) -> str | None:
        """``host:port`` of an external target (IPv6 in brackets); None for the sandbox."""
        return self.endpoint.address if self.endpoint is not None else None

    def parameters(self) -> dict[str, Any]:
        """The common parameters notebooks receive (sandbox: only ``target``)."""
        ep = self.endpoint
        if ep is None:
            return {"target": self.kind}
        connection = (ep.host, ep.port, ep.server_name, ep.files.ca, ep.files.cert or "", ep.files.key or "")
        return dict(zip(CONNECTION_PARAMETERS, connection, strict=True)) | {"target": self.kind}


def resolve_target(kind: str | None, common: Mapping[str, Any], overrides: Mapping[str, Any]) -> RunTarget:
    """The target from ``--target`` / the YAML ``target`` key and the connection parameters.

    ``external`` needs ``redis_host``, ``redis_port`` and an existing ``ca_file``; ``client_cert``
    and ``client_key`` go together; ``server_name`` defaults to ``redis_host``. The sandbox takes
    no connection parameters (the notebooks find the sandbox in the work dir).
    """
    given = {k: common[k] for k in CONNECTION_PARAMETERS if common.get(k) not in (None, "", 0)}
    given.update({k: v for k, v in overrides.items() if v not in (None, "", 0)})
    chosen = kind or str(common.get("target") or "sandbox")
    if chosen not in TARGETS:
        raise RunbookError(f"unknown target {chosen!r}: choose sandbox or external")
    if chosen == "sandbox":
        if given:
            raise RunbookError(
                f"{', '.join(f'{k} ({PARAMETER_FLAGS[k]})' for k in CONNECTION_PARAMETERS if k in given)} only apply to "
                "--target external: remove them or add --target external"
            )
        return RunTarget()
    missing = [k for k in ("redis_host", "redis_port", "ca_file") if not given.get(k)]
    if missing:
        raise RunbookError(
            f"--target external needs {', '.join(missing)}: pass {PARAMETER_FLAGS[missing[0]]} or set it in the params file"
        )
    try:
        port = int(given["redis_port"])
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise RunbookError(f"redis_port {given['redis_port']!r} is not a TCP port: give 1-65535")
    if bool(given.get("client_cert")) != bool(given.get("client_key")):
        raise RunbookError("client_cert and client_key go together: give both (mutual TLS) or neither")
    paths = {}
    for key in PATH_PARAMETERS:
        if given.get(key):
            path = Path(str(given[key])).expanduser().resolve()
            if not path.is_file():
                raise RunbookError(f"{key} {path} not found: give the path of an existing PEM file")
            paths[key] = str(path)
    host = str(given["redis_host"])
    files = TlsClientFiles(paths["ca_file"], paths.get("client_cert"), paths.get("client_key"))
    return RunTarget(
        "external", Endpoint(host, port, str(given.get("server_name") or host), files, external=True)
    )
