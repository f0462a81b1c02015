"""What every command group shares: exit codes, the parser class, JSON and verdict printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TypeAlias, cast

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


class _DeprecatedOption(argparse.Action):
    """An old option spelling: stores into the new option's dest and says so on stderr, once per use."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(
            f"{parser.prog}: note: {option_string} is deprecated and will be removed in the next release: "
            f"use {self.new}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def deprecated_alias(parser: argparse.ArgumentParser, old: str, new: argparse.Action) -> None:
    """Accept ``old`` as a hidden spelling of the option ``new`` (what ``add_argument`` returned).

    Kept for one release: the value lands in ``new``'s dest with its type, ``--help`` and the docs show
    only the new spelling, and each use prints one deprecation line on stderr naming it.
    """
    convert = cast(Callable[[str], Any], new.type or str)  # no type: argparse keeps the string
    parser.add_argument(
        old,
        dest=new.dest,
        type=convert,
        action=_DeprecatedOption,
        new=new.option_strings[0],
        help=argparse.SUPPRESS,
    )


def connection_identity(a: argparse.Namespace) -> Any:
    """The connection identity from --ca --cert --key (a ``TlsClientFiles``), or None when none is given
    (the --dir layout's, or the inventory's). Raises RunbookError for an incomplete set."""
    from runbook.client import TlsClientFiles
    from runbook.errors import RunbookError

    if not (a.ca or a.cert or a.key):
        return None
    if not a.ca:
        raise RunbookError(
            "--cert/--key name the identity to connect with and need --ca (the CA file your clients trust); "
            "a renewed pair to install is --new-cert/--new-key"
        )
    if bool(a.cert) != bool(a.key):
        raise RunbookError("pass --cert and --key together (the client identity to connect with)")
    return TlsClientFiles(a.ca, a.cert, a.key)


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
