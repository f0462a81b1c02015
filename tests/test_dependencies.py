"""environment.yml (conda) pins the same dependencies, with the same bounds, as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: pip name -> conda-forge name, where they differ
CONDA_NAMES = {"redis": "redis-py", "prometheus-client": "prometheus_client", "types-pyyaml": "types-pyyaml"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement.strip())
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return dict(_split(d) for d in env["dependencies"] if isinstance(d, str))


def test_environment_yml_has_every_runtime_dependency_with_the_same_bounds() -> None:
    conda = _conda()
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, spec = _split(requirement)
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"environment.yml lacks {conda_name} ({requirement})"
        assert conda[conda_name] == spec, (
            f"environment.yml: {conda_name}{conda[conda_name]}, pyproject: {spec}"
        )


def test_environment_yml_has_the_test_tools() -> None:
    conda = _conda()
    for requirement in PYPROJECT["project"]["optional-dependencies"]["dev"]:
        name, _ = _split(requirement)
        assert CONDA_NAMES.get(name, name) in conda, f"environment.yml lacks the test tool {name}"
