"""Rendering for notebooks and the terminal: verdict tables of results.

:class:`Table` renders as a coloured HTML table in JupyterLab and as an aligned plain-text table
in papermill/nbval outputs and the CLI, so the committed regression outputs stay readable.
Nothing here computes anything: it only shows results produced elsewhere.
"""

from __future__ import annotations

import html
import textwrap
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

    def text(self, width: int | None = None) -> str:
        """Aligned plain text; with ``width`` the widest columns are wrapped so every line fits."""
        widths = [len(h) for h in self.header]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        if width:
            widths = _fit(widths, [len(h) for h in self.header], width)
        out = [self.title] if self.title else []
        out += _lines(self.header, widths)
        out.append("  ".join("-" * w for w in widths))
        for row in self.rows:
            out += _lines(row, widths)
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


TERMINAL_WIDTH = 100  # the CLI's tables fit this many columns (full data: --json)


def _fit(widths: list[int], headers: list[int], width: int) -> list[int]:
    """Shrink the widest columns (not below 8 or the header) until the row fits ``width``."""
    widths = list(widths)
    floor = [min(w, max(8, h)) for w, h in zip(widths, headers, strict=False)]
    while sum(widths) + 2 * (len(widths) - 1) > width:
        i = max(range(len(widths)), key=lambda k: widths[k] - floor[k])
        if widths[i] <= floor[i]:
            break
        widths[i] -= 1
    return widths


def _lines(cells: Sequence[str], widths: Sequence[int]) -> list[str]:
    """One row as one or more lines: each cell wrapped to its column."""
    wrapped = [
        (textwrap.wrap(c, w, break_on_hyphens=False) or [""]) if len(c) > w else [c]
        for c, w in zip(cells, widths, strict=False)
    ]
    height = max((len(c) for c in wrapped), default=1)
    return [
        "  ".join(
            (c[i] if i < len(c) else "").ljust(w) for c, w in zip(wrapped, widths, strict=False)
        ).rstrip()
        for i in range(height)
    ]


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
