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
    """Where each file of one PKI directory lives (names operators know from common guides).

    :meth:`operator` describes a deployment's own files instead (``--ca --cert --key --ca-key``, any
    names, anywhere): ``root`` is then only where backups go, the CA and the one client identity are
    the files given, and nothing else of the runbook's layout exists there (``own`` is False).
    """

    root: Path
    ca_file: Path | None = None
    ca_key_file: Path | None = None
    client_files: tuple[Path, Path] | None = None

    @classmethod
    def operator(
        cls,
        root: Path,
        ca: Path | str,
        ca_key: Path | str | None,
        cert: Path | str | None,
        key: Path | str | None,
    ) -> PkiPaths:
        """The operator's files: the CA the clients trust, its key (any name) and one client identity."""
        return cls(
            Path(root),
            Path(ca),
            Path(ca_key) if ca_key else None,
            (Path(cert), Path(key)) if cert and key else None,
        )

    @property
    def own(self) -> bool:
        """True for the runbook's own layout (a ``--dir``), False for :meth:`operator` files."""
        return self.ca_file is None

    @property
    def ca_cert(self) -> Path:
        return self.ca_file or self.root / CA_CERT

    @property
    def ca_key(self) -> Path:
        return self.ca_key_file or self.root / CA_KEY

    @property
    def server_cert(self) -> Path:
        return self.root / SERVER_CERT

    @property
    def server_key(self) -> Path:
        return self.root / SERVER_KEY

    def client_cert(self, name: str = DEFAULT_CLIENT) -> Path:
        if self.client_files and name == DEFAULT_CLIENT:  # operator files: their one identity
            return self.client_files[0]
        return self.root / f"{name}.crt" if name == DEFAULT_CLIENT else self.root / "clients" / f"{name}.crt"

    def client_key(self, name: str = DEFAULT_CLIENT) -> Path:
        if self.client_files and name == DEFAULT_CLIENT:
            return self.client_files[1]
        return self.root / f"{name}.key" if name == DEFAULT_CLIENT else self.root / "clients" / f"{name}.key"

    def client_names(self) -> list[str]:
        """Names of the client certificates present on disk, default client first."""
        names = [DEFAULT_CLIENT] if self.client_cert().is_file() else []
        if not self.own:
            return names
        clients = self.root / "clients"
        if clients.is_dir():
            names += sorted(p.stem for p in clients.glob("*.crt"))
        return names
