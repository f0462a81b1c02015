"""Run parameters: the params YAML, what each notebook declares, and the validated :class:`Plan`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runbook import workdir
from runbook.errors import RunbookError
from runbook.pipeline.discovery import discover
from runbook.pipeline.target import COMMON_PARAMETERS, PATH_PARAMETERS, Target, resolve_target

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def load_params(path: Path | str | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Read a params YAML: ``{common: {...}, notebooks: {"01_certificates": {...}}}``.

    Top-level keys other than ``common`` and ``notebooks`` count as common parameters. Relative
    ``ca_file`` / ``client_cert`` / ``client_key`` paths are taken relative to the YAML file.
    """
    if path is None:
        return {}, {}
    p = Path(path)
    if not p.is_file():
        raise RunbookError(f"params file {p} not found: pass an existing YAML file to --params")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(
            f"params file {p} is not valid YAML ({' '.join(str(exc).split())}): fix its syntax"
        ) from None
    if not isinstance(data, dict):
        raise RunbookError(f"params file {p} must be a mapping of parameter names to values")
    per_notebook = data.pop("notebooks", None) or {}
    common_section = data.pop("common", None) or {}
    if not isinstance(per_notebook, dict) or not isinstance(common_section, dict):
        raise RunbookError(f"params file {p}: `common` and `notebooks` must be mappings")
    for name, section in per_notebook.items():
        if not isinstance(section, dict):
            raise RunbookError(f"params file {p}: notebooks.{name} must be a mapping of parameters")
    common = {**common_section, **data}
    for key in PATH_PARAMETERS:
        value = common.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            common[key] = str((p.parent / value).resolve())
    return common, per_notebook


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters a notebook declares in its ``parameters`` cell (name -> papermill info)."""
    import papermill

    params: dict[str, Any] = papermill.inspect_notebook(str(notebook))
    return params


def _check_type(notebook: Path, name: str, value: Any, info: Mapping[str, Any]) -> None:
    wanted = _TYPES.get(str(info.get("inferred_type_name", "")))
    if wanted is None or value is None:
        return
    ok = isinstance(value, wanted) and not (isinstance(value, bool) and bool not in wanted)
    if not ok:
        raise RunbookError(
            f"{notebook.stem}: parameter {name} must be {info['inferred_type_name']}, "
            f"got {type(value).__name__} {value!r}: fix the value in the params file"
        )


def params_for(
    notebook: Path,
    common: Mapping[str, Any],
    per_notebook: Mapping[str, Mapping[str, Any]],
    declared: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameters ``notebook`` receives: the common ones it declares, then its own (checked)."""
    declared = declared_parameters(notebook) if declared is None else declared
    chosen = {k: v for k, v in common.items() if k in declared}
    specific = dict(per_notebook.get(notebook.stem, {}) or per_notebook.get(notebook.stem[:2], {}) or {})
    unknown = set(specific) - set(declared)
    if unknown:
        raise RunbookError(
            f"{notebook.stem} has no parameter {', '.join(sorted(unknown))}: see papermill --help-notebook {notebook}"
        )
    params = {**chosen, **specific}
    for name, value in params.items():
        _check_type(notebook, name, value, declared[name])
    return params


@dataclass(frozen=True)
class Plan:
    """A validated run: the notebooks and the exact parameters each one receives."""

    target: Target
    work: Path
    steps: list[tuple[Path, dict[str, Any]]]


def plan(
    *,
    params_file: Path | str | None = None,
    only: Sequence[str] = (),
    work: Path | str | None = None,
    notebooks: Path | None = None,
    target: str | None = None,
    connection: Mapping[str, Any] | None = None,
) -> Plan:
    """Validate everything a run needs before anything runs. Raises RunbookError (exit 2).

    Unknown common parameters (declared by no notebook), unknown notebook sections, unknown or
    ill-typed per-notebook parameters, and an incomplete external target are all refused here.
    """
    every = discover(notebooks)
    if not every:
        raise RunbookError("no notebooks found: run from the repository (notebooks/NN_*.ipynb)")
    chosen = discover(notebooks, only)
    common, per_notebook = load_params(params_file)
    wd = workdir.work_dir(work or common.pop("work_dir", None) or None)
    tgt = resolve_target(target, common, connection or {})
    declared = {nb: declared_parameters(nb) for nb in every}
    known_common = set(COMMON_PARAMETERS).union(*(set(d) for d in declared.values()))
    unknown = sorted(set(common) - known_common)
    if unknown:
        raise RunbookError(
            f"no notebook has a parameter {', '.join(unknown)}: check the spelling (papermill --help-notebook NOTEBOOK)"
        )
    sections = {nb.stem for nb in every} | {nb.stem[:2] for nb in every}
    stray = sorted(set(map(str, per_notebook)) - sections)
    if stray:
        raise RunbookError(
            f"params file names no notebook {', '.join(stray)}: choose from {', '.join(nb.stem for nb in every)}"
        )
    for name, section in per_notebook.items():
        pinned = sorted(set(section) & set(COMMON_PARAMETERS))
        if pinned:
            raise RunbookError(
                f"notebooks.{name} sets {', '.join(pinned)}: the target is one for the whole run, set it under common"
            )
    shared = {k: v for k, v in common.items() if k not in COMMON_PARAMETERS} | tgt.parameters()
    steps = [(nb, params_for(nb, shared, per_notebook, declared[nb])) for nb in chosen]
    return Plan(tgt, wd, steps)
