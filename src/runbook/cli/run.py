"""``run`` and ``notebooks``: the notebooks headless, and their reference outputs (:mod:`runbook.pipeline`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, deprecated_alias, print_json


def _cmd_run(a: argparse.Namespace) -> int:
    import os

    from runbook import pipeline, sandbox

    if a.backend:
        if a.backend == "docker":
            sandbox.require_image()  # no engine / no image: one line naming the fix, before any kernel
        os.environ[sandbox.BACKEND_ENV] = a.backend  # every kernel and sandbox of the run: no fallback

    connection = {
        "redis_host": a.host,
        "redis_port": a.port,
        "server_name": a.server_name,
        "ca_file": a.ca,
        "client_cert": a.cert,
        "client_key": a.key,
    }
    summary = pipeline.run(
        params_file=a.params,
        output_dir=a.output_dir,
        only=[o for part in (a.only or []) for o in part.split(",")],
        work=a.work_dir,
        stop_sandbox=not a.keep_sandbox,
        target=a.target,
        connection={k: v for k, v in connection.items() if v is not None},
        html=a.html,
        progress=False if a.json else None,
        notebooks=Path(a.notebooks_dir) if a.notebooks_dir else None,
    )
    human = sys.stderr if a.json else sys.stdout
    for nb in summary.notebooks:
        status = {"passed": "pass", "failed": "fail"}.get(nb.status, "skip")
        print(f"{display.mark(status)}  {nb.name}  ({nb.seconds:.1f}s)", file=human)
    print(f"executed notebooks: {summary.output_dir}", file=human)
    print(f"summary:            {Path(summary.output_dir) / 'summary.json'}", file=human)
    if summary.report_html:
        print(f"report:             {summary.report_html}", file=human)
    if a.json:
        print_json(summary.to_dict())
    if not summary.ok:
        print(summary.failure_line() or "FAILED", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _add_run(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="run the notebooks headless with papermill")
    p.add_argument("--params", help="YAML file: common parameters and per-notebook ones under `notebooks:`")
    p.add_argument(
        "--output-dir", help="where executed notebooks and summary.json go (default build/runs/<UTC>)"
    )
    p.add_argument("--only", action="append", help="notebook numbers or names, e.g. 01,02")
    p.add_argument("--work-dir", help="state dir (default $RUNBOOK_WORK_DIR or build/work)")
    p.add_argument(
        "--target",
        choices=["sandbox", "external"],
        help="sandbox: a local Redis the notebooks start (default); external: a server given by the options below, never started or stopped",
    )
    host = p.add_argument("--host", help="external target: host name or address")
    port = p.add_argument("--port", type=int, help="external target: TLS port")
    p.add_argument("--server-name", help="external target: name in its certificate (default: --host)")
    ca = p.add_argument("--ca", help="external target: CA certificate (PEM) that signed the server's")
    cert = p.add_argument("--cert", help="external target: client certificate (PEM) for mutual TLS")
    key = p.add_argument("--key", help="external target: client private key (PEM) for mutual TLS")
    for old, new in (
        ("--redis-host", host),
        ("--redis-port", port),
        ("--ca-file", ca),
        ("--client-cert", cert),
        ("--client-key", key),
    ):
        deprecated_alias(p, old, new)
    p.add_argument("--html", action="store_true", help="also write report.html (nbconvert, code hidden)")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout (progress on stderr)")
    p.add_argument("--keep-sandbox", action="store_true", help="leave the sandbox Redis running afterwards")
    p.add_argument(
        "--backend",
        choices=("binary", "docker"),
        help="sandbox servers: binary (redis-server on PATH) or docker (the local image); default $RUNBOOK_BACKEND",
    )
    p.add_argument(
        "--notebooks-dir", help="folder of NN_*.ipynb to run (default: the repository's notebooks/)"
    )
    p.set_defaults(func=_cmd_run)


def _cmd_notebooks(a: argparse.Namespace) -> int:
    from runbook import pipeline

    for path in pipeline.refresh(only=[o for part in (a.only or []) for o in part.split(",")]):
        print(f"refreshed {path}")
    return EXIT_OK


def _add_notebooks(sub: Subparsers) -> None:
    p = sub.add_parser("notebooks", help="re-execute the notebooks in place (the nbval reference outputs)")
    p.add_argument("--refresh", action="store_true", help="execute and save outputs (default action)")
    p.add_argument("--only", action="append")
    p.set_defaults(func=_cmd_notebooks)


def register(sub: Subparsers) -> None:
    _add_run(sub)
    _add_notebooks(sub)
