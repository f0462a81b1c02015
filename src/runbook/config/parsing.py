"""Read a redis.conf like Redis does: ``sdssplitargs`` quoting, case-insensitive names,
``include`` with globs (relative to the including file), and the last occurrence of a directive wins.

Problems Redis would refuse to start on (bad quoting, a missing include, an include loop) are kept
as findings in :attr:`ParsedConfig.errors` instead of raising, so :func:`~runbook.config.lint`
reports them beside the TLS mistakes.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from runbook.config.syntax import quote, split_args
from runbook.errors import RunbookError
from runbook.results import Finding


@dataclass
class ParsedConfig:
    """A parsed redis.conf: the last value of each directive and where it came from."""

    path: str
    args: dict[str, list[str]] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The directive's arguments joined by one space, or ``default`` when absent."""
        got = self.args.get(name.lower())
        return " ".join(got) if got is not None else default

    def has(self, name: str) -> bool:
        return name.lower() in self.args

    def as_directives(self) -> dict[str, str]:
        return {k: " ".join(quote(a) for a in v) for k, v in self.args.items()}


def parse(path: Path | str) -> ParsedConfig:
    """Parse a redis.conf file (and its includes). Reads files; raises RunbookError if missing."""
    target = Path(path)
    if not target.is_file():
        raise RunbookError(f"config file {target} not found: give the path of a redis.conf")
    parsed = ParsedConfig(str(target))
    _parse_into(parsed, target, set())
    return parsed


def parse_text(text: str, base: Path | str = ".", name: str = "<text>") -> ParsedConfig:
    """Parse redis.conf ``text``; relative includes resolve against ``base``. Reads includes only."""
    parsed = ParsedConfig(name)
    _parse_lines(parsed, text, Path(base), name, set())
    return parsed


def _parse_into(parsed: ParsedConfig, path: Path, seen: set[Path]) -> None:
    real = path.resolve()
    if real in seen:
        parsed.errors.append(Finding("error", "include", f"include loop at {path}", "remove the cycle"))
        return
    seen.add(real)
    parsed.files.append(str(path))
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        parsed.errors.append(
            Finding("error", "include", f"cannot read {path}: {exc.strerror}", "fix the path or permissions")
        )
        return
    _parse_lines(parsed, text, path.parent, str(path), seen)
    seen.discard(real)


def _parse_lines(parsed: ParsedConfig, text: str, base: Path, name: str, seen: set[Path]) -> None:
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            argv = split_args(line)
        except ValueError as exc:
            parsed.errors.append(
                Finding("error", "syntax", f"{name}:{number}: {exc}", "fix the quoting on that line")
            )
            continue
        if not argv:
            continue
        key, values = argv[0].lower(), argv[1:]
        if key == "include":
            for pattern in values:
                _include(parsed, pattern, base, f"{name}:{number}", seen)
            continue
        parsed.args[key] = values
        parsed.origin[key] = f"{name}:{number}"


def _include(parsed: ParsedConfig, pattern: str, base: Path, where: str, seen: set[Path]) -> None:
    """Parse the file(s) one ``include`` names; a glob may match nothing, a plain path must exist."""
    target = Path(pattern) if Path(pattern).is_absolute() else base / pattern
    matches = sorted(glob.glob(str(target))) if glob.has_magic(str(target)) else [str(target)]
    for match in matches:
        if Path(match).is_file():
            _parse_into(parsed, Path(match), seen)
        else:
            parsed.errors.append(
                Finding(
                    "error",
                    "include",
                    f"include {pattern}: {match} not found ({where})",
                    "fix the include path (Redis will not start)",
                )
            )
