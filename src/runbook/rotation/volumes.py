"""Files a renewer owns: a Kubernetes secret or projected volume, as the kubelet's atomic writer lays it out.

The kubelet writes a volume's files into a hidden timestamped directory (``..2026_12_03_...``),
points the ``..data`` symlink at it, and makes each visible file a symlink through ``..data``
(``tls.crt -> ..data/tls.crt``); an update writes a new timestamped directory and renames a new
``..data`` symlink over the old one. Such files are renewed by whatever feeds the Secret
(cert-manager, a step renewer), never by hand: a file written there is overwritten at the next
sync, and replacing the symlinks breaks every later update. The runbook writes nothing there; it
tells how to renew through the renewer, and ``runbook watch`` reloads what the renewer writes.
Any other file about to be written that is a symlink is refused the same way
(:func:`symlink_refusals`): replacing it would break whatever maintains the link, and writing through it
would change a file the runbook was never given. Nothing here writes a file or touches a server.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path

from runbook.results import CheckResult
from runbook.rotation.targets import NodeTarget

DATA = "..data"


def secret_volume(path: Path | str) -> Path | None:
    """The volume directory when ``path`` (or a parent) is reached through a ``..data`` symlink, else None.

    Recognised: the path itself, or a parent directory, is a symlink beside a ``..data`` symlink whose
    target goes through ``..data`` (``tls.crt -> ..data/tls.crt``), or a path under ``..data``.
    """
    p = Path(path)
    if not p.is_absolute():
        p = Path.cwd() / p
    for part in (p, *p.parents):
        if part.name == DATA and part.is_symlink():
            return part.parent
        sibling = part.parent / DATA
        if part.is_symlink() and sibling.is_symlink():
            target = os.readlink(part)
            if target == DATA or target.startswith(f"{DATA}/"):
                return part.parent
    return None


def renewer_procedure(node: NodeTarget, volume: Path, served: str, watch_flags: str) -> list[str]:
    """How to renew a certificate that lives in a secret volume: through its renewer, then let the
    watcher reload what the kubelet writes. Plain text."""
    names = {p.name for p in volume.iterdir()} if volume.is_dir() else set()
    data = os.readlink(volume / DATA) if (volume / DATA).is_symlink() else "?"
    lines = [
        f"# {node.name}: {served} is in a Kubernetes secret volume ({volume}, {DATA} -> {data}); the kubelet",
        "# owns these files: the runbook writes nothing there. Renew through the renewer that feeds the Secret:",
    ]
    if {"tls.crt", "tls.key"} <= names:
        lines += [
            "cmctl renew -n <namespace> <certificate>   # cert-manager: the Certificate whose secretName is mounted here",
            "#   (without cmctl: kubectl cert-manager renew -n <namespace> <certificate>)",
        ]
    lines += [
        "step ca renew --force <crt> <key>   # step: in the renewer (sidecar or job) that writes the Secret",
        "# then reload what the kubelet writes (it swaps ..data within its sync period, about a minute):",
        f"python -m runbook watch --once {watch_flags}",
    ]
    return lines


def watch_flags(node: NodeTarget) -> str:
    """``--host --port --server-name --ca --cert --key`` naming the node and the identity used to reach it."""
    ep = node.endpoint
    parts = ["--host", ep.host, "--port", str(ep.port)]
    if ep.server_name:
        parts += ["--server-name", ep.server_name]
    for flag, value in (("--ca", ep.files.ca), ("--cert", ep.files.cert), ("--key", ep.files.key)):
        if value:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def symlink_refusals(check_id: str, paths: Iterable[Path], fix: Callable[[Path], str]) -> list[CheckResult]:
    """One failed check per path that is a symlink: the runbook never replaces a symlink with a file,
    nor writes through it to its target; ``fix(path)`` names what to do instead."""
    return [
        CheckResult(
            check_id,
            "fail",
            f"{p} is a symlink to {p.resolve()}: the runbook never replaces a symlink with a file "
            "nor writes through it",
            fix(p),
        )
        for p in dict.fromkeys(paths)
        if p.is_symlink()
    ]
