"""The TLS settings the runbook writes: presets, the directive table, :class:`TlsSettings`.

``strict`` closes the plaintext port, requires mutual TLS, allows TLS 1.2 + 1.3 with ECDHE + AEAD
ciphers only, prefers the server's cipher order and caches sessions. ``migration`` keeps the
plaintext port open on loopback only (loudly flagged as temporary) with TLS beside it. Whenever
replication or cluster is on, the outgoing links present a clientAuth certificate
(``tls-client-cert-file``): a server-only certificate is refused by a primary that requires client
certificates, with nothing logged at the default level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runbook import pki
from runbook.errors import RunbookError

Preset = Literal["strict", "migration"]
PRESETS: tuple[str, ...] = ("strict", "migration")
AUTH_CLIENTS: tuple[str, ...] = ("yes", "optional", "no")
NODE_CLIENT = "redis-node"  # the clientAuth identity of outgoing replication / cluster links

STRICT_PROTOCOLS = "TLSv1.2 TLSv1.3"
STRICT_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)
STRICT_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

# Every TLS directive of Redis 7 with the one-line comment render() writes above it.
TLS_DIRECTIVES: dict[str, str] = {
    "port": "Plaintext port: 0 closes it, so clients can only speak TLS.",
    "tls-port": "The TLS port clients connect to.",
    "tls-cert-file": "Server certificate (PEM, chain allowed) presented to clients and replicas.",
    "tls-key-file": "Private key of tls-cert-file (keep it 0600, owned by the redis user).",
    "tls-key-file-pass": "Passphrase of tls-key-file (keep this file 0600).",
    "tls-client-cert-file": "Certificate with clientAuth presented on outgoing replication/cluster links.",
    "tls-client-key-file": "Private key of tls-client-cert-file.",
    "tls-client-key-file-pass": "Passphrase of tls-client-key-file (keep this file 0600).",
    "tls-dh-params-file": "DH parameters, only needed for DHE ciphers (the strict preset uses none).",
    "tls-ca-cert-file": "CA bundle that client, replica and cluster-peer certificates must chain to.",
    "tls-ca-cert-dir": "Directory of hashed CA certificates (alternative to tls-ca-cert-file).",
    "tls-auth-clients": "yes: every client must present a certificate signed by the CA (mutual TLS).",
    "tls-replication": "Replication links (this server as a replica) use TLS.",
    "tls-cluster": "The cluster bus between nodes uses TLS.",
    "tls-protocols": "Only TLS 1.2 and TLS 1.3; TLSv1 and TLSv1.1 are broken.",
    "tls-ciphers": "TLS 1.2 ciphers: ECDHE key exchange with AEAD encryption only (no CBC, RC4, 3DES).",
    "tls-ciphersuites": "TLS 1.3 suites: AES-GCM and ChaCha20-Poly1305.",
    "tls-prefer-server-ciphers": "The server's cipher order wins over the client's.",
    "tls-session-caching": "Cache TLS sessions so reconnecting clients resume cheaply.",
    "tls-session-cache-size": "Number of cached TLS sessions.",
    "tls-session-cache-timeout": "Seconds a cached TLS session stays valid.",
}
YES_NO = ("yes", "no")
# Directives whose value must be one of a few words (Redis refuses to start otherwise).
ENUMS: dict[str, tuple[str, ...]] = {
    "tls-auth-clients": AUTH_CLIENTS,
    "tls-replication": YES_NO,
    "tls-cluster": YES_NO,
    "tls-prefer-server-ciphers": YES_NO,
    "tls-session-caching": YES_NO,
    "cluster-enabled": YES_NO,
}
KNOWN_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@dataclass
class TlsSettings:
    """What :func:`render` writes. ``None`` / empty means "leave the directive out"."""

    cert_file: str
    key_file: str
    ca_cert_file: str = ""
    tls_port: int = 6379
    port: int = 0
    bind: str = ""
    key_file_pass: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    client_key_file_pass: str = ""
    dh_params_file: str = ""
    ca_cert_dir: str = ""
    auth_clients: str = "yes"
    replication: bool = False
    cluster: bool = False
    protocols: str = STRICT_PROTOCOLS
    ciphers: str = STRICT_CIPHERS
    ciphersuites: str = STRICT_CIPHERSUITES
    prefer_server_ciphers: bool | None = True
    session_caching: bool | None = True
    session_cache_size: int | None = None
    session_cache_timeout: int | None = None
    preset: str = "strict"

    def validate(self) -> None:
        if self.auth_clients not in AUTH_CLIENTS:
            raise RunbookError(
                f"tls-auth-clients {self.auth_clients!r} is not valid: choose {', '.join(AUTH_CLIENTS)}"
            )
        for name, value in (("tls-port", self.tls_port), ("port", self.port)):
            if not 0 <= value <= 65535:
                raise RunbookError(f"{name} {value} is out of range: use 1-65535 (0 closes the port)")
        if self.tls_port == 0:
            raise RunbookError("tls-port 0 disables TLS: pass a port such as --tls-port 6379")
        if self.port and self.port == self.tls_port:
            raise RunbookError(f"port and tls-port are both {self.port}: give them different numbers")
        bad = [p for p in self.protocols.split() if p not in KNOWN_PROTOCOLS]
        if bad:
            raise RunbookError(f"unknown TLS protocol {bad[0]!r}: use TLSv1.2 and/or TLSv1.3")
        if (self.replication or self.cluster) and not self.client_cert_file:
            raise RunbookError(
                "replication/cluster links need a clientAuth certificate: set client_cert_file "
                f"(settings_for_pki issues {NODE_CLIENT} for you)"
            )


def settings_for_pki(
    pki_dir: Path | str,
    preset: str = "strict",
    *,
    tls_port: int | None = None,
    auth_clients: str = "yes",
    plaintext_port: int | None = None,
    replication: bool = False,
    cluster: bool = False,
    node_client: str = NODE_CLIENT,
) -> TlsSettings:
    """Settings for the PKI in ``pki_dir`` (absolute paths) under ``preset``. Reads nothing.

    ``strict`` puts TLS on 6379 by default. ``migration`` keeps the plaintext port (default 6379,
    or ``plaintext_port``) open, bound to loopback only, with TLS beside it (default 6380). With ``replication``/``cluster`` the outgoing links use the ``node_client``
    certificate (``clients/redis-node.crt``, clientAuth): see :func:`ensure_node_client`.
    """
    if preset not in PRESETS:
        raise RunbookError(f"unknown preset {preset!r}: choose {' or '.join(PRESETS)}")
    paths = pki.PkiPaths(Path(pki_dir).resolve())
    if preset == "migration":
        port = 6379 if plaintext_port is None else plaintext_port
        tls_port = 6380 if tls_port is None else tls_port
        bind = "127.0.0.1 -::1"
    else:
        port = plaintext_port or 0
        tls_port = 6379 if tls_port is None else tls_port
        bind = ""
    settings = TlsSettings(
        cert_file=str(paths.server_cert),
        key_file=str(paths.server_key),
        ca_cert_file=str(paths.ca_cert),
        tls_port=tls_port,
        port=port,
        bind=bind,
        auth_clients=auth_clients,
        replication=replication,
        cluster=cluster,
        preset=preset,
    )
    if replication or cluster:
        settings.client_cert_file = str(paths.client_cert(node_client))
        settings.client_key_file = str(paths.client_key(node_client))
    settings.validate()
    return settings
