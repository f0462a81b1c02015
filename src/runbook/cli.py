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
from runbook.cli_fleet import register as _add_fleet
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


# --------------------------------------------------------------------------- rotate


def _cmd_rotate(a: argparse.Namespace) -> int:
    from runbook import pki, rotation

    nodes: list[tuple[str, int]] = [(a.host, a.port)]
    for extra in a.node or []:
        host, _, port = extra.rpartition(":")
        if not host or not port.isdigit():
            raise RunbookError(f"--node {extra!r} is not HOST:PORT: e.g. --node 127.0.0.1:6380")
        nodes.append((host.strip("[]"), int(port)))
    if a.kind == "verify":
        results = rotation.verify_served(a.host, a.port, Path(a.dir), server_hostname=a.server_hostname)
        return _print_checks(results, a.json, {"target": f"{a.host}:{a.port}"})
    report = rotation.rotate(
        a.kind,
        Path(a.dir),
        nodes,
        name=a.name or pki.DEFAULT_CLIENT,
        connect_as=a.connect_as,
        hostnames=a.hostname or [],
        server_hostname=a.server_hostname,
        new_cert=a.cert,
        new_key=a.key,
        days=a.days,
        dry_run=a.dry_run,
        if_expiring_within=a.if_expiring_within,
        phase=a.phase,
        soak_seconds=a.soak,
        fault=a.drill,
    )
    if a.json:
        _print_json(report.to_dict())
        return report.exit_code
    if a.dry_run or report.status == "planned":
        print(display.record_table(report.plan, ["step", "target", "detail"], "plan").text())
        print()
    if report.steps:
        print(display.checks_table(report.steps, f"rotate {a.kind}").text())
    for line in report.commands:
        print(line)
    serials = f"old serial {report.old_serial}" + (
        f" -> new serial {report.new_serial}" if report.new_serial else ""
    )
    print(f"{report.status}: {serials}" + (f"; backup {report.backup}" if report.backup else ""))
    return report.exit_code


def _add_rotate(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "rotate",
        help="rotate server, client or CA certificates on a live Redis (backup, reload, verify, rollback)",
    )
    p.add_argument(
        "kind", choices=["server", "client", "ca", "verify"], help="what to rotate (verify: after a deploy)"
    )
    p.add_argument("--dir", required=True, help="PKI directory (ca.crt, ca.key, redis-server.*, clients)")
    p.add_argument("--host", required=True, help="Redis host (loopback or external)")
    p.add_argument("--port", required=True, type=int, help="Redis TLS port")
    p.add_argument(
        "--node", action="append", help="another node HOST:PORT, rotated after --host (repeatable)"
    )
    p.add_argument("--name", help="client certificate to rotate (client rotation; default redis-client)")
    p.add_argument("--as", dest="connect_as", default="redis-client", help="client identity used to connect")
    p.add_argument(
        "--hostname", action="append", help="a name clients use; the new certificate must cover it"
    )
    p.add_argument("--server-hostname", help="name to verify the server against (default: --host)")
    p.add_argument("--cert", help="use this new certificate instead of issuing one (with --key)")
    p.add_argument("--key", help="the new certificate's private key (unencrypted PEM)")
    p.add_argument("--days", type=int, default=365, help="validity of re-issued certificates (default 365)")
    p.add_argument("--phase", default="all", choices=["all", "bundle", "reissue", "retire"], help="CA phase")
    p.add_argument(
        "--dry-run", action="store_true", help="plan and preflight only: nothing written or reloaded"
    )
    p.add_argument(
        "--if-expiring-within",
        type=int,
        metavar="DAYS",
        help="do nothing (exit 0) unless it expires within DAYS",
    )
    p.add_argument(
        "--soak", type=float, default=0.0, metavar="SECONDS", help="keep verifying after the reload"
    )
    p.add_argument(
        "--drill", choices=["reload"], help="fault drill: force a reload failure to show the rollback"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_rotate)


# --------------------------------------------------------------------------- check


def _cmd_check(a: argparse.Namespace) -> int:
    from runbook import checks
    from runbook.client import TlsClientFiles

    if bool(a.cert) != bool(a.key):
        raise RunbookError("give --cert and --key together (the client certificate and its key)")
    if a.warn_days < 0:
        raise RunbookError(f"--warn-days must be 0 or more, got {a.warn_days}")
    from runbook.pki import passphrase_from_env

    password = passphrase_from_env(a.password_env)
    report = checks.run_audit(
        a.host,
        a.port,
        TlsClientFiles(a.ca, a.cert, a.key),
        server_name=a.server_name,
        plaintext_port=a.plaintext_port,
        warn_days=a.warn_days,
        timeout=a.timeout,
        strict_ciphers=a.strict_ciphers,
        username=a.user,
        password=password.decode() if password else None,
    )
    if a.prometheus:
        checks.write_prometheus(report, a.prometheus)
    if a.json:
        _print_json(report.to_json())
    else:
        print(display.checks_table(report.checks, f"TLS audit of {report.target}").text())
    return EXIT_OK if report.ok else EXIT_FAILED


def _add_check(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("check", help="audit a live Redis TLS endpoint from the client side")
    p.add_argument("--host", required=True, help="server host name or IP (loopback for the sandbox)")
    p.add_argument("--port", required=True, type=int, help="the server's tls-port")
    p.add_argument("--ca", required=True, help="CA certificate clients trust (ca.crt)")
    p.add_argument("--cert", help="client certificate for mutual TLS (redis-client.crt)")
    p.add_argument("--key", help="client private key (redis-client.key)")
    p.add_argument("--server-name", help="name clients use to verify the certificate (default: --host)")
    p.add_argument("--plaintext-port", type=int, help="also prove a plaintext PING fails on this port")
    p.add_argument("--warn-days", type=int, default=30, help="warn when a certificate expires sooner")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per connection (default 3)")
    p.add_argument("--user", help="ACL user for AUTH (with --password-env)")
    p.add_argument("--password-env", metavar="VAR", help="AUTH with the password in $VAR (requirepass/ACL)")
    p.add_argument(
        "--strict-ciphers",
        action="store_true",
        help="also fail CBC-mode and non-forward-secret TLS 1.2 suites",
    )
    p.add_argument("--json", action="store_true", help='print {"target", "ok", "checks": [...]}')
    p.add_argument("--prometheus", metavar="FILE", help="write node_exporter textfile metrics (atomic)")
    p.set_defaults(func=_cmd_check)


# --------------------------------------------------------------------------- config


def _cmd_config_render(a: argparse.Namespace) -> int:
    from runbook import config
    from runbook.pki import PkiPaths

    folder = Path(a.dir)
    if not PkiPaths(folder).server_cert.exists() and PkiPaths(folder / "pki").server_cert.exists():
        a.dir = str(folder / "pki")  # a work dir was given: use its pki/
    elif not PkiPaths(folder).server_cert.exists():
        print(
            f"note: {PkiPaths(folder).server_cert} does not exist here (fine if DIR is a path on the server)",
            file=sys.stderr,
        )
    replication = a.topology == "replica"
    cluster = a.topology == "cluster"
    if replication or cluster:
        config.ensure_node_client(a.dir)
    settings = config.settings_for_pki(
        a.dir,
        a.preset,
        tls_port=a.tls_port,
        auth_clients=a.auth_clients,
        replication=replication,
        cluster=cluster,
    )
    text = config.render(settings)
    if a.output:
        path = config.write_conf(a.output, text)
        print(f"wrote {path}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def _cmd_config_lint(a: argparse.Namespace) -> int:
    from runbook import config

    findings = config.lint(Path(a.file), warn_days=a.warn_days, migration=a.migration)
    failed = bool(config.errors(findings))
    if a.json:
        _print_json(
            {
                "file": a.file,
                "ok": not failed,
                "findings": [{"directive": f.subject, **asdict(f)} for f in findings],
            }
        )
    else:
        if findings:
            print(
                display.Table(
                    ["severity", "directive", "message", "fix"],
                    ([display.mark(f.severity), f.subject, f.message, f.fix] for f in findings),
                ).text()
            )
        counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warn", "info")}
        print(f"{a.file}: {counts['error']} errors, {counts['warn']} warnings, {counts['info']} notes")
    return EXIT_FAILED if failed else EXIT_OK


def _add_config(sub: argparse._SubParsersAction[_Parser]) -> None:
    from runbook.config import AUTH_CLIENTS, PRESETS

    p = sub.add_parser("config", help="render and lint the redis.conf TLS section")
    s = p.add_subparsers(dest="config_command", required=True)
    r = s.add_parser("render", help="print (or write) a commented redis.conf TLS section for a PKI")
    r.add_argument("--dir", required=True, help="PKI directory (ca.crt, redis-server.crt, ...)")
    r.add_argument("--preset", default="strict", choices=PRESETS)
    r.add_argument("--tls-port", type=int, help="TLS port (default 6379; 6380 with --preset migration)")
    r.add_argument("--auth-clients", default="yes", choices=AUTH_CLIENTS)
    r.add_argument(
        "--topology",
        default="standalone",
        choices=("standalone", "replica", "cluster"),
        help="replica/cluster add tls-replication/tls-cluster and a clientAuth link certificate",
    )
    r.add_argument("-o", "--output", help="write to FILE (atomic; 0600 if it holds a passphrase)")
    r.set_defaults(func=_cmd_config_render)
    lint = s.add_parser("lint", help="find TLS mistakes in a redis.conf (exit 1 on any error)")
    lint.add_argument("file")
    lint.add_argument("--warn-days", type=int, default=30, help="warn when a certificate expires sooner")
    lint.add_argument(
        "--migration",
        action="store_true",
        help="a loopback-only plaintext port (and tls-auth-clients optional) is a warning, not an error",
    )
    lint.add_argument("--json", action="store_true")
    lint.set_defaults(func=_cmd_config_lint)


# --------------------------------------------------------------------------- sandbox


def _cmd_sandbox(a: argparse.Namespace) -> int:
    from runbook import sandbox

    if a.action == "start":
        box = sandbox.start(a.work_dir, a.topology, a.backend)
    elif a.action == "stop":
        pids = sandbox.stop(a.work_dir)
        if a.json:
            _print_json({"stopped": pids})
        else:
            print(f"stopped {len(pids)} node(s)" if pids else "no sandbox was running")
        return EXIT_OK
    else:
        found = sandbox.status(a.work_dir)
        if found is None:
            if a.json:
                _print_json(sandbox.status_dict(None))
            else:
                print("no sandbox: start one with `runbook sandbox start --work-dir DIR`")
            return EXIT_FAILED
        box = found
    doc = sandbox.status_dict(box)
    if a.json:
        _print_json(doc)
    else:
        print(f"topology {doc['topology']} ({doc['backend']}), PKI {doc['pki_dir']}")
        fields = ["name", "role", "host", "port", "tls", "pid", "alive"]
        print(display.record_table(doc["nodes"], fields).text())
        if doc["links"]:
            print(display.checks_table([CheckResult(**r) for r in doc["links"]]).text())
        print("healthy" if doc["healthy"] else "NOT healthy: restart with `runbook sandbox start`")
    return EXIT_OK if doc["healthy"] else EXIT_FAILED


def _add_sandbox(sub: argparse._SubParsersAction[_Parser]) -> None:
    from runbook.sandbox import BACKENDS, TOPOLOGIES

    p = sub.add_parser("sandbox", help="start, inspect and stop the local TLS-only Redis sandbox")
    p.add_argument("action", choices=("start", "status", "stop"))
    p.add_argument("--work-dir", help="state dir with pki/ (default $RUNBOOK_WORK_DIR or build/work)")
    p.add_argument("--topology", default="standalone", choices=TOPOLOGIES)
    p.add_argument("--backend", default="binary", choices=BACKENDS)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_sandbox)


# --------------------------------------------------------------------------- run / notebooks / doctor


def _cmd_run(a: argparse.Namespace) -> int:
    from runbook import pipeline

    connection = {
        "redis_host": a.redis_host,
        "redis_port": a.redis_port,
        "server_name": a.server_name,
        "ca_file": a.ca_file,
        "client_cert": a.client_cert,
        "client_key": a.client_key,
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
        _print_json(summary.to_dict())
    if not summary.ok:
        print(summary.failure_line() or "FAILED", file=sys.stderr)
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
    p.add_argument(
        "--target",
        choices=["sandbox", "external"],
        help="sandbox: a local Redis the notebooks start (default); external: a server given by the options below, never started or stopped",
    )
    p.add_argument("--redis-host", help="external target: host name or address")
    p.add_argument("--redis-port", type=int, help="external target: TLS port")
    p.add_argument("--server-name", help="external target: name in its certificate (default: --redis-host)")
    p.add_argument("--ca-file", help="external target: CA certificate (PEM) that signed the server's")
    p.add_argument("--client-cert", help="external target: client certificate (PEM) for mutual TLS")
    p.add_argument("--client-key", help="external target: client private key (PEM) for mutual TLS")
    p.add_argument("--html", action="store_true", help="also write report.html (nbconvert, code hidden)")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout (progress on stderr)")
    p.add_argument("--keep-sandbox", action="store_true", help="leave the sandbox Redis running afterwards")
    p.add_argument(
        "--notebooks-dir", help="folder of NN_*.ipynb to run (default: the repository's notebooks/)"
    )
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
    _add_rotate,
    _add_check,
    _add_config,
    _add_sandbox,
    _add_diagnose,
    _add_drill,
    _add_bench,
    _add_fleet,
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
