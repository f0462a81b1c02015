"""``adopt``: assess a live deployment the runbook did not build (:mod:`runbook.adopt`), read-only; with
``--migrate``, move it to the strict profile (writes files, reloads servers)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from runbook.cli.common import Subparsers, print_json
from runbook.errors import RunbookError

if TYPE_CHECKING:
    from runbook.client import Endpoint


def _node(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RunbookError(f"--node {text!r} is not HOST:PORT: e.g. --node 127.0.0.1:6380 or [::1]:6380")
    return host.strip("[]"), int(port)


def _cmd_adopt(a: argparse.Namespace) -> int:
    from runbook import adopt
    from runbook.client import Endpoint, TlsClientFiles

    if not 0 < a.port < 65536:
        raise RunbookError(f"--port {a.port} is not a TCP port: pass the server's tls-port")
    files = TlsClientFiles(a.ca, a.cert, a.key)
    addresses = [(a.host, a.port), *(_node(n) for n in a.node or [])]
    endpoints = [
        Endpoint(host, port, a.server_name or "", files, external=True)
        for host, port in dict.fromkeys(addresses)
    ]
    if a.migrate:
        return _migrate(a, endpoints)
    if a.dry_run or a.ca_key:
        raise RunbookError(
            f"{'--dry-run' if a.dry_run else '--ca-key'} goes with --migrate: add --migrate (adopt alone writes nothing)"
        )
    result = adopt.assess(endpoints, timeout=a.timeout, warn_days=a.warn_days)
    if a.json:
        print_json(result.to_dict())
    else:
        from runbook import display

        print(result.tables()[0].text())
        for f in result.findings:
            print(f"{display.mark('fail')}  {f.id} at {f.node}: {f.detail}")
            print(f"   fix: {f.fix}")
        n = len(result.findings)
        print(
            f"{'clean' if result.ok else f'{n} finding(s)'}: {len(result.nodes)} node(s) assessed, nothing written"
        )
    return result.exit_code


def _migrate(a: argparse.Namespace, endpoints: list[Endpoint]) -> int:
    from runbook import adopt

    # without --ca-key a deployment strict clients already verify is "nothing to do"; any other is refused
    result = adopt.migrate(endpoints, a.ca_key or "", dry_run=a.dry_run, timeout=a.timeout)
    if a.json:
        print_json(result.to_dict())
    else:
        print("\n".join(result.lines()))
    return result.exit_code


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "adopt",
        help="assess an existing deployment: what every kind of client sees (read-only); --migrate: to strict",
    )
    p.add_argument("--host", required=True, help="a Redis node (TLS)")
    p.add_argument("--port", required=True, type=int, help="its tls-port")
    p.add_argument("--node", action="append", metavar="HOST:PORT", help="another node (repeatable)")
    p.add_argument("--ca", required=True, help="the CA file your clients trust (redis-cli --cacert)")
    p.add_argument("--cert", help="a client certificate the servers accept (redis-cli --cert)")
    p.add_argument("--key", help="its private key (redis-cli --key)")
    p.add_argument("--server-name", help="the name clients verify (default: each node's host)")
    p.add_argument("--warn-days", type=int, default=30, help="expiry warning for long-lived certificates")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per connection (default 3)")
    p.add_argument("--ca-key", help="the CA's private key (--migrate re-signs the CA and issues with it)")
    p.add_argument(
        "--migrate",
        action="store_true",
        help="move the deployment to the strict profile, verified step by step, rolled back on failure",
    )
    p.add_argument("--dry-run", action="store_true", help="with --migrate: print the plan, write nothing")
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"nodes", "views", "findings", "ok"} (--migrate: the migration)',
    )
    p.set_defaults(func=_cmd_adopt)
