"""Installing ioredis with npm, so the ioredis snippet can run (notebook 03's ``install_ioredis``)."""

from __future__ import annotations

from pathlib import Path

from runbook.errors import RunbookError


def install_ioredis(folder: Path | str, timeout: float = 300.0) -> Path:
    """``npm install ioredis`` into ``folder`` (idempotent: skipped when present). Writes files, uses npm."""
    import shutil
    import subprocess

    target = Path(folder)
    if (target / "node_modules" / "ioredis").is_dir():
        return target
    if not shutil.which("npm"):
        raise RunbookError("npm is not installed: apt-get install nodejs npm, or leave install_ioredis off")
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "ioredis"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RunbookError(f"npm install ioredis failed ({last}): check access to the npm registry")
    return target
