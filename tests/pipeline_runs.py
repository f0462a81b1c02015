"""Shared helpers for the pipeline tests: the real notebooks, one cached full run, output comparison.

The full headless run of every ``notebooks/NN_*.ipynb`` (sandbox, defaults, ``--html``) is
expensive, so it runs once per test session (:func:`full_run`) and is shared by the harness and
the secret-hygiene tests. Nothing is mocked: real papermill kernels, real redis-server.
"""

from __future__ import annotations

import atexit
import configparser
import functools
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from runbook import pipeline

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "tests" / "data" / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"


def committed_notebooks() -> list[Path]:
    return pipeline.discover(NOTEBOOKS)


@functools.cache
def full_run() -> pipeline.RunSummary:
    """Every committed notebook in sequence in one fresh work dir, with the HTML report (cached)."""
    tmp = Path(tempfile.mkdtemp(prefix="runbook-fullrun-"))
    atexit.register(shutil.rmtree, tmp, True)
    return pipeline.run(
        output_dir=tmp / "out", work=tmp / "work", notebooks=NOTEBOOKS, html=True, progress=False
    )


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(SANITIZE)
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def _sanitize(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def cell_outputs(path: Path) -> list[tuple[str, list[str]]]:
    """Per code cell (papermill's injected cell left out): (first source line, sanitised outputs)."""
    rules = sanitizers()
    nb = nbformat.read(path, as_version=4)
    cells: list[tuple[str, list[str]]] = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", []):
            continue
        first = cell.source.splitlines()[0] if cell.source else ""
        if "NBVAL_IGNORE_OUTPUT" in cell.source or "nbval-ignore-output" in cell.metadata.get("tags", []):
            cells.append((first, ["<outputs ignored, as nbval does>"]))
            continue
        outs: list[str] = []
        previous = ""
        for out in cell.get("outputs", []):
            text: Any = out.get("text") or out.get("data", {}).get("text/plain") or out.get("ename", "")
            kind = f"{out['output_type']}:{out.get('name', '')}"
            if kind == previous and kind.startswith("stream"):
                outs[-1] += str(text)  # stream chunks split differently from run to run
            else:
                outs.append(f"{kind} {text}")
            previous = kind
        outs = [_sanitize(o, rules) for o in outs]
        cells.append((first, outs))
    return cells
