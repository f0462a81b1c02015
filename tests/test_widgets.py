"""The parameter forms: typed controls, dropdowns for choices, a refused value as one line in the form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w

from runbook.widgets import parameter_form


def _ns() -> dict[str, Any]:
    return {"soak_seconds": 1.0, "min_commands": 20000, "drill_kind": "other-ca", "on": False, "ips": ["::1"]}


def test_each_parameter_keeps_its_type() -> None:
    ns = _ns()
    form = parameter_form(ns, list(ns), choices={"drill_kind": ["wrong-key", "other-ca"]})
    c = form.controls
    assert isinstance(c["soak_seconds"], w.FloatText) and isinstance(c["min_commands"], w.IntText)
    assert isinstance(c["drill_kind"], w.Dropdown) and isinstance(c["on"], w.Checkbox)
    c["soak_seconds"].value = 2.5
    c["min_commands"].value = 500
    c["drill_kind"].value = "wrong-key"
    c["on"].value = True
    c["ips"].value = "::1, 127.0.0.1"
    assert ns == {
        "soak_seconds": 2.5, "min_commands": 500, "drill_kind": "wrong-key", "on": True, "ips": ["::1", "127.0.0.1"],
    }  # fmt: skip
    assert type(ns["soak_seconds"]) is float and type(ns["min_commands"]) is int
    c["soak_seconds"].value = 3
    assert type(ns["soak_seconds"]) is float


def test_a_value_outside_the_choices_is_one_line_in_the_form() -> None:
    ns = {"drill": "expired-sever-cert"}
    form = parameter_form(ns, ["drill"], choices={"drill": ["all", "expired-server-cert"]})  # no exception
    assert "\n" not in form.problem and "expired-sever-cert" in form.problem and "pick one" in form.problem
    assert form.problem in form.message.value.replace("&#x27;", "'")
    form.controls["drill"].value = "all"
    assert ns["drill"] == "all" and form.problem == "" and form.message.value == ""


def test_a_refused_value_leaves_the_notebook_value_unchanged() -> None:
    ns = {"soak_seconds": 1.0}
    form = parameter_form(
        ns, ["soak_seconds"], checks={"soak_seconds": lambda v: "must be >= 0" if v < 0 else ""}
    )
    form.controls["soak_seconds"].value = -1.0
    assert ns["soak_seconds"] == 1.0 and form.problem == "must be >= 0"
    assert repr(form) == "ParameterForm(soak_seconds)"


def test_forms_sit_above_the_values_derived_from_them() -> None:
    """04 and 05: the form cell computes nothing; the cell below derives from the (edited) parameters."""
    import nbformat

    root = Path(__file__).parents[1] / "notebooks"
    for name, derived in (
        ("04_troubleshooting", "select_drills(drill)"),
        ("05_rotation", "client_name=connect_as"),
    ):
        cells = [
            c.source
            for c in nbformat.read(root / f"{name}.ipynb", as_version=4).cells
            if c.cell_type == "code"
        ]
        form = next(i for i, s in enumerate(cells) if "parameter_form(" in s)
        assert "from_params" not in cells[form] and derived not in cells[form]
        assert derived in cells[form + 1]
    assert "drill_kind" in cells[form] and "book.rotation.form_choices(" in cells[form]


def test_the_rotation_form_offers_the_work_dirs_clients(tmp_path: Path) -> None:
    """05's dropdowns: the drill kinds, and the client identities of the work dir's PKI (the parameter's
    value alone while there is no PKI yet)."""
    from runbook import pki, rotation
    from runbook.book import rotation as steps

    assert steps.form_choices(str(tmp_path), "ops") == {
        "drill_kind": list(rotation.DRILLS),
        "connect_as": ["ops"],
    }
    pki.create_pki(tmp_path / "pki", pki.PkiSpec(clients=["app", "ops"]))
    assert steps.form_choices(str(tmp_path), "x")["connect_as"] == ["app", "ops"]
