"""ipywidgets forms that edit a notebook's parameters in place.

A form only changes the notebook's global variables (the same names the ``parameters`` cell
defines); the operator then re-runs the cells below. No real action ever runs in a widget
callback: callbacks do not run headless, and their errors are swallowed.
Headless (papermill/nbval) the form is created but nobody touches it, and its plain-text form
is a fixed line, so committed outputs stay stable.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

import ipywidgets as w


class ParameterForm(w.VBox):  # type: ignore[misc]
    """A VBox of one widget per parameter, bound to ``namespace`` (the notebook's globals)."""

    def __init__(
        self, namespace: MutableMapping[str, Any], names: Sequence[str], title: str = "Parameters"
    ) -> None:
        self.namespace = namespace
        self.controls: dict[str, w.Widget] = {}
        rows: list[w.Widget] = [w.HTML(f"<b>{title}</b> (edit, then re-run the cells below)")]
        for name in names:
            control = self._control(name, namespace[name])
            control.observe(self._setter(name), names="value")
            self.controls[name] = control
            rows.append(control)
        super().__init__(rows)

    @staticmethod
    def _control(name: str, value: Any) -> w.Widget:
        style = {"description_width": "140px"}
        layout = w.Layout(width="520px")
        if isinstance(value, bool):
            return w.Checkbox(value=value, description=name, style=style)
        if isinstance(value, int):
            return w.IntText(value=value, description=name, style=style, layout=layout)
        if isinstance(value, list):
            return w.Text(value=", ".join(map(str, value)), description=name, style=style, layout=layout)
        return w.Text(value=str(value), description=name, style=style, layout=layout)

    def _setter(self, name: str) -> Any:
        original = self.namespace[name]

        def update(change: dict[str, Any]) -> None:
            value = change["new"]
            if isinstance(original, list):
                value = [v.strip() for v in str(value).split(",") if v.strip()]
            self.namespace[name] = value

        return update

    def __repr__(self) -> str:
        return f"ParameterForm({', '.join(self.controls)})"


def parameter_form(
    namespace: MutableMapping[str, Any], names: Sequence[str], title: str = "Parameters"
) -> ParameterForm:
    """Build the form for ``names`` (all present in ``namespace``)."""
    return ParameterForm(namespace, names, title)
