"""``check``: the live TLS audit of an endpoint (:mod:`runbook.checks`)."""

from __future__ import annotations

import argparse

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json
from runbook.errors import RunbookError


def _cmd_check(a: argparse.Namespace) -> int:
    from runbook import checks
    from runbook.client import Endpoint, TlsClientFiles

    if bool(a.cert) != bool(a.key):
        raise RunbookError("give --cert and --key together (the client certificate and its key)")
    if a.warn_days < 0:
        raise RunbookError(f"--warn-days must be 0 or more, got {a.warn_days}")
    from runbook.pki import passphrase_from_env

    password = passphrase_from_env(a.password_env)
    report = checks.run_audit(
        Endpoint(a.host, a.port, a.server_name or "", TlsClientFiles(a.ca, a.cert, a.key)),
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
        print_json(report.to_json())
    else:
        print(
            display.checks_table(report.checks, f"TLS audit of {report.target}").text(display.TERMINAL_WIDTH)
        )
    return EXIT_OK if report.ok else EXIT_FAILED


def register(sub: Subparsers) -> None:
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
        help="fail (not warn) CBC-mode and non-forward-secret TLS 1.2 suites",
    )
    p.add_argument("--json", action="store_true", help='print {"target", "ok", "checks": [...]}')
    p.add_argument("--prometheus", metavar="FILE", help="write node_exporter textfile metrics (atomic)")
    p.set_defaults(func=_cmd_check)
