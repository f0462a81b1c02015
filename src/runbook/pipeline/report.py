"""``report.html``: one self-contained HTML report of a run (nbconvert, code hidden)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from runbook import files
from runbook.pipeline.summary import RunSummary


def _report_cells(summary: RunSummary) -> list[Any]:
    import nbformat.v4 as v4

    from runbook import display

    rows = [
        (
            n.name,
            display.mark("pass" if n.status == "passed" else "fail" if n.status == "failed" else "skip"),
            f"{n.seconds:.1f}s",
        )
        for n in summary.notebooks
    ]
    head = [
        "# Redis TLS runbook: run report",
        "",
        f"* date: {summary.date}",
        f"* target: {summary.target.get('kind')} {summary.target.get('endpoint') or ''}",
        f"* result: **{'passed' if summary.ok else 'FAILED'}**",
    ]
    if summary.failure:
        head.append(f"* {summary.failure_line()}")
    table = display.Table(["notebook", "status", "time"], rows)
    ev_rows = [(k, _fmt(v)) for k, v in summary.evidence.items() if k not in ("certificates", "rotation")]
    ev = display.Table(["evidence", "value"], ev_rows)
    certs = display.record_table(
        summary.evidence.get("certificates", []), ["file", "subject", "serial", "not_after", "sans"]
    )
    cells = [v4.new_markdown_cell("\n".join(head))]  # type: ignore[no-untyped-call]
    for t in (table, ev, certs):
        data = {"text/html": t._repr_html_(), "text/plain": t.text()}
        output = v4.new_output("display_data", data=data)  # type: ignore[no-untyped-call]
        cells.append(v4.new_code_cell("", outputs=[output]))  # type: ignore[no-untyped-call]
    return cells


def _fmt(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def write_html_report(summary: RunSummary, dest: Path) -> Path:
    """One HTML file: a run overview, then every executed notebook with its code hidden (nbconvert).

    Widget views are reduced to their plain-text form and remote scripts (require.js, MathJax from
    a CDN) are left out, so the report is a self-contained file that loads nothing.
    """
    import nbformat
    from nbconvert import HTMLExporter

    report = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    report.cells = _report_cells(summary)
    for run in summary.notebooks:
        if not run.output or not Path(run.output).is_file():
            continue
        nb = nbformat.read(run.output, as_version=4)  # type: ignore[no-untyped-call]
        report.cells.append(nbformat.v4.new_markdown_cell(f"---\n\n*notebook `{run.name}`: {run.status}*"))  # type: ignore[no-untyped-call]
        for i, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
            cell["id"] = f"{run.name}-{i}"  # ids stay unique across the combined notebooks
            report.cells.append(cell)
    report.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(
        report, resources={"metadata": {"name": f"Redis TLS runbook report {summary.date}"}}
    )
    body = re.sub(r'<script src="https?://[^"]*">\s*</script>\s*', "", body)  # an offline artefact
    files.write_file(dest, body.encode("utf-8"))
    return dest
