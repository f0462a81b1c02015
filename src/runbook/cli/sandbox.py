"""``sandbox start|status|stop`` and ``sandbox image build``: the local TLS-only Redis (:mod:`runbook.sandbox`)."""

from __future__ import annotations

import argparse

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json
from runbook.results import CheckResult


def _cmd_sandbox(a: argparse.Namespace) -> int:
    from runbook import sandbox

    if a.action == "start":
        box = sandbox.start(a.work_dir, a.topology, a.backend or "", image=a.image, pull=a.pull)
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
        image = f", image {doc['image']}" if doc.get("image") else ""
        print(
            f"topology {doc['topology']} ({doc['backend']}{image}), Redis {doc['server_version']}, PKI {doc['pki_dir']}"
        )
        fields = ["name", "role", "host", "port", "tls", "pid", "alive"]
        print(display.record_table(doc["nodes"], fields).text(display.TERMINAL_WIDTH))
        if doc["links"]:
            print(display.checks_table([CheckResult(**r) for r in doc["links"]]).text(display.TERMINAL_WIDTH))
        print("healthy" if doc["healthy"] else "NOT healthy: restart with `runbook sandbox start`")
    return EXIT_OK if doc["healthy"] else EXIT_FAILED


def _cmd_image_build(a: argparse.Namespace) -> int:
    from runbook import sandbox

    report = sandbox.build_image(a.tag, force=a.force)
    doc = report.to_dict()
    if a.json:
        print_json(doc)
    else:
        how = f"built in {doc['seconds']} s" if report.built else "already built from the same recipe"
        print(
            f"{doc['image']}: Redis {doc['redis_version']}, {doc['size'] / 1e6:.0f} MB, runs as uid {doc['uid']} ({how})"
        )
    return EXIT_OK


def register(sub: Subparsers) -> None:
    from runbook.sandbox import BACKENDS, TOPOLOGIES

    p = sub.add_parser("sandbox", help="start, inspect and stop the local TLS-only Redis sandbox; its image")
    s = p.add_subparsers(dest="action", required=True)
    for action, text in (
        ("start", "start a fresh sandbox"),
        ("status", "the recorded sandbox"),
        ("stop", "stop it"),
    ):
        q = s.add_parser(action, help=text)
        q.add_argument("--work-dir", help="state dir with pki/ (default $RUNBOOK_WORK_DIR or build/work)")
        if action == "start":
            q.add_argument("--topology", default="standalone", choices=TOPOLOGIES)
            q.add_argument("--backend", choices=BACKENDS, help="default $RUNBOOK_BACKEND or binary")
            q.add_argument(
                "--image", help="docker: the image (default $RUNBOOK_REDIS_IMAGE or the local build)"
            )
            q.add_argument("--pull", action="store_true", help="docker: pull the image when it is missing")
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=_cmd_sandbox)
    img = s.add_parser("image", help="the local Redis image of the docker backend")
    i = img.add_subparsers(dest="image_command", required=True)
    b = i.add_parser("build", help="build it from the OS packages (mmdebstrap + docker import), no registry")
    b.add_argument("--tag", help="image name (default $RUNBOOK_REDIS_IMAGE or runbook-redis:bookworm)")
    b.add_argument("--force", action="store_true", help="rebuild even when the same recipe is there")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_cmd_image_build)
