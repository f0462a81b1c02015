"""``drill list|run``: fault drills for training (:mod:`runbook.drills`)."""

from __future__ import annotations

import argparse
import sys

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json
from runbook.errors import RunbookError


def _cmd_drill_list(a: argparse.Namespace) -> int:
    from runbook import drills

    fields = ["name", "expected", "scenario"] if a.answers else ["name"]
    rows = [{f: getattr(d, f) for f in fields} for d in drills.DRILLS]
    if a.json:
        print_json(rows)
    else:
        print(display.record_table(rows, fields).text(display.TERMINAL_WIDTH))
    return EXIT_OK


def _cmd_drill_run(a: argparse.Namespace) -> int:
    from runbook import drills

    if not a.all and not a.name:
        raise RunbookError("name a drill or pass --all: see `runbook drill list`")
    if a.all and a.name:
        raise RunbookError("give a drill name or --all, not both")
    results = drills.run("all" if a.all else a.name)
    ok = all(r.ok for r in results)
    if a.json:
        print_json({"ok": ok, "drills": [r.to_dict() for r in results]})
    else:
        header = ["drill", "symptom", "diagnosis", "fix"]
        print(
            display.Table(header, [[r[0], r[2], r[3], r[4]] for r in drills.table_rows(results)]).text(
                display.TERMINAL_WIDTH
            )
        )
        for r in results:
            if not r.cleaned:
                print(f"drill {r.name} did not clean up after itself", file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED


def register(sub: Subparsers) -> None:
    p = sub.add_parser("drill", help="fault drills: real broken setups, diagnosed (training)")
    s = p.add_subparsers(dest="drill_command", required=True)
    ls = s.add_parser("list", help="list the drills (names only; --answers adds the expected cause)")
    ls.add_argument("--answers", action="store_true", help="show each drill's scenario and expected cause")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_drill_list)
    r = s.add_parser("run", help="run one drill (NAME) or all (--all)")
    r.add_argument("name", nargs="?", help="drill name (see `drill list`)")
    r.add_argument("--all", action="store_true", help="run every drill")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_cmd_drill_run)
