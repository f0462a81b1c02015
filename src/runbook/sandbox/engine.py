"""The Docker engine as the runbook sees it: the ``docker`` CLI, its errors told apart, the image.

Every call goes through :func:`docker`, which turns a failure into one line naming its own fix:
no engine answering (start it with ``scripts/docker-engine.sh start``), an image that is not
there (build it with ``runbook sandbox image build``), or any other docker error quoted as is.
Nothing here pulls an image unless asked to (``pull=True``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

from runbook.errors import RunbookError

IMAGE_ENV = "RUNBOOK_REDIS_IMAGE"
DEFAULT_IMAGE = "runbook-redis:bookworm"
ENGINE_HINT = 'start one as root with `eval "$(scripts/docker-engine.sh start)"` (or set DOCKER_HOST)'
BUILD_HINT = "build it with `python -m runbook sandbox image build`"

_NO_ENGINE = re.compile(
    r"Cannot connect to the Docker daemon|Is the docker daemon running|docker\.sock: connect|"
    r"error during connect|dial unix .*: connect",
    re.IGNORECASE,
)
_NO_IMAGE = re.compile(r"No such image|Unable to find image|pull access denied|manifest unknown", re.I)


def docker_image(image: str | None = None) -> str:
    """The image to run: ``image``, else ``$RUNBOOK_REDIS_IMAGE``, else the locally built default."""
    return image or os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE


def docker_error(args: list[str], output: str, image: str = "") -> RunbookError:
    """One line for a failed docker call: engine down, image missing, or docker's own words."""
    msg = " ".join(output.split())[:300]
    if _NO_ENGINE.search(msg):
        return RunbookError(f"no Docker engine answers ({msg[:160]}): {ENGINE_HINT}")
    if _NO_IMAGE.search(msg):
        name = image or "the image"
        return RunbookError(f"image {name} is not on this Docker engine: {BUILD_HINT} (or pass --pull)")
    return RunbookError(f"docker {args[0]} failed ({msg}): read the message, then retry")


def docker(args: list[str], *, timeout: float = 30.0, check: bool = True, image: str = "") -> str:
    """Run the docker CLI: its output on success; on failure a RunbookError (``check``) or ""."""
    exe = shutil.which("docker")
    if not exe:
        if check:
            raise RunbookError(
                "the docker CLI is not on PATH: apt-get install docker.io, or use --backend binary"
            )
        return ""
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        if check:
            raise RunbookError(f"docker {args[0]} timed out after {timeout:.0f}s: {ENGINE_HINT}") from None
        return ""
    if done.returncode != 0:
        if check:
            raise docker_error(args, done.stderr or done.stdout, image)
        return ""
    return done.stdout


def docker_available() -> tuple[bool, str]:
    """(True, engine version) when a Docker engine answers; (False, reason) otherwise."""
    if not shutil.which("docker"):
        return False, "the docker CLI is not on PATH"
    try:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, "docker version timed out"
    if done.returncode != 0 or not done.stdout.strip():
        return False, "no Docker engine answers (" + " ".join(done.stderr.split())[:160] + ")"
    return True, done.stdout.strip()


@dataclass(frozen=True)
class ImageInfo:
    """What an image holds, asked of the image itself (never parsed from its tag)."""

    image: str
    id: str
    redis_version: str
    uid: int
    gid: int
    size: int
    stamp: str = ""

    @property
    def version(self) -> tuple[int, int, int]:
        major, minor, patch = (int(x) for x in self.redis_version.split("."))
        return major, minor, patch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def image_id(image: str) -> str:
    """The id of ``image`` on the engine, or "" when it is not there (engine errors raise)."""
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True, check=False
    )
    if out.returncode == 0:
        return out.stdout.strip()
    if _NO_IMAGE.search(out.stderr) or "No such object" in out.stderr:
        return ""
    raise docker_error(["image"], out.stderr, image)


def require_image(image: str | None = None, *, pull: bool = False) -> str:
    """The image's id; pulls only with ``pull``; a missing image is a one-line error naming it."""
    name = docker_image(image)
    ok, why = docker_available()
    if not ok:
        raise RunbookError(f"--backend docker needs a Docker engine: {why}; {ENGINE_HINT}")
    found = image_id(name)
    if not found and pull:
        docker(["pull", name], timeout=600, image=name)
        found = image_id(name)
    if not found:
        raise RunbookError(f"image {name} is not on this Docker engine: {BUILD_HINT} (or pass --pull)")
    return found


def image_info(image: str | None = None, *, pull: bool = False) -> ImageInfo:
    """Ask the image: its Redis version (``redis-server --version`` inside it) and the user it runs as."""
    name = docker_image(image)
    return _image_info(name, require_image(name, pull=pull))


@functools.lru_cache(maxsize=16)
def _image_info(name: str, ident: str) -> ImageInfo:
    out = docker(
        [
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "none",
            "--entrypoint",
            "sh",
            ident,
            "-c",
            "id -u; id -g; redis-server --version",
        ],
        timeout=60,
        image=name,
    )
    lines = out.split("\n")
    match = re.search(r"v=(\d+\.\d+\.\d+)", out)
    if len(lines) < 3 or not lines[0].strip().isdigit() or not match:
        raise RunbookError(
            f"image {name} has no usable redis-server ({' '.join(out.split())[:120]}): {BUILD_HINT}"
        )
    size = docker(["image", "inspect", "-f", "{{.Size}}", ident]).strip()
    stamp = docker(["image", "inspect", "-f", '{{index .Config.Labels "runbook.stamp"}}', ident]).strip()
    return ImageInfo(
        name,
        ident,
        match.group(1),
        int(lines[0]),
        int(lines[1]),
        int(size or 0),
        "" if stamp == "<no value>" else stamp,
    )
