"""ipywidgets forms that edit a notebook's parameters in place.

A form only changes the notebook's global variables (the same names the ``parameters`` cell
defines); the operator then re-runs the cells below, where every derived value is computed (never
in the form's own cell, so an edit takes effect). No real action ever runs in a widget callback:
callbacks do not run headless, and their errors are swallowed.

Each control keeps its parameter's type: a bool is a checkbox, an int an integer box, a float a
float box, a list a comma-separated text, and a parameter with ``choices`` a dropdown. A value the
form cannot accept (outside the choices, or refused by a ``checks`` function) is one line in the
form itself; the notebook's value is left unchanged and the form stays.
Headless (papermill/nbval) the form is created but nobody touches it, and its plain-text form
is a fixed line, so committed outputs stay stable.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

import ipywidgets as w

#: A check of one value: the problem in one line, or "" when the value is fine.
Check = Callable[[Any], str]


class ParameterForm(w.VBox):  # type: ignore[misc]
    """A VBox of one typed widget per parameter, bound to ``namespace`` (the notebook's globals)."""

    def __init__(
        self,
        namespace: MutableMapping[str, Any],
        names: Sequence[str],
        title: str = "Parameters",
        *,
        choices: Mapping[str, Sequence[Any]] | None = None,
        checks: Mapping[str, Check] | None = None,
    ) -> None:
        self.namespace = namespace
        self.choices = {k: list(v) for k, v in (choices or {}).items()}
        self.checks = dict(checks or {})
        self.controls: dict[str, w.Widget] = {}
        self.problems: dict[str, str] = {}
        self.message = w.HTML("")
        rows: list[w.Widget] = [w.HTML(f"<b>{html.escape(title)}</b> (edit, then re-run the cells below)")]
        for name in names:
            value = namespace[name]
            control = self._control(name, value, self.choices.get(name))
            control.observe(self._setter(name), names="value")
            self.controls[name] = control
            rows.append(control)
            self._judge(name, value)
        rows.append(self.message)
        super().__init__(rows)

    @staticmethod
    def _control(name: str, value: Any, options: list[Any] | None) -> w.Widget:
        style = {"description_width": "140px"}
        layout = w.Layout(width="520px")
        if options is not None:
            return w.Dropdown(
                options=options,
                value=value if value in options else None,
                description=name,
                style=style,
                layout=layout,
            )
        if isinstance(value, bool):
            return w.Checkbox(value=value, description=name, style=style)
        if isinstance(value, int):
            return w.IntText(value=value, description=name, style=style, layout=layout)
        if isinstance(value, float):
            return w.FloatText(value=value, description=name, style=style, layout=layout)
        if isinstance(value, list):
            return w.Text(value=", ".join(map(str, value)), description=name, style=style, layout=layout)
        return w.Text(value=str(value), description=name, style=style, layout=layout)

    def _problem(self, name: str, value: Any) -> str:
        options = self.choices.get(name)
        if options is not None and value not in options:
            return f"{name} {value!r} is not one of {', '.join(map(str, options))}: pick one in the list"
        check = self.checks.get(name)
        return check(value) if check else ""

    def _judge(self, name: str, value: Any) -> bool:
        problem = self._problem(name, value)
        if problem:
            self.problems[name] = problem
        else:
            self.problems.pop(name, None)
        self.message.value = (
            f"<span style='color:#cf222e'>✘ {html.escape(next(iter(self.problems.values())))}</span>"
            if self.problems
            else ""
        )
        return not problem

    def _setter(self, name: str) -> Callable[[dict[str, Any]], None]:
        original = self.namespace[name]

        def update(change: dict[str, Any]) -> None:
            value = change["new"]
            if isinstance(original, list):
                value = [v.strip() for v in str(value).split(",") if v.strip()]
            elif isinstance(original, float) and not isinstance(original, bool):
                value = float(value)
            if self._judge(name, value):
                self.namespace[name] = value

        return update

    @property
    def problem(self) -> str:
        """The first value the form refused ("" when every value is fine)."""
        return next(iter(self.problems.values()), "")

    def __repr__(self) -> str:
        return f"ParameterForm({', '.join(self.controls)})"


def parameter_form(
    namespace: MutableMapping[str, Any],
    names: Sequence[str],
    title: str = "Parameters",
    *,
    choices: Mapping[str, Sequence[Any]] | None = None,
    checks: Mapping[str, Check] | None = None,
) -> ParameterForm:
    """Build the form for ``names`` (all present in ``namespace``); ``choices`` make dropdowns."""
    return ParameterForm(namespace, names, title, choices=choices, checks=checks)
