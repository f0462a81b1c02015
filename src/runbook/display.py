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
        """Aligned plain text, every line within ``width`` columns (default :data:`TERMINAL_WIDTH`; 0 or
        None: one line per row, however long). A table wider than ``width`` keeps its leftmost columns
        on the row's line and moves the rightmost ones (free text: detail, fix) under the row as
        ``column: value`` lines wrapped to ``width``; a first column wider than ``width`` on its own
        wraps too. Words are never cut: only a single word longer than ``width`` (a long path) is split."""
        if width is None:
            width = TERMINAL_WIDTH
        widths = _widths(self.header, self.rows)
        keep = len(self.header)
        while width and keep > 1 and sum(widths[:keep]) + 2 * (keep - 1) > width:
            keep -= 1
        if width and keep == 1 and widths[0] > width:
            widths = [width, *widths[1:]]
        out = [self.title] if self.title else []
        out.append("  ".join(h.ljust(w) for h, w in zip(self.header[:keep], widths, strict=False)).rstrip())
        out.append("  ".join("-" * w for w in widths[:keep]))
        for row in self.rows:
            if width and keep == 1 and len(row[0]) > width:
                out += _wrap(row[0], width, "", "  ")
            else:
                out.append("  ".join(c.ljust(w) for c, w in zip(row[:keep], widths, strict=False)).rstrip())
            for name, cell in zip(self.header[keep:], row[keep:], strict=False):
                if cell:
                    out += _wrap(f"{name}: {cell}", width, "    ", "      ")
        return "\n".join(out)

    def __repr__(self) -> str:
        return self.text()  # wrapped to TERMINAL_WIDTH: committed notebook outputs are not cut in JupyterLab

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        def cell(value: str) -> str:
            colour = _COLOURS.get(value.split(" ")[-1].lower(), "")
            emphasis = f"color:{colour};font-weight:bold;" if colour else ""
            return f'<td style="{emphasis}{_HTML_CELL}">{html.escape(value)}</td>'

        head = "".join(f"<th style='{_HTML_CELL}'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in self.rows)
        caption = (
            f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>"
            if self.title
            else ""
        )
        return f"<table class='runbook-table'>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


TERMINAL_WIDTH = (
    100  # text tables (CLI, committed notebook outputs) fit this many columns (full data: --json)
)
#: An HTML cell wraps between words at about 60 characters (JupyterLab would otherwise keep a 600-character
#: fix on one line and cut it at the output's edge); only a word too long for the cell alone is broken.
_HTML_CELL = "text-align:left;vertical-align:top;white-space:normal;overflow-wrap:break-word;max-width:60ch"


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False)


def _widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    return widths


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
