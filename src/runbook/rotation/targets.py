"""The servers a rotation works on: :class:`NodeTarget`, discovery, and the certificate they serve.

:func:`discover_node` asks a running server which TLS files it reads (``CONFIG GET``) and its
role; :func:`served_certificate` is what a fresh strict handshake is presented. Both connect.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from runbook import pki
from runbook.client import Endpoint, TlsClientFiles, address, redis_client, tls_context
from runbook.errors import RunbookError


@dataclass
class NodeTarget:
    """One Redis node to rotate: its :class:`~runbook.client.Endpoint` and the TLS files it reads (its own paths).

    ``endpoint`` is where the node listens and how it was reached (the name verified, our client
    files, the operator's label); the rest is what the server itself reports: the files it reads
    (``CONFIG GET tls-*``), its ``dir``, mode, role and, for a replica, its primary's port.
    """

    endpoint: Endpoint
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    server_dir: str = ""
    mode: str = "standalone"  # standalone | cluster | sentinel
    role: str = "master"  # master | slave
    master_port: int = 0

    @property
    def name(self) -> str:
        """The node's name in reports: the endpoint's label (its name, else its IPv6-safe address)."""
        return self.endpoint.label

    def local(self, path: str) -> Path:
        """A path as the server reads it, resolved on this machine (relative paths: the server's dir)."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.server_dir or ".") / p


def admin_client(node: NodeTarget, tls: TlsClientFiles, server_hostname: str | None = None) -> redis.Redis:
    """One connection to the node's host whose certificate is verified for ``server_hostname``. Connects."""
    return redis_client(
        node.endpoint.host,
        node.endpoint.port,
        tls,
        server_hostname=server_hostname,
        socket_timeout=5.0,
        single_connection_client=True,
        mode="compatible",  # admin path: what Redis/OpenSSL accept (strictness is a finding)
    )


def served_certificate(
    host: str, port: int, tls: TlsClientFiles, server_hostname: str | None = None, timeout: float = 5.0
) -> x509.Certificate:
    """The certificate a fresh mutual-TLS handshake to ``host:port`` is presented (verified as Redis and
    OpenSSL verify: ``compatible`` mode). Connects."""
    ctx = tls_context(tls, mode="compatible")
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_hostname or host) as sock,
        ):
            der = sock.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise RunbookError(
            f"TLS handshake with {address(host, port)} failed ({' '.join(str(exc).split())}): "
            "check the address, the CA and the client certificate"
        ) from None
    if not der:
        raise RunbookError(f"{address(host, port)} presented no certificate: is it a TLS port?")
    return x509.load_der_x509_certificate(der)


def served_by(node: NodeTarget, tls: TlsClientFiles, server_hostname: str | None = None) -> x509.Certificate:
    """:func:`served_certificate` of ``node``, verified for ``server_hostname`` (default: its host). Connects."""
    ep = node.endpoint
    return served_certificate(ep.host, ep.port, tls, server_hostname or ep.host)


def serial_of(cert: x509.Certificate) -> str:
    """The serial number in upper-case hex, as ``openssl x509 -serial`` prints it."""
    return format(cert.serial_number, "X")


def fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 of the DER certificate: how "the same certificate" is told."""
    return cert.fingerprint(hashes.SHA256())


def call(client: redis.Redis, *args: Any) -> Any:
    """``execute_command`` with redis-py's reply parsing (INFO -> dict, CONFIG GET -> dict, ...)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def server_info(client: redis.Redis, section: str) -> dict[str, Any]:
    """One ``INFO`` section as redis-py parses it (a dict)."""
    data: dict[str, Any] = client.info(section)  # type: ignore[assignment, unused-ignore]  # redis-py < 8 types it loosely
    return data


def nodes_from_sandbox(box: Any, tls: TlsClientFiles) -> list[NodeTarget]:
    """The nodes of a running :class:`runbook.sandbox.Sandbox`, named as the sandbox names them."""
    return [discover_node(n.host, n.port, tls, name=n.name, server_hostname="localhost") for n in box.nodes]


def discover_node(
    host: str, port: int, tls: TlsClientFiles, name: str = "", server_hostname: str | None = None
) -> NodeTarget:
    """Ask a running server which TLS files it reads (``CONFIG GET``) and its role. Connects.

    It connects to ``host``; ``server_hostname`` (default ``host``) is the name its certificate
    is verified against.
    """
    node = NodeTarget(Endpoint(host, port, server_hostname or "", tls, name))
    try:
        client = admin_client(node, tls, server_hostname)
    except (redis.RedisError, OSError) as exc:
        raise RunbookError(
            f"cannot connect to {node.endpoint.address} over mutual TLS ({' '.join(str(exc).split())}): "
            "check the address, the server name, the CA and the client certificate"
        ) from None
    try:
        server = server_info(client, "server")
        node.mode = str(server.get("redis_mode", "standalone"))
        if node.mode == "sentinel":
            return node
        repl = server_info(client, "replication")
        try:
            config: dict[str, str] = {**client.config_get("tls-*"), **client.config_get("dir")}  # type: ignore[dict-item]
        except redis.ResponseError:
            config = {}  # CONFIG renamed or denied: an external target whose paths we cannot see
    except (redis.RedisError, OSError) as exc:
        raise RunbookError(
            f"cannot read the role of {node.endpoint.address} ({' '.join(str(exc).split())}): "
            "the client certificate must be allowed INFO"
        ) from None
    finally:
        client.close()
    _apply_config(node, config, repl)
    return node


def _apply_config(node: NodeTarget, config: dict[str, str], repl: dict[str, Any]) -> None:
    node.cert_file = config.get("tls-cert-file", "")
    node.key_file = config.get("tls-key-file", "")
    node.ca_file = config.get("tls-ca-cert-file", "")
    node.client_cert_file = config.get("tls-client-cert-file", "")
    node.client_key_file = config.get("tls-client-key-file", "")
    node.server_dir = config.get("dir", "")
    node.role = str(repl.get("role", "master"))
    node.master_port = int(repl.get("master_port", 0) or 0)


def server_settings(node: NodeTarget) -> list[tuple[str, str]]:
    """The ``CONFIG SET`` pairs that reload the node's own certificate and key."""
    return [("tls-cert-file", node.cert_file), ("tls-key-file", node.key_file)]


def tls_settings(node: NodeTarget, **changed: str) -> list[tuple[str, str]]:
    """Every TLS file the node reads as ``CONFIG SET`` pairs (one call reloads them all), with
    ``changed`` values replacing the node's own (keyword names with ``_`` for ``-``:
    ``tls_client_cert_file=...``). The outgoing-link pair is named when the node has one or it changes."""
    values = {
        "tls-cert-file": node.cert_file,
        "tls-key-file": node.key_file,
        "tls-ca-cert-file": node.ca_file,
        "tls-client-cert-file": node.client_cert_file,
        "tls-client-key-file": node.client_key_file,
        **{k.replace("_", "-"): v for k, v in changed.items()},
    }
    link = values["tls-client-cert-file"] or node.client_cert_file
    return [(k, v) for k, v in values.items() if v or (link and k.startswith("tls-client-"))]


def link_settings(node: NodeTarget) -> list[tuple[str, str]]:
    """The ``CONFIG SET`` pairs that reload the node's outgoing-link (replication/cluster) certificate."""
    return [("tls-client-cert-file", node.client_cert_file), ("tls-client-key-file", node.client_key_file)]


def serves_visible_files(node: NodeTarget, served: x509.Certificate) -> bool:
    """True when the server reads files we can see: the file at its cert path is what it presents."""
    if not node.cert_file or not node.key_file:
        return False
    cert_path, key_path = node.local(node.cert_file), node.local(node.key_file)
    if not (cert_path.is_file() and key_path.is_file() and os.access(cert_path.parent, os.W_OK)):
        return False
    try:
        return fingerprint(pki.load_cert(cert_path)) == fingerprint(served)
    except RunbookError:
        return False
