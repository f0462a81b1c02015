"""Command-line front end: ``redis-tls-runbook ...`` or ``python -m runbook ...``.

Thin by design: each command parses arguments, calls one package function and prints its
result (a table, or JSON with ``--json``). Exit codes everywhere: 0 success, 1 a verification
failed, 2 usage or input error (a :class:`RunbookError`, printed as one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runbook import display
from runbook.errors import RunbookError
from runbook.results import CheckResult, all_ok, as_dicts

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _print_checks(results: list[CheckResult], as_json: bool, extra: dict[str, Any] | None = None) -> int:
    ok = all_ok(results)
    if as_json:
        _print_json({**(extra or {}), "ok": ok, "checks": as_dicts(results)})
    else:
        print(display.checks_table(results).text())
    return EXIT_OK if ok else EXIT_FAILED


# --------------------------------------------------------------------------- pki


def _cmd_pki_create(a: argparse.Namespace) -> int:
    from runbook import pki

    spec = pki.PkiSpec(
        hostnames=a.hostname or [],
        ips=a.ip or [],
        local_names=not a.no_local_names,
        clients=a.client or [pki.DEFAULT_CLIENT],
        key_type=a.key_type,
        ca_days=a.ca_days,
        days=a.days,
        ca_passphrase=pki.passphrase_from_env(a.ca_passphrase_env),
        server_key_passphrase=pki.passphrase_from_env(a.server_key_passphrase_env),
    )
    report = pki.create_pki(Path(a.dir), spec, force=a.force)
    if a.json:
        _print_json(asdict(report))
    else:
        for f in report.written:
            print(f"wrote  {Path(report.directory) / f}")
        for f in report.kept:
            print(f"kept   {Path(report.directory) / f}")
        if report.backup:
            print(f"backup {report.backup}")
    return EXIT_OK


def _cmd_pki_inspect(a: argparse.Namespace) -> int:
    from runbook import pki

    infos = [pki.inspect(Path(f)) for f in a.files]
    if a.json:
        _print_json(as_dicts(infos))
    else:
        fields = ["path", "subject", "serial", "not_after", "days_left", "sans", "key_type", "eku", "is_ca"]
        print(display.record_table(infos, fields).text())
    return EXIT_OK


def _cmd_pki_verify(a: argparse.Namespace) -> int:
    from runbook import pki

    results = pki.verify(
        Path(a.dir),
        a.hostname,
        warn_days=a.warn_days,
        server_key_passphrase=pki.passphrase_from_env(a.server_key_passphrase_env),
    )
    return _print_checks(results, a.json, {"dir": a.dir})


def _add_pki(sub: argparse._SubParsersAction[_Parser]) -> None:
    from runbook.pki import KEY_TYPES

    p = sub.add_parser("pki", help="create, inspect and verify the CA and certificates")
    s = p.add_subparsers(dest="pki_command", required=True)
    c = s.add_parser("create", help="create (or complete) the PKI in a directory")
    c.add_argument("--dir", required=True, help="PKI directory (created 0700)")
    c.add_argument("--hostname", action="append", help="DNS name for the server certificate (repeatable)")
    c.add_argument("--ip", action="append", help="IP address for the server certificate (repeatable)")
    c.add_argument("--no-local-names", action="store_true", help="leave out localhost, 127.0.0.1 and ::1")
    c.add_argument(
        "--client", action="append", help="client certificate name (repeatable; default redis-client)"
    )
    c.add_argument("--key-type", default="ecdsa-p256", choices=KEY_TYPES)
    c.add_argument("--ca-days", type=int, default=3650, help="CA validity in days (default 3650)")
    c.add_argument("--days", type=int, default=365, help="leaf validity in days (default 365)")
    c.add_argument("--ca-passphrase-env", metavar="VAR", help="encrypt ca.key with the passphrase in $VAR")
    c.add_argument(
        "--server-key-passphrase-env",
        metavar="VAR",
        help="encrypt redis-server.key with the passphrase in $VAR",
    )
    c.add_argument("--force", action="store_true", help="re-issue everything (old files go to backups/)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_cmd_pki_create)
    i = s.add_parser("inspect", help="describe certificates")
    i.add_argument("files", nargs="+")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_cmd_pki_inspect)
    v = s.add_parser("verify", help="verify a PKI directory (strict X.509)")
    v.add_argument("--dir", required=True)
    v.add_argument("--hostname", help="name clients use (default: the first DNS SAN)")
    v.add_argument("--warn-days", type=int, default=30)
    v.add_argument("--server-key-passphrase-env", metavar="VAR")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_pki_verify)


# --------------------------------------------------------------------------- run / notebooks / doctor


def _cmd_run(a: argparse.Namespace) -> int:
    from runbook import pipeline

    summary = pipeline.run(
        params_file=a.params,
        output_dir=a.output_dir,
        only=[o for part in (a.only or []) for o in part.split(",")],
        work=a.work_dir,
        stop_sandbox=not a.keep_sandbox,
    )
    for nb in summary.notebooks:
        print(f"{display.mark('pass' if nb.status == 'passed' else 'fail')}  {nb.name}  ({nb.seconds:.1f}s)")
    print(f"executed notebooks: {summary.output_dir}")
    print(f"summary:            {Path(summary.output_dir) / 'summary.json'}")
    failed = summary.failure
    if failed and failed.error:
        e = failed.error
        print(f"FAILED: {failed.name}, cell {e['cell']}: {e['ename']}: {e['reason']}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _add_run(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("run", help="run the notebooks headless with papermill")
    p.add_argument("--params", help="YAML file: common parameters and per-notebook ones under `notebooks:`")
    p.add_argument(
        "--output-dir", help="where executed notebooks and summary.json go (default build/runs/<UTC>)"
    )
    p.add_argument("--only", action="append", help="notebook numbers or names, e.g. 01,02")
    p.add_argument("--work-dir", help="state dir (default $RUNBOOK_WORK_DIR or build/work)")
    p.add_argument("--keep-sandbox", action="store_true", help="leave the sandbox Redis running afterwards")
    p.set_defaults(func=_cmd_run)


def _cmd_notebooks(a: argparse.Namespace) -> int:
    from runbook import pipeline

    for path in pipeline.refresh(only=[o for part in (a.only or []) for o in part.split(",")]):
        print(f"refreshed {path}")
    return EXIT_OK


def _add_notebooks(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("notebooks", help="re-execute the notebooks in place (the nbval reference outputs)")
    p.add_argument("--refresh", action="store_true", help="execute and save outputs (default action)")
    p.add_argument("--only", action="append")
    p.set_defaults(func=_cmd_notebooks)


def _cmd_doctor(a: argparse.Namespace) -> int:
    from runbook import sandbox

    version = sandbox.prove_tls_support()
    if not a.quiet:
        print(f"redis-server {'.'.join(map(str, version))} at {sandbox.redis_server_binary()}: TLS works")
    return EXIT_OK


def _add_doctor(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("doctor", help="prove redis-server is present, >= 6.2, and speaks TLS")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_doctor)


# --------------------------------------------------------------------------- bench


def _cmd_bench(a: argparse.Namespace) -> int:
    from runbook import bench
    from runbook.results import all_ok

    report = bench.measure(a.work_dir, "quick" if a.quick else a.profile)
    results = bench.checks(report)
    if a.plot:
        bench.plot(report, a.plot)
    if a.json:
        _print_json({**report.to_dict(), "ok": all_ok(results), "checks": as_dicts(results)})
    else:
        for table in bench.tables(report):
            print(table.text(), end="\n\n")
        print(display.checks_table(results, "Verdict").text())
        if a.plot:
            print(f"\nplot: {a.plot}")
    return EXIT_OK if all_ok(results) else EXIT_FAILED


def _add_bench(sub: argparse._SubParsersAction[_Parser]) -> None:
    from runbook.bench import PROFILES

    p = sub.add_parser("bench", help="measure what TLS costs: throughput, handshakes, resumption, pooling")
    p.add_argument("--quick", action="store_true", help="the short profile (seconds, not minutes)")
    p.add_argument(
        "--profile", default="full", choices=list(PROFILES), help="how much to measure (default full)"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", metavar="FILE", help="write the plots as a PNG file")
    p.add_argument("--work-dir", help="state dir for the bench PKIs and servers (default $RUNBOOK_WORK_DIR)")
    p.set_defaults(func=_cmd_bench)


# --------------------------------------------------------------------------- entry point

COMMANDS: list[Callable[[argparse._SubParsersAction[_Parser]], None]] = [
    _add_pki,
    _add_run,
    _add_notebooks,
    _add_doctor,
    _add_bench,
]


def build_parser() -> _Parser:
    parser = _Parser(prog="redis-tls-runbook", description="Redis TLS runbook: PKI, config, checks, rotation")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
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
