"""The runbook's notebooks: ``notebooks/NN_*.ipynb`` in order, chosen by number or name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runbook import workdir
from runbook.errors import RunbookError

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def notebooks_dir() -> Path:
    return workdir.project_root() / "notebooks"


def discover(folder: Path | None = None, only: Sequence[str] = ()) -> list[Path]:
    """The runbook's notebooks in order; ``only`` filters by number prefix (``01``) or stem."""
    found = sorted((folder or notebooks_dir()).glob(NOTEBOOK_GLOB))
    if not only:
        return found
    wanted = {o.strip() for o in only if o.strip()}
    chosen = [p for p in found if p.stem[:2] in wanted or p.stem in wanted]
    unknown = wanted - {p.stem[:2] for p in chosen} - {p.stem for p in chosen}
    if unknown:
        names = ", ".join(p.stem for p in found)
        raise RunbookError(f"no notebook matches {', '.join(sorted(unknown))}: choose from {names}")
    return chosen
