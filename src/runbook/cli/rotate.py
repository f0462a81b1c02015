"""``rotate server|client|ca|verify``: certificates rotated on a live Redis (:mod:`runbook.rotation`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from runbook import display
from runbook.cli.common import Subparsers, connection_identity, deprecated_alias, print_checks, print_json
from runbook.errors import RunbookError


def _cmd_rotate(a: argparse.Namespace) -> int:
    from runbook import pki, rotation
    from runbook.client import address

    nodes: list[tuple[str, int]] = [(a.host, a.port)]
    for extra in a.node or []:
        host, _, port = extra.rpartition(":")
        if not host or not port.isdigit():
            raise RunbookError(f"--node {extra!r} is not HOST:PORT: e.g. --node 127.0.0.1:6380")
        nodes.append((host.strip("[]"), int(port)))
    identity = connection_identity(a)
    if a.dir is None and identity is None:
        raise RunbookError(
            "no connection identity: pass --ca --cert --key (the files redis-cli uses), or --dir for the runbook's own layout"
        )
    if a.kind == "verify":
        results = rotation.verify_served(
            a.host, a.port, Path(a.dir) if a.dir else None, server_hostname=a.server_name,
            tls=identity, expected=a.new_cert,
        )  # fmt: skip
        return print_checks(results, a.json, {"target": address(a.host, a.port)})
    report = rotation.rotate(
        a.kind,
        Path(a.dir) if a.dir else None,
        nodes,
        name=a.name or pki.DEFAULT_CLIENT,
        connect_as=a.connect_as,
        hostnames=a.hostname or [],
        server_hostname=a.server_name,
        new_cert=a.new_cert,
        new_key=a.new_key,
        client_files=identity,
        ca_key=a.ca_key,
        days=a.days,
        dry_run=a.dry_run,
        if_expiring_within=a.if_expiring_within,
        phase=a.phase,
        soak_seconds=a.soak,
        fault=a.drill,
    )
    if a.json:
        print_json(report.to_dict())
        return report.exit_code
    if a.dry_run or report.status == "planned":
        print(
            display.record_table(report.plan, ["step", "target", "detail"], "plan").text(
                display.TERMINAL_WIDTH
            )
        )
        print()
    if report.steps:
        print(display.checks_table(report.steps, f"rotate {a.kind}").text(display.TERMINAL_WIDTH))
    for line in report.commands:
        print(line)
    serials = f"old serial {report.old_serial}" + (
        f" -> new serial {report.new_serial}" if report.new_serial else ""
    )
    print(f"{report.status}: {serials}" + (f"; backup {report.backup}" if report.backup else ""))
    return report.exit_code


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "rotate",
        help="rotate server, client or CA certificates on a live Redis (backup, reload, verify, rollback)",
    )
    p.add_argument(
        "kind", choices=["server", "client", "ca", "verify"], help="what to rotate (verify: after a deploy)"
    )
    p.add_argument(
        "--dir",
        help="the runbook's own layout (ca.crt, ca.key, clients/): a shortcut for --ca --cert --key --ca-key",
    )
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
    server_name = p.add_argument("--server-name", help="name to verify the server against (default: --host)")
    # --server-hostname: the old spelling, kept one release. --cert/--key once meant the new pair here;
    # they now name the connection identity, as on every other command (--new-cert/--new-key: the pair)
    deprecated_alias(p, "--server-hostname", server_name)
    p.add_argument(
        "--ca", help="CA file the clients trust (redis-cli --cacert): the anchors a new chain must verify to"
    )
    p.add_argument("--cert", help="client certificate to connect with (mutual TLS)")
    p.add_argument("--key", help="its private key")
    p.add_argument("--ca-key", help="key of the CA that issues the server certificate (any file name)")
    p.add_argument(
        "--new-cert",
        help="use this renewed certificate (leaf, then intermediates) instead of issuing one "
        "(verify: the certificate the server must now present)",
    )
    p.add_argument("--new-key", help="the renewed certificate's private key (unencrypted PEM)")
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
