"""``runbook sandbox image build``: a local Redis image from the OS packages, no registry.

``mmdebstrap --variant=essential --include=redis-server`` (with the merged-usr hook) writes a
Debian root file system as a tar stream from the same mirror apt uses; ``docker import`` turns it
into an image whose metadata says to run ``redis-server`` as the package's ``redis`` user, bound to
loopback. The recipe's digest is kept in the image's ``runbook.stamp`` label, so a second build
with the same recipe and tag is a no-op (``force`` rebuilds).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.errors import RunbookError
from runbook.sandbox.engine import (
    ENGINE_HINT,
    ImageInfo,
    docker_available,
    docker_error,
    docker_image,
    image_id,
    image_info,
)

RECIPE_VERSION = "1"
MERGED_USR_HOOK = "/usr/share/mmdebstrap/hooks/merged-usr"
SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")


@dataclass(frozen=True)
class BuildReport:
    """What ``image build`` did: the image (asked of itself), whether it was built now, how long."""

    info: ImageInfo
    built: bool
    seconds: float
    mirror: str
    suite: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.info.to_dict(),
            "built": self.built,
            "seconds": round(self.seconds, 1),
            "mirror": self.mirror,
            "suite": self.suite,
        }


def apt_mirror(sources: tuple[Path, ...] = SOURCES) -> tuple[str, str]:
    """(mirror URI, suite) of the first ``main`` Debian source apt uses (one-line or deb822 format)."""
    files: list[Path] = []
    for src in sources:
        files += sorted(src.glob("*.sources")) + sorted(src.glob("*.list")) if src.is_dir() else [src]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith(("#", " ")):
                        key, _, value = line.partition(":")
                        fields[key.strip().lower()] = value.split()
                if "deb" in fields.get("types", []) and fields.get("uris") and fields.get("suites"):
                    suite = fields["suites"][0]
                    if "security" not in suite and "main" in fields.get("components", ["main"]):
                        return fields["uris"][0], suite
        else:
            for line in text.splitlines():
                parts = [p for p in line.split() if not p.startswith("[")]
                if (
                    len(parts) >= 4
                    and parts[0] == "deb"
                    and "security" not in parts[2]
                    and "main" in parts[3:]
                ):
                    return parts[1], parts[2]
    raise RunbookError("no Debian 'deb ... main' source in /etc/apt/sources.list*: add one, then retry")


def build_commands(mirror: str, suite: str, tag: str, stamp: str) -> tuple[list[str], list[str]]:
    """The mmdebstrap command (a tar on stdout) and the ``docker import`` command that reads it."""
    strap = [
        "mmdebstrap",
        "--quiet",
        "--variant=essential",
        "--include=redis-server",
        f"--hook-dir={MERGED_USR_HOOK}",
        *(f"--dpkgopt=path-exclude={p}" for p in _EXCLUDES),
        suite,
        "-",
        f"deb {mirror} {suite} main",
    ]
    changes = [
        "USER redis",
        "WORKDIR /var/lib/redis",
        'CMD ["redis-server", "--bind", "127.0.0.1", "--protected-mode", "yes"]',
        f"LABEL runbook.stamp={stamp}",
    ]
    imp = ["docker", "import", *(x for c in changes for x in ("--change", c)), "-", tag]
    return strap, imp


def recipe_stamp(mirror: str, suite: str) -> str:
    """The digest of what the image is built from (recipe version, mirror, suite, commands)."""
    strap, imp = build_commands(mirror, suite, "TAG", "STAMP")
    return hashlib.sha256("\0".join([RECIPE_VERSION, *strap, *imp]).encode()).hexdigest()[:16]


def build_image(tag: str | None = None, *, force: bool = False, timeout: float = 600.0) -> BuildReport:
    """Build the Redis image with mmdebstrap + ``docker import`` unless the same recipe is there.

    Writes an image on the engine. Needs root (mmdebstrap) and an engine that answers.
    """
    name = docker_image(tag)
    ok, why = docker_available()
    if not ok:
        raise RunbookError(f"image build needs a Docker engine: {why}; {ENGINE_HINT}")
    mirror, suite = apt_mirror()
    stamp = recipe_stamp(mirror, suite)
    start = time.monotonic()
    if not force and image_id(name):
        info = image_info(name)
        if info.stamp == stamp:
            return BuildReport(info, False, time.monotonic() - start, mirror, suite)
    if not shutil.which("mmdebstrap"):
        raise RunbookError("mmdebstrap is not installed: apt-get install mmdebstrap (as root), then retry")
    if os.geteuid() != 0:
        raise RunbookError("image build runs mmdebstrap as root: run it with sudo (or build as root once)")
    strap_cmd, import_cmd = build_commands(mirror, suite, name, stamp)
    strap = subprocess.Popen(strap_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        imported = subprocess.run(
            import_cmd, stdin=strap.stdout, capture_output=True, text=True, timeout=timeout, check=False
        )
    finally:
        if strap.stdout:
            strap.stdout.close()
        _, err = strap.communicate(timeout=60)
    if strap.returncode != 0:
        last = next((ln for ln in reversed(err.decode(errors="replace").splitlines()) if ln.strip()), "")
        raise RunbookError(
            f"mmdebstrap failed ({last[:200]}): check the apt mirror {mirror} answers, then retry"
        )
    if imported.returncode != 0:
        raise docker_error(["import"], imported.stderr, name)
    return BuildReport(image_info(name), True, time.monotonic() - start, mirror, suite)
