"""Where each file of one PKI directory lives, under the names operators know from common guides.

``ca.crt``/``ca.key``, ``redis-server.crt``/``.key``, ``redis-client.crt``/``.key``; further
clients (such as ``redis-node``, the identity of replication/cluster links) under ``clients/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "redis-server.crt"
SERVER_KEY = "redis-server.key"
DEFAULT_CLIENT = "redis-client"


@dataclass(frozen=True)
class PkiPaths:
    """Where each file of one PKI directory lives (names operators know from common guides)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / CA_CERT

    @property
    def ca_key(self) -> Path:
        return self.root / CA_KEY

    @property
    def server_cert(self) -> Path:
        return self.root / SERVER_CERT

    @property
    def server_key(self) -> Path:
        return self.root / SERVER_KEY

    def client_cert(self, name: str = DEFAULT_CLIENT) -> Path:
        return self.root / f"{name}.crt" if name == DEFAULT_CLIENT else self.root / "clients" / f"{name}.crt"

    def client_key(self, name: str = DEFAULT_CLIENT) -> Path:
        return self.root / f"{name}.key" if name == DEFAULT_CLIENT else self.root / "clients" / f"{name}.key"

    def client_names(self) -> list[str]:
        """Names of the client certificates present on disk, default client first."""
        names = [DEFAULT_CLIENT] if self.client_cert().exists() else []
        clients = self.root / "clients"
        if clients.is_dir():
            names += sorted(p.stem for p in clients.glob("*.crt"))
        return names
