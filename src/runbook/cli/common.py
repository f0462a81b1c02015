"""What every command group shares: exit codes, the parser class, JSON and verdict printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TypeAlias

from runbook import display
from runbook.results import CheckResult, all_ok, as_dicts

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with the usage line and one ``error:`` line (argparse's own format)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


#: What a command group's ``register(subparsers)`` receives.
Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_checks(results: list[CheckResult], as_json: bool, extra: dict[str, Any] | None = None) -> int:
    """The verdict as a table (or JSON with ``extra`` keys); exit 0 when nothing failed, else 1."""
    ok = all_ok(results)
    if as_json:
        print_json({**(extra or {}), "ok": ok, "checks": as_dicts(results)})
    else:
        print(display.checks_table(results).text(display.TERMINAL_WIDTH))
    return EXIT_OK if ok else EXIT_FAILED
