"""The clientAuth certificate outgoing replication and cluster links present (``clients/redis-node.crt``).

A primary that requires client certificates refuses a replica (or a cluster peer) whose outgoing
link presents a serverAuth-only certificate (the replica logs each refused replication handshake, as
"sslv3 alert unsupported certificate" or a reset connection, and its link stays down:
``master_link_status:down``); so whenever
replication or cluster is on, :func:`ensure_node_client` issues this identity from the existing CA.
"""

from __future__ import annotations

from pathlib import Path

from runbook import pki
from runbook.config.settings import NODE_CLIENT
from runbook.errors import RunbookError


def ensure_node_client(pki_dir: Path | str, name: str = NODE_CLIENT) -> tuple[Path, Path]:
    """Issue the clientAuth certificate of outgoing replication/cluster links if missing. Writes files.

    Uses :func:`runbook.pki.create_pki` on the existing PKI with a spec taken from the server
    certificate itself, so nothing else is touched. Idempotent. Returns (cert, key).
    """
    paths = pki.PkiPaths(Path(pki_dir))
    cert, key = paths.client_cert(name), paths.client_key(name)
    if cert.exists() and key.exists():
        return cert, key
    if not paths.server_cert.exists():
        raise RunbookError(f"no server certificate in {paths.root}: run notebook 01 or `runbook pki create`")
    info = pki.inspect(paths.server_cert)
    ca_pass = (
        pki.passphrase_from_env(pki.CA_ENV)
        if paths.ca_key.exists() and pki.key_is_encrypted(paths.ca_key)
        else None
    )
    spec = pki.PkiSpec(
        hostnames=[s[4:] for s in info.sans if s.startswith("DNS:")],
        ips=[s[3:] for s in info.sans if s.startswith("IP:")],
        local_names=False,
        clients=[name],
        key_type=info.key_type,
        ca_passphrase=ca_pass,
    )
    pki.create_pki(paths.root, spec)
    return cert, key
