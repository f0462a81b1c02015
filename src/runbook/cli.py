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


# --------------------------------------------------------------------------- diagnose / drill

_TLS_VERSIONS = {"1.0": "TLSv1", "1.1": "TLSv1_1", "1.2": "TLSv1_2", "1.3": "TLSv1_3"}


def _tls_version(value: str | None) -> Any:
    import ssl

    if value is None:
        return None
    if value not in _TLS_VERSIONS:
        raise RunbookError(f"unknown TLS version {value!r}: choose one of {', '.join(_TLS_VERSIONS)}")
    return getattr(ssl.TLSVersion, _TLS_VERSIONS[value])


def _cmd_diagnose(a: argparse.Namespace) -> int:
    from runbook import diagnose, workdir

    ca = a.ca
    if ca is None and a.tls:
        default_ca = workdir.pki_dir(workdir.work_dir(a.work_dir)) / "ca.crt"
        ca = str(default_ca) if default_ca.is_file() else None
    for label, path in (("--ca", ca), ("--cert", a.cert), ("--key", a.key), ("--log", a.log)):
        if path and not Path(path).is_file():
            raise RunbookError(f"{label} file {path} not found: pass an existing file")
    if a.key and not a.cert:
        raise RunbookError("--key given without --cert: pass both (or neither)")
    result = diagnose.diagnose_endpoint(
        a.host,
        a.port,
        ca=ca,
        cert=a.cert,
        key=a.key,
        server_name=a.server_name,
        tls=a.tls,
        min_version=_tls_version(a.tls_min),
        max_version=_tls_version(a.tls_max),
        ciphers=a.ciphers,
        timeout=a.timeout,
        log_file=a.log,
        work=a.work_dir,
    )
    if a.json:
        _print_json(
            {k: v for k, v in result.to_dict().items() if k != "notebook"} | {"notebook": result.notebook}
        )
    else:
        print(f"{display.mark('pass' if result.ok else 'fail')}  {result.cause}: {result.summary}")
        for line in result.evidence:
            print(f"   evidence: {line}")
        print(f"   fix: {result.fix}")
        if result.notebook:
            print(f"   see: notebook {result.notebook}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _add_diagnose(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("diagnose", help="connect like a client and say why TLS to Redis fails, and the fix")
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", help="CA file the client trusts (default: the work dir's pki/ca.crt if present)")
    p.add_argument("--cert", help="client certificate (mutual TLS)")
    p.add_argument("--key", help="client key (with --cert)")
    p.add_argument("--server-name", help="name to verify in the server certificate (default: --host)")
    p.add_argument("--tls", action=argparse.BooleanOptionalAction, default=True, help="use TLS (default)")
    p.add_argument("--tls-min", choices=list(_TLS_VERSIONS), help="lowest TLS version the client offers")
    p.add_argument("--tls-max", choices=list(_TLS_VERSIONS), help="highest TLS version the client offers")
    p.add_argument("--ciphers", help="OpenSSL cipher string the client offers (TLS 1.2)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per connection (default 3)")
    p.add_argument("--log", help="server log file to read (default: the sandbox node's log for this port)")
    p.add_argument("--work-dir", help="state dir (default $RUNBOOK_WORK_DIR or build/work)")
    p.add_argument("--json", action="store_true", help='print {"cause", "summary", "evidence", "fix"}')
    p.set_defaults(func=_cmd_diagnose)


def _cmd_drill_list(a: argparse.Namespace) -> int:
    from runbook import drills

    rows = [{"name": d.name, "expected": d.expected, "scenario": d.scenario} for d in drills.DRILLS]
    if a.json:
        _print_json(rows)
    else:
        print(display.record_table(rows, ["name", "expected", "scenario"]).text())
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
        _print_json({"ok": ok, "drills": [r.to_dict() for r in results]})
    else:
        header = ["drill", "symptom", "diagnosis", "fix"]
        print(display.Table(header, [[r[0], r[2], r[3], r[4]] for r in drills.table_rows(results)]).text())
        for r in results:
            if not r.cleaned:
                print(f"drill {r.name} did not clean up after itself", file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED


def _add_drill(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("drill", help="fault drills: real broken setups, diagnosed (training)")
    s = p.add_subparsers(dest="drill_command", required=True)
    ls = s.add_parser("list", help="list the drills")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_drill_list)
    r = s.add_parser("run", help="run one drill (NAME) or all (--all)")
    r.add_argument("name", nargs="?", help="drill name (see `drill list`)")
    r.add_argument("--all", action="store_true", help="run every drill")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_cmd_drill_run)


# --------------------------------------------------------------------------- entry point

COMMANDS: list[Callable[[argparse._SubParsersAction[_Parser]], None]] = [
    _add_pki,
    _add_run,
    _add_notebooks,
    _add_doctor,
    _add_diagnose,
    _add_drill,
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
