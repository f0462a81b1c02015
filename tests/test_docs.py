"""The docs stay true to the code: CLI synopsis, check ids, cause ids, links, the module map.

Unit tests: they read docs/*.md and README.md and compare them with what the package builds
(the argparse tree of ``runbook.cli.build_parser()``, ``checks.CHECK_IDS``,
``diagnose.CAUSE_INFO``, the modules under ``src/runbook``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from runbook.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PACKAGE = ROOT / "src" / "runbook"

_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_PROG = "python -m runbook "


# --------------------------------------------------------------------------- the argparse tree


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every command path of the parser (groups such as ``pki`` and leaves such as ``pki create``)."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for name, sub in _subparsers(parser).items():
        found[(*path, name)] = sub
        found.update(_commands(sub, (*path, name)))
    return found


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The options ``--help`` shows (deprecated spellings are hidden: docs show only the new names)."""
    return {
        s
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
        and a.help != argparse.SUPPRESS
        for s in a.option_strings
    }


def _positional_choices(parser: argparse.ArgumentParser) -> set[str]:
    return {
        str(c)
        for a in parser._actions
        if not a.option_strings and a.choices and not isinstance(a, argparse._SubParsersAction)
        for c in a.choices
    }


PARSER = build_parser()
COMMANDS = _commands(PARSER)
LEAVES = {path: p for path, p in COMMANDS.items() if not _subparsers(p)}


# --------------------------------------------------------------------------- commands in the docs


def _command_lines(block: str) -> list[str]:
    """``python -m runbook ...`` lines of a code block, continuations joined, comments dropped.

    A continuation is a line after one ending in ``\\``, or an indented line starting with ``[`` or ``-``
    (the wrapped synopsis style).
    """
    lines: list[str] = []
    joining = False
    for raw in block.splitlines():
        line = re.sub(r"\s#\s.*$", "", raw).rstrip()
        stripped = line.strip()
        continues = joining or (raw[:1].isspace() and stripped[:1] in ("[", "-"))
        if lines and continues:
            lines[-1] += " " + stripped.rstrip("\\")
        elif stripped.startswith(_PROG):
            lines.append(stripped.rstrip("\\"))
        joining = bool(lines) and line.endswith("\\") and (continues or stripped.startswith(_PROG))
    return lines


def _resolve(line: str) -> tuple[tuple[str, ...], str]:
    """The command path a documented line names, and the rest of the line."""
    tokens = line[len(_PROG) :].split()
    path: tuple[str, ...] = ()
    while tokens and (*path, tokens[0]) in COMMANDS:
        path = (*path, tokens.pop(0))
    return path, " ".join(tokens)


def _documented(text: str) -> list[tuple[tuple[str, ...], str]]:
    return [_resolve(line) for block in _FENCE.findall(text) for line in _command_lines(block)]


def _synopsis() -> list[tuple[tuple[str, ...], str]]:
    text = (DOCS / "cli.md").read_text()
    section = text.split("## Synopsis", 1)[1]
    block = _FENCE.search(section)
    assert block, "docs/cli.md: the Synopsis section has no code block"
    return [_resolve(line) for line in _command_lines(block.group(1))]


def test_synopsis_names_every_command() -> None:
    named = {path for path, _ in _synopsis()}
    missing = [" ".join(p) for p in LEAVES if p not in named]
    assert not missing, f"docs/cli.md synopsis lacks: {missing}"
    groups = {p[:i] for p in named for i in range(1, len(p) + 1)}
    assert set(COMMANDS) <= groups


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_synopsis_lists_every_option(path: tuple[str, ...]) -> None:
    rest = " ".join(r for p, r in _synopsis() if p == path)
    documented = set(_OPTION.findall(rest))
    parser = LEAVES[path]
    assert documented == _options(parser), (
        f"`{' '.join(path)}`: undocumented {sorted(_options(parser) - documented)}, "
        f"not in the parser {sorted(documented - _options(parser))}"
    )
    words = set(re.split(r"[\s|\[\]]+", rest))
    assert _positional_choices(parser) <= words, f"`{' '.join(path)}`: choices missing from the synopsis"


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_every_documented_command_exists(page: Path) -> None:
    for path, rest in _documented(page.read_text()):
        assert path in LEAVES, f"{page.name}: `python -m runbook {' '.join(path)} {rest}` names no command"
        unknown = set(_OPTION.findall(rest)) - _options(LEAVES[path])
        assert not unknown, f"{page.name}: `{' '.join(path)}` has no option {sorted(unknown)}"


def test_command_line_parser_sees_a_synopsis_line() -> None:
    """The parser of this test reads the wrapped synopsis style (guards the helpers above)."""
    block = "python -m runbook pki verify --dir D\n      [--json]   # note\npython -m runbook doctor \\\n  --quiet\n"
    assert [_resolve(x) for x in _command_lines(block)] == [
        (("pki", "verify"), "--dir D [--json]"),
        (("doctor",), "--quiet"),
    ]


# --------------------------------------------------------------------------- id tables


def _table_ids(page: Path, heading: str) -> list[str]:
    text = page.read_text()
    assert heading in text, f"{page.name} has no section {heading!r}"
    section = re.split(r"\n#{2,} ", text.split(heading, 1)[1])[0]
    return re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M)


def test_audit_checks_page_lists_exactly_the_check_ids() -> None:
    from runbook.checks import CHECK_IDS

    ids = _table_ids(DOCS / "audit-checks.md", "## The 11 checks")
    assert len(ids) == len(set(ids))
    assert set(ids) == set(CHECK_IDS)
    assert f"## The {len(CHECK_IDS)} checks" in (DOCS / "audit-checks.md").read_text()


def test_weak_ciphers_row_names_warn_and_strict_ciphers() -> None:
    """CBC-mode and non-forward-secret suites warn by default and fail with ``--strict-ciphers``."""
    rows = [
        line
        for line in (DOCS / "audit-checks.md").read_text().splitlines()
        if line.startswith("| `weak-ciphers-refused` |")
    ]
    assert len(rows) == 1, "docs/audit-checks.md: one weak-ciphers-refused row expected"
    assert "`warn`" in rows[0] and "--strict-ciphers" in rows[0], rows[0]
    check = _subparsers(PARSER)["check"]
    assert "--strict-ciphers" in _options(check)


def test_diagnose_page_lists_exactly_the_cause_ids() -> None:
    from runbook.diagnose import CAUSE_INFO

    ids = _table_ids(DOCS / "diagnose-causes.md", "## Cause ids")
    assert len(ids) == len(set(ids))
    assert set(ids) == set(CAUSE_INFO)


# --------------------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    for target in _LINK.findall(_FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        assert dest.exists(), f"{page.name}: link {target} points at nothing"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{page.name}: {target}: no heading #{anchor} in {dest.name}"


def test_readme_links_every_docs_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _LINK.findall(README.read_text())}
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not unlinked, f"README.md links no docs page {unlinked}"


# --------------------------------------------------------------------------- the module map


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py")}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return names


def test_architecture_names_every_module() -> None:
    text = (DOCS / "architecture.md").read_text()
    missing = [m for m in sorted(_top_level_modules()) if not re.search(rf"`{re.escape(m)}(\.py|/)`", text)]
    assert not missing, f"docs/architecture.md does not name {missing}: add them to the module map"


def test_architecture_module_map_names_only_real_modules() -> None:
    section = re.split(r"\n#{2,} ", (DOCS / "architecture.md").read_text().split("## Module map", 1)[1])[0]
    named = re.findall(r"^\| `(\w+(?:\.py|/))` \|", section, re.M)
    assert named
    files = {p.name for p in PACKAGE.glob("*.py")}
    real = files | {f"{p.parent.name}/" for p in PACKAGE.glob("*/__init__.py")}
    stale = sorted(set(named) - real)
    assert not stale, f"docs/architecture.md names modules that do not exist (a file or a package?): {stale}"


def test_inside_tables_name_every_module_of_their_package() -> None:
    """Each "Inside `pkg/`" table lists exactly the modules of that package (``__init__`` aside)."""
    text = (DOCS / "architecture.md").read_text()
    tables = 0
    for pkg, body in re.findall(r"^### Inside `(\w+)/`\n(.*?)(?=^#{2,3} |\Z)", text, re.M | re.S):
        named = set(re.findall(r"^\| `(\w+)\.py` \|", body, re.M))
        if not named:
            continue  # described in prose (cli/)
        tables += 1
        files = {p.stem for p in (PACKAGE / pkg).glob("*.py")} - {"__init__"}
        assert named == files, (
            f"Inside `{pkg}/`: missing {sorted(files - named)}, stale {sorted(named - files)}"
        )
    assert tables >= 8
