"""``diagnose``: why a TLS connection to Redis fails, and the fix (:mod:`runbook.diagnose`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runbook import display
from runbook.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, print_json
from runbook.errors import RunbookError

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
    from runbook.client import Endpoint, TlsClientFiles

    result = diagnose.diagnose_endpoint(
        Endpoint(a.host, a.port, a.server_name or "", TlsClientFiles(ca or "", a.cert, a.key)),
        tls=a.tls,
        min_version=_tls_version(a.tls_min),
        max_version=_tls_version(a.tls_max),
        ciphers=a.ciphers,
        timeout=a.timeout,
        log_file=a.log,
        work=a.work_dir,
    )
    if a.json:
        print_json(
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


def register(sub: Subparsers) -> None:
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
