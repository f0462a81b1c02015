"""Rendering for notebooks and the terminal: verdict tables of results.

:class:`Table` renders as a coloured HTML table in JupyterLab and as an aligned plain-text table
in papermill/nbval outputs and the CLI, so the committed regression outputs stay readable.
Nothing here computes anything: it only shows results produced elsewhere.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from runbook.results import CheckResult, Finding

_COLOURS = {
    "pass": "#1a7f37",
    "ok": "#1a7f37",
    "info": "#57606a",
    "skip": "#57606a",
    "warn": "#9a6700",
    "fail": "#cf222e",
    "error": "#cf222e",
}
_MARKS = {"pass": "✔", "ok": "✔", "warn": "!", "fail": "✘", "error": "✘", "skip": "-", "info": "i"}


class Table:
    """Rows of cells with a header; HTML in JupyterLab, plain text elsewhere."""

    def __init__(self, header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "") -> None:
        self.header = list(header)
        self.rows = [["" if c is None else str(c) for c in row] for row in rows]
        self.title = title

    def text(self) -> str:
        widths = [len(h) for h in self.header]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        line = "  ".join(h.ljust(w) for h, w in zip(self.header, widths, strict=False))
        out = [self.title] if self.title else []
        out += [line.rstrip(), "  ".join("-" * w for w in widths)]
        out += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in self.rows
        ]
        return "\n".join(out)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        def cell(value: str) -> str:
            colour = _COLOURS.get(value.split(" ")[-1].lower(), "")
            emphasis = f"color:{colour};font-weight:bold;" if colour else ""
            return f'<td style="{emphasis}text-align:left">{html.escape(value)}</td>'

        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in self.rows)
        caption = (
            f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>"
            if self.title
            else ""
        )
        return f"<table class='runbook-table'>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def mark(status: str) -> str:
    """``"pass"`` -> ``"✔ pass"``: a status with its symbol (readable without colour)."""
    return f"{_MARKS.get(status, '?')} {status}"


def checks_table(results: Iterable[CheckResult], title: str = "") -> Table:
    """A verdict table of check results: id, status, detail, fix."""
    return Table(
        ["check", "status", "detail", "fix"],
        ([r.id, mark(r.status), r.detail, r.fix] for r in results),
        title,
    )


def findings_table(findings: Iterable[Finding], title: str = "") -> Table:
    return Table(
        ["severity", "subject", "message", "fix"],
        ([mark(f.severity), f.subject, f.message, f.fix] for f in findings),
        title,
    )


def record_table(items: Iterable[Any], fields: Sequence[str], title: str = "") -> Table:
    """A table of selected fields of dataclasses or dicts."""
    rows = []
    for item in items:
        data = asdict(item) if is_dataclass(item) and not isinstance(item, type) else dict(item)
        rows.append([_fmt(data.get(f)) for f in fields])
    return Table(list(fields), rows, title)


def _fmt(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)
