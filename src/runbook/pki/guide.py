"""A PKI made the way a common guide's ``openssl`` lines make it: what most deployments start from.

The guide's CA comes from ``openssl req -x509`` with OpenSSL's default ``v3_ca`` section: critical
basicConstraints and key identifiers, but **no keyUsage**, so Redis, ``redis-cli`` and OpenSSL accept
it while strict clients (Python 3.13's default context, ``openssl verify -x509_strict``) refuse it.
The server certificate carries a subjectAltName from an extfile and no extendedKeyUsage (so Redis can
also present it on its replication links); the client certificate has no extensions at all.

:func:`write_guide_pki` runs exactly those lines (the real ``openssl`` binary) to give the adoption
notebook and the labs a deployment the runbook did not build. Writes files (never over existing ones).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runbook.errors import RunbookError

GUIDE_FILES = ("ca.key", "ca.crt", "redis.key", "redis.crt", "client.key", "client.crt")


def guide_lines(server_name: str = "localhost", ip: str = "127.0.0.1") -> list[str]:
    """The guide's ``openssl`` lines, as an operator copies them (run by :func:`write_guide_pki`)."""
    sign = "openssl x509 -req -sha256 -CA ca.crt -CAkey ca.key -CAcreateserial -days 365"
    return [
        "openssl genrsa -out ca.key 4096",
        "openssl req -x509 -new -nodes -sha256 -key ca.key -days 3650 -subj '/CN=Redis CA' -out ca.crt",
        "openssl genrsa -out redis.key 2048",
        f"printf 'subjectAltName=DNS:{server_name},IP:{ip}\\n' > san.ext",
        f"openssl req -new -sha256 -key redis.key -subj '/CN={server_name}' | {sign} -extfile san.ext -out redis.crt",
        "openssl genrsa -out client.key 2048",
        f"openssl req -new -sha256 -key client.key -subj '/CN=redis-client' | {sign} -out client.crt",
    ]


@dataclass(frozen=True)
class GuidePki:
    """The files a guide leaves in one folder (the names it uses)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "redis.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "redis.key"

    @property
    def client_cert(self) -> Path:
        return self.root / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.root / "client.key"


def write_guide_pki(directory: Path | str, server_name: str = "localhost", ip: str = "127.0.0.1") -> GuidePki:
    """Run :func:`guide_lines` with the real ``openssl`` into ``directory``. Writes files.

    Built in a private temporary folder beside ``directory`` and moved into place whole, so a
    failure leaves nothing partial; ``directory`` must not exist yet (or be empty): nothing is
    overwritten. Raises RunbookError naming the cause (no ``openssl``, a non-empty folder).
    """
    target = Path(directory)
    if target.exists() and any(target.iterdir()):
        raise RunbookError(
            f"{target} is not empty: give a new folder for the guide's PKI (nothing is overwritten)"
        )
    if shutil.which("openssl") is None:
        raise RunbookError("the openssl command is missing: apt-get install openssl")
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".guide-", dir=target.parent))  # 0700 until moved into place
    try:
        for line in guide_lines(server_name, ip):
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", line],
                cwd=build,
                capture_output=True,
                check=False,
                timeout=120,
            )
            if done.returncode:
                reason = done.stderr.decode(errors="replace").strip().splitlines()
                raise RunbookError(
                    f"openssl failed on the guide's line {line!r}: {reason[-1] if reason else 'no output'}"
                )
        (build / "san.ext").unlink()
        if target.exists():
            target.rmdir()
        build.rename(target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return GuidePki(target)
