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


LONG_FIX = " ".join(["re-issue the server certificate with its name in subjectAltName and reload it"] * 8)


def test_long_cells_wrap_at_100_columns_without_cutting_words() -> None:
    """Issue 19: a 600-character fix (adopt's findings) is wrapped, not left on one line that
    JupyterLab cuts; every word of it is still there, whole, in order."""
    assert len(LONG_FIX) > 600
    table = display.findings_table([display_finding("error", "server-name-cn-only", "CN only", LONG_FIX)])
    lines = table.text().splitlines()
    assert max(len(line) for line in lines) <= display.TERMINAL_WIDTH < len(LONG_FIX)
    assert repr(table) == table.text() == table.text(display.TERMINAL_WIDTH)
    fix_lines = lines[lines.index(next(x for x in lines if x.strip().startswith("fix:"))) :]
    assert " ".join(x.strip() for x in fix_lines).split() == ["fix:", *LONG_FIX.split()]
    assert table.text(0).splitlines()[-1].endswith(LONG_FIX), "width 0: one line per row, as before"


def test_a_lone_wide_column_wraps_and_a_long_word_is_the_only_thing_split() -> None:
    words = "word " * 40
    table = display.Table(["value"], [[words.strip()], ["x" * 130]])
    lines = table.text(50).splitlines()
    assert max(len(line) for line in lines) <= 50
    assert all(set(w) == {"w", "o", "r", "d"} for line in lines[2:-3] for w in line.split())
    assert "".join(lines[-3:]).replace(" ", "") == "x" * 130


def test_html_cells_wrap_between_words() -> None:
    html = display.findings_table([display_finding("error", "s", "m", LONG_FIX)])._repr_html_()
    assert html.count("white-space:normal") == 8 and "max-width:60ch" in html
    assert "overflow-wrap:break-word" in html and "word-break:break-all" not in html
    assert LONG_FIX in html, "the HTML keeps the full text; the browser wraps it"


def display_finding(severity: str, subject: str, message: str, fix: str) -> Finding:
    return Finding(severity, subject, message, fix)  # type: ignore[arg-type]
