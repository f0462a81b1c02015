"""``sandbox start|status|stop``: the local TLS-only Redis (:mod:`runbook.sandbox`)."""

from __future__ import annotations

import argparse

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json
from runbook.results import CheckResult


def _cmd_sandbox(a: argparse.Namespace) -> int:
    from runbook import sandbox

    if a.action == "start":
        box = sandbox.start(a.work_dir, a.topology, a.backend)
    elif a.action == "stop":
        pids = sandbox.stop(a.work_dir)
        if a.json:
            print_json({"stopped": pids})
        else:
            print(f"stopped {len(pids)} node(s)" if pids else "no sandbox was running")
        return EXIT_OK
    else:
        found = sandbox.status(a.work_dir)
        if found is None:
            if a.json:
                print_json(sandbox.status_dict(None))
            else:
                print("no sandbox: start one with `runbook sandbox start --work-dir DIR`")
            return EXIT_FAILED
        box = found
    doc = sandbox.status_dict(box)
    if a.json:
        print_json(doc)
    else:
        print(f"topology {doc['topology']} ({doc['backend']}), PKI {doc['pki_dir']}")
        fields = ["name", "role", "host", "port", "tls", "pid", "alive"]
        print(display.record_table(doc["nodes"], fields).text(display.TERMINAL_WIDTH))
        if doc["links"]:
            print(display.checks_table([CheckResult(**r) for r in doc["links"]]).text(display.TERMINAL_WIDTH))
        print("healthy" if doc["healthy"] else "NOT healthy: restart with `runbook sandbox start`")
    return EXIT_OK if doc["healthy"] else EXIT_FAILED


def register(sub: Subparsers) -> None:
    from runbook.sandbox import BACKENDS, TOPOLOGIES

    p = sub.add_parser("sandbox", help="start, inspect and stop the local TLS-only Redis sandbox")
    p.add_argument("action", choices=("start", "status", "stop"))
    p.add_argument("--work-dir", help="state dir with pki/ (default $RUNBOOK_WORK_DIR or build/work)")
    p.add_argument("--topology", default="standalone", choices=TOPOLOGIES)
    p.add_argument("--backend", default="binary", choices=BACKENDS)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_sandbox)
