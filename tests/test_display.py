"""runbook.display: the same table as aligned text headless and as escaped HTML in JupyterLab."""

from __future__ import annotations

from runbook import display
from runbook.results import CheckResult, Finding


def test_checks_table_text_is_aligned_and_marked() -> None:
    table = display.checks_table(
        [CheckResult("a", "pass", "fine"), CheckResult("longer-id", "fail", "broken", "do this")], "T"
    )
    lines = table.text().splitlines()
    assert lines[0] == "T"
    assert lines[1].split() == ["check", "status", "detail", "fix"]
    assert lines[3].startswith("a          ✔ pass  fine")
    assert lines[4].split("  ")[0] == "longer-id" and "✘ fail" in lines[4] and lines[4].endswith("do this")
    assert repr(table) == table.text()


def test_html_escapes_and_colours_status() -> None:
    html = display.checks_table([CheckResult("<x>", "fail", "a & b")])._repr_html_()
    assert "&lt;x&gt;" in html and "a &amp; b" in html and "<x>" not in html
    assert "color:#cf222e" in html and html.count("text-align:left") >= 5


def test_findings_and_record_tables() -> None:
    f = display.findings_table([Finding("error", "tls-port", "closed", "open it")])
    assert "✘ error" in f.text() and "tls-port" in f.text()
    r = display.record_table(
        [{"name": "n", "sans": ["DNS:a", "IP:b"], "none": None}], ["name", "sans", "none"]
    )
    assert r.rows == [["n", "DNS:a, IP:b", ""]]
