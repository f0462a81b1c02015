"""``lab list|start|hint|check|restart|solve|reveal|stop|progress|report``: break-fix labs (:mod:`runbook.labs`)."""

from __future__ import annotations

import argparse
from typing import Any

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json
from runbook.client import address

W = display.TERMINAL_WIDTH


def _cmd_list(a: argparse.Namespace) -> int:
    from runbook import labs

    rows = labs.catalogue_rows()
    if a.json:
        print_json(rows)
    else:
        print(display.record_table(rows, ["name", "title"]).text(W))
    return EXIT_OK


def _cmd_start(a: argparse.Namespace) -> int:
    from runbook import labs

    started = labs.start(a.name, a.work_dir, a.trainee)
    if a.json:
        print_json(started.to_dict())
        return EXIT_OK
    c = started.client
    print(f"Ticket · {started.title}\n\n{started.ticket}\n")
    rows = [
        ["application connects to", f"{address(c['host'], c['port'])} (server name {c['server_name']})"],
        ["application settings", started.client_file],
        ["server config", started.conf],
        ["lab PKI (CA key included)", started.pki_dir],
        ["lab folder", started.lab_dir],
    ]
    print(display.Table(["", ""], rows).text(W))
    print(f"\nYou may use: {started.toolkit}.")
    print("When you think it is fixed: `runbook lab check`; stuck: `runbook lab hint`.")
    return EXIT_OK


def _cmd_hint(a: argparse.Namespace) -> int:
    from runbook import labs

    h = labs.hint(a.work_dir, a.trainee, a.tier, a.lab)
    if a.json:
        print_json({"lab": h.lab, "tier": h.tier, "label": h.label, "hint": h.text})
    else:
        print(f"hint {h.tier}/3 ({h.label}): {h.text}")
    return EXIT_OK


def _cmd_check(a: argparse.Namespace) -> int:
    from runbook import labs

    result = labs.check(a.work_dir, a.trainee, a.lab)
    if a.json:
        print_json(result.to_dict())
    else:
        print(display.checks_table(result.checks, f"lab {result.lab}").text(W))
        print("fixed: well done (`runbook lab reveal` for the debrief)" if result.ok else "not fixed yet")
    return EXIT_OK if result.ok else EXIT_FAILED


def _cmd_restart(a: argparse.Namespace) -> int:
    from runbook import labs

    nodes = labs.restart(a.work_dir, a.node, a.lab)
    rows = [{"node": n.name, "tls_port": n.port, "port": n.plaintext_port, "pid": n.pid} for n in nodes]
    if a.json:
        print_json(rows)
    else:
        print(display.record_table(rows, ["node", "tls_port", "port", "pid"]).text(W))
    return EXIT_OK


def _cmd_solve(a: argparse.Namespace) -> int:
    from runbook import labs

    result = labs.solve(a.work_dir, a.trainee, a.lab)
    if a.json:
        print_json(result.to_dict())
    else:
        print(display.checks_table(result.checks, f"lab {result.lab}: reference fix applied").text(W))
    return EXIT_OK if result.ok else EXIT_FAILED


def _cmd_reveal(a: argparse.Namespace) -> int:
    from runbook import labs

    r = labs.reveal(a.work_dir, a.trainee, a.lab)
    if a.json:
        print_json(r.to_dict())
    else:
        print(display.Table(["debrief", r.lab], r.rows()).text(W))
    return EXIT_OK


def _cmd_stop(a: argparse.Namespace) -> int:
    from runbook import labs

    done = labs.stop(a.work_dir, a.lab, a.keep)
    if a.json:
        print_json(done)
    else:
        print(
            f"lab {done['lab']}: stopped {', '.join(done['stopped']) or 'nothing (no process was running)'}"
        )
        if done["removed"]:
            print(f"removed {done['removed']}")
    return EXIT_OK


def _cmd_progress(a: argparse.Namespace) -> int:
    from runbook import labs

    rows = labs.progress_rows(a.work_dir, a.trainee)
    if a.json:
        print_json(rows)
    else:
        print(display.record_table(rows, _FIELDS).text(W))
    return EXIT_OK


_FIELDS = ["trainee", "lab", "status", "attempts", "hints", "seconds", "score"]


def _cmd_report(a: argparse.Namespace) -> int:
    from runbook import labs

    doc: dict[str, Any] = labs.report(a.work_dir, a.plot)
    if a.json:
        print_json(doc)
    else:
        print(
            display.record_table(
                doc["trainees"], ["trainee", "solved", "revealed", "score"], "trainees"
            ).text(W)
        )
        print()
        print(display.record_table(doc["rows"], _FIELDS, "labs").text(W))
        if doc["plot"]:
            print(f"\nplot: {doc['plot']}")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    p = sub.add_parser("lab", help="break-fix labs: a broken Redis left running, check your fix (training)")
    s = p.add_subparsers(dest="lab_command", required=True)

    def add(
        name: str, help_text: str, func: Any, *, lab: bool = True, trainee: bool = True
    ) -> argparse.ArgumentParser:
        c = s.add_parser(name, help=help_text)
        c.add_argument("--work-dir", help="state folder (default $RUNBOOK_WORK_DIR, else build/work)")
        if lab:
            c.add_argument("--lab", help="the lab (default: the one started last)")
        if trainee:
            c.add_argument("--trainee", help="who is training (default $RUNBOOK_TRAINEE, else the OS user)")
        c.add_argument("--json", action="store_true")
        c.set_defaults(func=func)
        return c

    add("list", "the labs: names and tickets' titles", _cmd_list, lab=False, trainee=False)
    st = add(
        "start", "build a lab's broken setup and leave it running; print the ticket", _cmd_start, lab=False
    )
    st.add_argument("name", help="lab name (see `lab list`)")
    h = add("hint", "the next hint (tier 1: where to look, 2: which tool, 3: what to change)", _cmd_hint)
    h.add_argument("--tier", type=int, choices=[1, 2, 3], help="show this tier")
    add("check", "verify the live setup as the application connects (exit 0 fixed, 1 not)", _cmd_check)
    r = add("restart", "restart the lab's server(s) from their redis.conf", _cmd_restart, trainee=False)
    r.add_argument("--node", action="append", help="only this node (repeatable; default all)")
    add("solve", "apply the reference fix (instructor, self-test; scores as revealed)", _cmd_solve)
    add("reveal", "the debrief: cause, fix, how to see it, how to prevent it", _cmd_reveal)
    sp = add("stop", "stop the lab's servers and remove its folder", _cmd_stop, trainee=False)
    sp.add_argument("--keep", action="store_true", help="keep the lab folder")
    add("progress", "a trainee's progress: attempts, hints, time, score", _cmd_progress, lab=False)
    rp = add("report", "every trainee's progress (instructor)", _cmd_report, lab=False, trainee=False)
    rp.add_argument("--plot", metavar="FILE", help="write a PNG plot of time per lab")
