"""``pki create|inspect|verify|resign-ca``: the CA and certificates (:mod:`runbook.pki`)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from runbook import display
from runbook.cli.common import EXIT_OK, Subparsers, print_checks, print_json
from runbook.results import as_dicts


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
        print_json(asdict(report))
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
        print_json(as_dicts(infos))
    else:
        fields = ["path", "subject", "serial", "not_after", "days_left", "sans", "key_type", "eku", "is_ca"]
        print(display.record_table(infos, fields).text(display.TERMINAL_WIDTH))
    return EXIT_OK


def _cmd_pki_verify(a: argparse.Namespace) -> int:
    from runbook import pki

    results = pki.verify(
        Path(a.dir),
        a.hostname,
        warn_days=a.warn_days,
        server_key_passphrase=pki.passphrase_from_env(a.server_key_passphrase_env),
    )
    return print_checks(results, a.json, {"dir": a.dir})


def _cmd_pki_resign_ca(a: argparse.Namespace) -> int:
    from runbook import pki

    report = pki.resign_ca(a.ca, a.ca_key, a.out, passphrase=pki.passphrase_from_env(a.ca_passphrase_env))
    if a.json:
        print_json(asdict(report))
    else:
        print(f"wrote  {report.written} (serial {report.serial}, same subject and key)")
        if report.backup:
            print(f"backup {report.backup}")
        print(f"fixed  {', '.join(report.fixed) or 'nothing: the CA was already strict'}")
        print(f"next   give clients and servers {report.written} (runbook adopt shows who still refuses)")
    return EXIT_OK


def register(sub: Subparsers) -> None:
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
    r = s.add_parser("resign-ca", help="re-sign an existing CA certificate with its own key, strict profile")
    r.add_argument("--ca", required=True, help="the CA certificate (PEM) to re-sign")
    r.add_argument("--ca-key", required=True, help="its private key")
    r.add_argument("--out", required=True, help="the new CA file (an existing one is backed up first)")
    r.add_argument("--ca-passphrase-env", metavar="VAR", help="the CA key's passphrase is in $VAR")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_cmd_pki_resign_ca)
