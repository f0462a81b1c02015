"""``doctor``: prove redis-server is present, recent enough, and speaks TLS."""

from __future__ import annotations

import argparse

from runbook.cli.common import EXIT_OK, Subparsers


def _cmd_doctor(a: argparse.Namespace) -> int:
    from runbook import sandbox

    version = sandbox.prove_tls_support()
    if not a.quiet:
        print(f"redis-server {'.'.join(map(str, version))} at {sandbox.redis_server_binary()}: TLS works")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    p = sub.add_parser("doctor", help="prove redis-server is present, >= 6.2, and speaks TLS")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_doctor)
