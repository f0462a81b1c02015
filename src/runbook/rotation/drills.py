"""Rotation drills: deliberately bad new material, so an operator sees the preflight refuse it.

Not to be confused with :mod:`runbook.drills` (fault drills of a running server).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from runbook import files, pki
from runbook.errors import RunbookError
from runbook.rotation.issuing import load_ca

DRILLS: tuple[str, ...] = ("wrong-key", "other-ca", "missing-san", "expired")


def check_params(drill_kind: str, soak_seconds: float = 0.0, min_commands: int = 1) -> None:
    """Notebook 05's inputs, checked before anything runs: one RunbookError line naming the fix."""
    if drill_kind not in DRILLS:
        raise RunbookError(f"drill_kind {drill_kind!r} is unknown: set it to one of {', '.join(DRILLS)}")
    if not isinstance(soak_seconds, int | float) or isinstance(soak_seconds, bool) or soak_seconds < 0:
        raise RunbookError(f"soak_seconds {soak_seconds!r} is not a number of seconds >= 0: set e.g. 1.0")
    if not isinstance(min_commands, int) or isinstance(min_commands, bool) or min_commands < 1:
        raise RunbookError(f"min_commands {min_commands!r} is not a positive whole number: set e.g. 20000")


def drill_material(kind: str, pki_dir: Path | str, out_dir: Path | str) -> tuple[Path, Path]:
    """Write a deliberately bad server certificate + key to ``out_dir`` for a preflight drill. Writes files.

    ``wrong-key``: a good certificate with another key; ``other-ca``: issued by a stranger CA;
    ``missing-san``: lacks 127.0.0.1 and ::1; ``expired``: its validity ended days ago.
    """
    if kind not in DRILLS:
        raise RunbookError(f"unknown drill {kind!r}: choose {', '.join(DRILLS)}")
    paths = pki.PkiPaths(Path(pki_dir))
    ca = load_ca(paths)
    dns, ips = ["localhost"], ["127.0.0.1", "::1"]
    if kind == "wrong-key":
        good = pki.make_leaf(ca, "localhost", purpose="server", hostnames=dns, ips=ips)
        issued = pki.Issued(good.cert, pki.generate_key("ecdsa-p256"))
    elif kind == "other-ca":
        issued = pki.make_leaf(pki.make_ca(), "localhost", purpose="server", hostnames=dns, ips=ips)
    elif kind == "missing-san":
        issued = pki.make_leaf(ca, "localhost", purpose="server", hostnames=dns)
    else:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        issued = pki.make_leaf(
            ca,
            "localhost",
            purpose="server",
            hostnames=dns,
            ips=ips,
            not_before=past,
            not_after=past + dt.timedelta(days=1),
        )
    out = files.ensure_private_dir(Path(out_dir))
    cert, key = out / f"{kind}.crt", out / f"{kind}.key"
    files.write_all(issued.planned_writes(cert, key))
    return cert, key
