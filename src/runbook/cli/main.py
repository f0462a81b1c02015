"""The command line's parser and entry point: ``redis-tls-runbook ...`` or ``python -m runbook ...``.

Thin by design: each command parses arguments, calls one package function and prints its
result (a table, or JSON with ``--json``). Exit codes everywhere: 0 success, 1 a verification
failed, 2 usage or input error (a :class:`RunbookError`, printed as one line).

One module per command group, each with ``register(subparsers)``; a new group is one new module
here plus one entry in :data:`COMMAND_GROUPS` (the order is the order of ``--help``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from runbook.cli import (
    adopt,
    bench,
    check,
    config,
    diagnose,
    doctor,
    drill,
    fleet,
    lab,
    pki,
    rotate,
    run,
    sandbox,
    watch,
)
from runbook.cli.common import EXIT_USAGE, Parser, Subparsers
from runbook.errors import RunbookError

#: The command groups, in ``--help`` order; each is ``register(subparsers)``.
COMMAND_GROUPS: list[Callable[[Subparsers], None]] = [
    pki.register,
    run.register,  # run and notebooks
    doctor.register,
    rotate.register,
    check.register,
    config.register,
    sandbox.register,
    diagnose.register,
    drill.register,
    lab.register,
    bench.register,
    watch.register,
    fleet.register,
    adopt.register,
]


def build_parser() -> Parser:
    parser = Parser(prog="redis-tls-runbook", description="Redis TLS runbook: PKI, config, checks, rotation")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for register in COMMAND_GROUPS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except RunbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code
