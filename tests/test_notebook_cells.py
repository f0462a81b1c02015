"""Every notebook (notebooks/NN_*.ipynb) reads like a page: short code cells, no branching on the target inside them.

The sandbox/external difference lives in ``runbook.book`` (the notebook layer); a cell calls
one step and renders its result. The parameters cell is exempt (one line per parameter).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest

from pipeline_runs import committed_notebooks

MAX_LINES = 12
#: Names a cell would test to branch on the target (the parameter, or flags derived from it).
TARGET_TEST = re.compile(r"\b(target|EXTERNAL|EXT|TGT\.kind|TGT\.may_start_servers|box)\b")
PAGES = committed_notebooks()  # every notebooks/NN_*.ipynb, the fleet notebook (07) and later ones included


def code_cells(path: Path) -> list[tuple[int, str]]:
    nb = nbformat.read(path, as_version=4)
    return [
        (i, c.source)
        for i, c in enumerate(nb.cells, 1)
        if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
    ]


def target_branches(source: str) -> list[str]:
    """Lines that branch (``if``/``else``, conditional expressions) on the target."""
    return [
        line.strip()
        for line in source.splitlines()
        if re.search(r"\bif\b|\belse\b", line) and TARGET_TEST.search(line.split("#", 1)[0])
    ]


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_code_cells_are_short(path: Path) -> None:
    long = {i: len(s.splitlines()) for i, s in code_cells(path) if len(s.splitlines()) > MAX_LINES}
    assert not long, (
        f"{path.name}: cells {long} have more than {MAX_LINES} lines: move the logic into src/runbook"
    )


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_no_cell_branches_on_the_target(path: Path) -> None:
    found = {i: b for i, s in code_cells(path) if (b := target_branches(s))}
    assert not found, (
        f"{path.name}: cells branch on the target {found}: let runbook.book carry the difference"
    )


def test_every_notebook_is_covered() -> None:
    numbered = sorted(Path(__file__).parents[1].glob("notebooks/[0-9][0-9]_*.ipynb"))
    assert numbered and [p.name for p in PAGES] == [p.name for p in numbered]


def test_the_checks_can_fail() -> None:
    assert target_branches("EP = EXT or box.endpoint(client)\nif EXTERNAL:\n    x = 1") == ["if EXTERNAL:"]
    assert target_branches('x = None if target == "external" else 1') == [
        'x = None if target == "external" else 1'
    ]
    assert target_branches("rows = [r for r in results if r.ok]  # target: sandbox") == []


FORM_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z_0-9]*)\s*(?::[^=]*)?=(?!=)", re.M)


def form_derivations(source: str) -> list[str]:
    """Assignments in a form cell that the form itself does not use (its choices may be computed there)."""
    form = source[source.find("parameter_form(") :]
    names = [m.group(1) for m in FORM_ASSIGNMENT.finditer(source)]
    return [n for n in names if not re.search(rf"\b{n}\b", form)]


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_the_form_cell_holds_only_the_form(path: Path) -> None:
    """The form cell (imports and ``parameter_form``) computes nothing but what the form shows: values
    derived from the parameters live in a later cell, so editing the form and re-running the cells
    below takes effect."""
    found = {i: d for i, s in code_cells(path) if "parameter_form(" in s and (d := form_derivations(s))}
    assert not found, f"{path.name}: the form cell computes {found}: move it to the next cell"


def test_the_form_rule_can_fail() -> None:
    assert FORM_ASSIGNMENT.match("WORK = workdir.work_dir(work_dir or None)")
    assert FORM_ASSIGNMENT.match("x: int = 1")
    assert not FORM_ASSIGNMENT.match('parameter_form(globals(), ["a"], choices={"a": [1]})')
    assert not FORM_ASSIGNMENT.match("from runbook import book")
    assert form_derivations("WORK = w()\nparameter_form(globals(), ['a'])") == ["WORK"]
    assert form_derivations("c = f()\nparameter_form(globals(), ['a'], choices={'a': c})") == []


#: What a notebook cell may import from the package: the notebook layer and the shared plain layers.
NOTEBOOK_MODULES = ("book", "widgets", "display", "workdir", "results")


def forbidden_imports(source: str) -> list[str]:
    """Imports in a cell other than ``runbook.book`` / ``widgets`` / ``display`` / ``workdir`` / ``results``,
    IPython and the standard library (the library below ``book`` is reached through ``book`` only)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    found: list[str] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if not _allowed_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == "runbook":
                found += [f"runbook.{a.name}" for a in node.names if a.name not in NOTEBOOK_MODULES]
            elif node.level or not _allowed_module(module):
                found.append("." * node.level + module)
    return found


def _allowed_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] == "runbook":
        return len(parts) > 1 and parts[1] in NOTEBOOK_MODULES
    return parts[0] == "IPython" or parts[0] in sys.stdlib_module_names


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_cells_import_only_the_notebook_layer(path: Path) -> None:
    """A cell calls one ``runbook.book`` step (or a display/workdir/widgets/results helper): it never
    imports pki, config, checks, client, bench, fleet, diagnose, drills, rotation, labs or sandbox."""
    found = {i: f for i, s in code_cells(path) if (f := forbidden_imports(s))}
    assert not found, (
        f"{path.name}: cells import {found} past the notebook layer: add the step to src/runbook/book/ and call it"
    )


def test_the_import_rule_can_fail() -> None:
    assert forbidden_imports("from runbook import book, display, pki, workdir") == ["runbook.pki"]
    assert forbidden_imports("from runbook.client import probe\nimport runbook.sandbox") == [
        "runbook.client",
        "runbook.sandbox",
    ]
    assert forbidden_imports("import runbook\nimport numpy as np") == ["runbook", "numpy"]
    assert forbidden_imports("from runbook.book import training\nfrom runbook.results import all_ok") == []
    assert forbidden_imports("from IPython.display import Image\nimport json\n%matplotlib inline") == []
