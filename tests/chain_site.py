"""A root -> intermediate -> leaf deployment (the way step-ca and Vault issue), served by a real redis-server.

Kept small and self-contained so it can move into ``tests/corpus.py`` (the adopt work's recipes)
once that lands on main. Files, as such deployments keep them::

    root.crt            the only anchor the clients trust (their --ca)
    bundle.crt          root + intermediate: the server's tls-ca-cert-file
    intermediate.crt    the issuing CA; intermediate.key signs leaves (--ca-key)
    redis.crt/.key      the server's tls-cert-file: leaf + intermediate (as step writes it)
    client.crt/.key     the operator's admin identity, issued by the intermediate
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from runbook import pki, sandbox
from runbook.client import TlsClientFiles

PEM = serialization.Encoding.PEM


def _key_usage_ca() -> x509.KeyUsage:
    return x509.KeyUsage(False, False, False, False, False, True, True, False, False)


def _ca(name: str, issuer: pki.Issued | None, path_length: int | None) -> pki.Issued:
    key = pki.generate_key("ecdsa-p256")
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    signer_ski = (
        issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value if issuer else ski
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage_ca(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(signer_ski), False)
        .sign(issuer.key if issuer else key, hashes.SHA256())
    )
    return pki.Issued(cert, key)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(PEM) for c in certs)


def write_key(path: Path, issued: pki.Issued) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(issued.key_pem())
    return path


@dataclass(frozen=True)
class ChainSite:
    root: Path
    anchor: pki.Issued  # the root CA
    inter: pki.Issued  # the issuing intermediate

    @property
    def root_ca(self) -> Path:
        return self.root / "root.crt"

    @property
    def bundle(self) -> Path:
        return self.root / "bundle.crt"

    @property
    def cert(self) -> Path:
        return self.root / "redis.crt"

    @property
    def key(self) -> Path:
        return self.root / "redis.key"

    @property
    def inter_key(self) -> Path:
        return self.root / "intermediate.key"

    @property
    def files(self) -> TlsClientFiles:
        """The operator's admin identity, trusting only the root (as every client does)."""
        return TlsClientFiles(str(self.root_ca), str(self.root / "client.crt"), str(self.root / "client.key"))

    def leaf(
        self, *, with_intermediate: bool, out: Path, name: str = "renewed", days: int = 365
    ) -> tuple[Path, Path]:
        """A renewed server pair signed by the intermediate: ``out/NAME.crt`` (leaf, or leaf +
        intermediate as step writes it) and ``out/NAME.key``."""
        out.mkdir(parents=True, exist_ok=True)
        new = pki.make_leaf(
            self.inter, "redis", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"], days=days
        )
        cert = out / f"{name}.crt"
        cert.write_bytes(pem(new.cert, self.inter.cert) if with_intermediate else pem(new.cert))
        return cert, write_key(out / f"{name}.key", new)


def build(root: Path) -> ChainSite:
    """Write the files of a root -> intermediate deployment under ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    anchor = _ca("Chain Root CA", None, 1)
    inter = _ca("Chain Intermediate CA", anchor, 0)
    site = ChainSite(root, anchor, inter)
    site.root_ca.write_bytes(pem(anchor.cert))
    site.bundle.write_bytes(pem(anchor.cert, inter.cert))
    (root / "intermediate.crt").write_bytes(pem(inter.cert))
    write_key(site.inter_key, inter)
    server = pki.make_leaf(inter, "redis", purpose="server", hostnames=["localhost"], ips=["127.0.0.1"])
    site.cert.write_bytes(pem(server.cert, inter.cert))
    write_key(site.key, server)
    client = pki.make_leaf(inter, "redis-admin", purpose="client", hostnames=["redis-admin"])
    (root / "client.crt").write_bytes(pem(client.cert, inter.cert))
    write_key(root / "client.key", client)
    return site


def directives(cert: Path, key: Path, ca: Path, node_dir: Path, port: int) -> dict[str, str]:
    """A mutual-TLS-only redis-server serving ``cert``/``key`` and trusting ``ca``."""
    return {
        "bind": "127.0.0.1",
        "port": "0",
        "tls-port": str(port),
        "tls-cert-file": str(cert),
        "tls-key-file": str(key),
        "tls-ca-cert-file": str(ca),
        "tls-auth-clients": "yes",
        "tls-protocols": '"TLSv1.2 TLSv1.3"',
        "dir": str(node_dir),
        "logfile": str(node_dir / "redis.log"),
        "pidfile": str(node_dir / "redis.pid"),
        "daemonize": "no",
        "save": '""',
        "appendonly": "no",
    }


def start(
    site: ChainSite, node_dir: Path, cert: Path | None = None, key: Path | None = None, ca: Path | None = None
) -> sandbox.Node:
    """Start redis-server on a free loopback port serving the site's files; its tls-ca-cert-file is
    ``ca`` (default: the root + intermediate bundle)."""
    node_dir.mkdir(parents=True, exist_ok=True)
    port = sandbox.free_port()
    conf = directives(cert or site.cert, key or site.key, ca or site.bundle, node_dir, port)
    node = sandbox.start_node("chain", "primary", node_dir, conf, pki.PkiPaths(site.root), wait=False)
    _wait_port(port)
    return node


def _wait_port(port: int) -> None:
    """Until 127.0.0.1:``port`` accepts TCP (10 s at most; mutual TLS readiness needs our own layout)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"redis-server does not listen on {port}")
