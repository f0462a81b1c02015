"""Commands an operator runs by hand: deploying to a server whose files we cannot see, restarting a Sentinel.

Plain text; nothing here runs a command, writes a file or touches a server.
"""

from __future__ import annotations

import shlex

from runbook import pki
from runbook.rotation.targets import NodeTarget


def sentinel_procedure(node: NodeTarget, paths: pki.PkiPaths) -> list[str]:
    """The restart procedure for a Sentinel (it cannot reload TLS files at runtime)."""
    cli = _cli(node, paths)
    return [
        "# Sentinel reads its TLS files only at start: rotate by restarting each Sentinel in turn.",
        f"# 1. put the new files in place on the Sentinel host (keep the old ones: cp -p {paths.server_cert} {paths.server_cert}.bak)",
        f"# 2. check the quorum first: {cli} SENTINEL CKQUORUM <master-name>",
        "# 3. restart this Sentinel only (its config file keeps its state): systemctl restart redis-sentinel",
        f"# 4. verify it answers over TLS with the new certificate: {cli} PING",
        f"# 5. verify it sees the master again before the next one: {cli} SENTINEL MASTERS",
        "# 6. repeat for the next Sentinel; never restart a majority at once",
    ]


def _cli(node: NodeTarget, paths: pki.PkiPaths, client: str = pki.DEFAULT_CLIENT) -> str:
    return (
        f"redis-cli -h {node.endpoint.host} -p {node.endpoint.port} --tls --cacert {shlex.quote(str(paths.ca_cert))} "
        f"--cert {shlex.quote(str(paths.client_cert(client)))} --key {shlex.quote(str(paths.client_key(client)))}"
    )


def deploy_commands(node: NodeTarget, paths: pki.PkiPaths, host_alias: str = "") -> list[str]:
    """Exact commands to deploy the new server files to a server that reads its own paths, and reload it."""
    cert, key = node.cert_file or "<tls-cert-file>", node.key_file or "<tls-key-file>"
    dest = f"{host_alias}:" if host_alias else ""
    return [
        "# on the Redis host, as the user redis runs as; the paths are the server's own (CONFIG GET tls-*)",
        f"cp -p {shlex.quote(cert)} {shlex.quote(cert)}.bak && cp -p {shlex.quote(key)} {shlex.quote(key)}.bak",
        f"install -m 0644 {shlex.quote(str(paths.server_cert))} {dest}{shlex.quote(cert)}.new && mv {shlex.quote(cert)}.new {shlex.quote(cert)}",
        f"install -m 0600 {shlex.quote(str(paths.server_key))} {dest}{shlex.quote(key)}.new && mv {shlex.quote(key)}.new {shlex.quote(key)}",
        f"{_cli(node, paths)} CONFIG SET tls-cert-file {shlex.quote(cert)} tls-key-file {shlex.quote(key)}",
        f"python -m runbook rotate verify {_verify_files(paths)} --host {node.endpoint.host} --port {node.endpoint.port}",
    ]


def _verify_files(paths: pki.PkiPaths) -> str:
    """What ``rotate verify`` needs: the runbook's folder, or the operator's identity and the staged file."""
    if paths.own:
        return f"--dir {shlex.quote(str(paths.root))}"
    q = [
        shlex.quote(str(p))
        for p in (paths.ca_cert, paths.client_cert(), paths.client_key(), paths.server_cert)
    ]
    return f"--ca {q[0]} --cert {q[1]} --key {q[2]} --new-cert {q[3]}"
