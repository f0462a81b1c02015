"""Apply TLS directives to a running server, and the commands to deploy them on an external one.

:func:`apply_tls` changes a running server with one ``CONFIG SET`` (atomic in Redis 7) and
``CONFIG REWRITE`` only when the server runs from a config file we own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.config.settings import TLS_DIRECTIVES
from runbook.config.syntax import split_args
from runbook.errors import RunbookError


@dataclass(frozen=True)
class ApplyReport:
    """What :func:`apply_tls` changed on a server (values never include passphrases)."""

    changed: list[str]
    rewritten: bool
    config_file: str


def config_set_args(items: Mapping[str, str]) -> list[str]:
    """Directives (redis.conf-quoted) -> flat ``CONFIG SET`` arguments (unquoted values)."""
    out: list[str] = []
    for name, value in items.items():
        out += [name, " ".join(split_args(value))]
    return out


def apply_tls(client: Any, items: Mapping[str, str], *, owned_dir: Path | str | None = None) -> ApplyReport:
    """Apply TLS directives to a running server. Changes the server.

    One ``CONFIG SET`` with every pair (atomic in Redis 7: all or nothing). ``CONFIG REWRITE``
    follows only when the server's config file lies under ``owned_dir`` (a file we generated).
    """
    tls_items = {k: v for k, v in items.items() if k in TLS_DIRECTIVES}
    if not tls_items:
        raise RunbookError("nothing to apply: give TLS directives such as tls-cert-file")
    client.execute_command("CONFIG", "SET", *config_set_args(tls_items))
    info = client.info("server")
    conf_file = str(info.get("config_file") or "")
    rewritten = False
    if owned_dir and conf_file and Path(conf_file).resolve().is_relative_to(Path(owned_dir).resolve()):
        client.execute_command("CONFIG", "REWRITE")
        rewritten = True
    return ApplyReport(sorted(tls_items), rewritten, conf_file)


def deploy_instructions(conf_path: str, host: str, port: int, tls_port: int, pki_dir: str = "pki") -> str:
    """The commands an operator runs to deploy a rendered TLS section on an external server."""
    cli = (
        f"redis-cli -h {host} -p {tls_port} --tls --cacert {pki_dir}/ca.crt "
        f"--cert {pki_dir}/redis-client.crt --key {pki_dir}/redis-client.key"
    )
    return "\n".join(
        [
            "# 1. copy the certificates and the TLS section to the server (keys 0600, owned by redis)",
            f"scp {pki_dir}/ca.crt {pki_dir}/redis-server.crt {pki_dir}/redis-server.key {host}:/etc/redis/tls/",
            f"scp {conf_path} {host}:/etc/redis/tls.conf",
            "# 2. include it from redis.conf (last line, so it wins) and check it",
            f"ssh {host} \"grep -q '^include /etc/redis/tls.conf' /etc/redis/redis.conf || "
            "echo 'include /etc/redis/tls.conf' | sudo tee -a /etc/redis/redis.conf\"",
            f"python -m runbook config lint {conf_path}",
            "# 3a. a first switch to TLS (tls-port was 0) needs a restart",
            f"ssh {host} sudo systemctl restart redis-server",
            "# 3b. later certificate changes reload without a restart (one atomic CONFIG SET)",
            f"{cli} CONFIG SET tls-cert-file /etc/redis/tls/redis-server.crt "
            "tls-key-file /etc/redis/tls/redis-server.key tls-ca-cert-file /etc/redis/tls/ca.crt",
            "# 4. verify: TLS answers, plaintext is refused",
            f"{cli} PING",
            f"redis-cli -h {host} -p {port} PING   # must fail",
        ]
    )
