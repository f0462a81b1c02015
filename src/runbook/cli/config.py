"""``config render|lint``: the redis.conf TLS section (:mod:`runbook.config`)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json


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
        print_json(
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
                ).text(display.TERMINAL_WIDTH)
            )
        counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warn", "info")}
        print(f"{a.file}: {counts['error']} errors, {counts['warn']} warnings, {counts['info']} notes")
    return EXIT_FAILED if failed else EXIT_OK


def register(sub: Subparsers) -> None:
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
