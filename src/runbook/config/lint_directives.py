"""Lint rules on the directives themselves: names and enum values, ports, client auth, protocols."""

from __future__ import annotations

from runbook.config.lint_support import Add, int_value
from runbook.config.parsing import ParsedConfig
from runbook.config.settings import ENUMS, KNOWN_PROTOCOLS, TLS_DIRECTIVES


def lint_names(conf: ParsedConfig, add: Add) -> None:
    for name in conf.args:
        if name.startswith("tls-") and name not in TLS_DIRECTIVES:
            close = [d for d in TLS_DIRECTIVES if d.startswith(name[:8])]
            add(
                "error",
                name,
                f"{name} is not a Redis TLS directive (Redis refuses to start)",
                f"did you mean {close[0]}?" if close else "remove it",
            )
    for name, allowed in ENUMS.items():
        value = conf.get(name)
        if value is not None and value.lower() not in allowed:
            add(
                "error",
                name,
                f"{name} {value!r} is not valid (Redis refuses to start)",
                f"use {'|'.join(allowed)}",
            )


def _bind_is_loopback(conf: ParsedConfig) -> bool:
    bind = conf.args.get("bind")
    if not bind:
        return False  # Redis 7 default: every interface
    loopback = {"127.0.0.1", "::1", "localhost"}
    return all(a.lstrip("-") in loopback for a in bind)


def lint_ports(conf: ParsedConfig, add: Add, migration: bool) -> None:
    tls_port = int_value(conf, "tls-port", 0)
    if tls_port is None or not 0 <= tls_port <= 65535:
        add("error", "tls-port", f"tls-port {conf.get('tls-port')!r} is not a port number", "tls-port 6379")
    elif tls_port == 0:
        add("error", "tls-port", "tls-port is not set: this server speaks no TLS at all", "set tls-port 6379")
    port = int_value(conf, "port", 6379)
    if port is None:
        add("error", "port", f"port {conf.get('port')!r} is not a port number", "set port 0")
        return
    if port == 0:
        return
    implicit = "" if conf.has("port") else " (port is not set and Redis defaults to 6379)"
    if migration and _bind_is_loopback(conf):
        add(
            "warn",
            "port",
            f"port {port}: the plaintext port is open on loopback only{implicit}: temporary, for the migration",
            "set port 0 once every client uses TLS",
        )
    else:
        where = "on loopback only" if _bind_is_loopback(conf) else "on every bound interface"
        add(
            "error",
            "port",
            f"port {port}: the plaintext port is open beside TLS, {where}{implicit}",
            "set port 0 so Redis speaks only TLS",
        )


def lint_auth(conf: ParsedConfig, add: Add, migration: bool) -> None:
    auth = (conf.get("tls-auth-clients") or "yes").lower()
    if auth == "no":
        add(
            "error",
            "tls-auth-clients",
            "tls-auth-clients no: clients need no certificate (mutual TLS off)",
            "set tls-auth-clients yes and give clients certificates",
        )
    elif auth == "optional":
        add(
            "warn" if migration else "error",
            "tls-auth-clients",
            "tls-auth-clients optional: clients without a certificate are accepted",
            "set tls-auth-clients yes once every client has a certificate",
        )
    if auth in ("yes", "optional") and not conf.get("tls-ca-cert-file") and not conf.get("tls-ca-cert-dir"):
        add(
            "error",
            "tls-ca-cert-file",
            "tls-ca-cert-file (or tls-ca-cert-dir) is missing while client certificates are checked",
            "set tls-ca-cert-file to the CA that signs client certificates",
        )


def lint_protocols(conf: ParsedConfig, add: Add) -> None:
    value = conf.get("tls-protocols")
    if value is None:
        add(
            "info",
            "tls-protocols",
            "tls-protocols is not set: Redis 7 defaults to TLSv1.2 TLSv1.3",
            'state it: tls-protocols "TLSv1.2 TLSv1.3"',
        )
        return
    protos = value.split()
    unknown = [p for p in protos if p not in KNOWN_PROTOCOLS]
    if unknown or not protos:
        add(
            "error",
            "tls-protocols",
            f"tls-protocols {value!r}: unknown protocol {', '.join(unknown) or '(empty)'} (Redis refuses to start)",
            'use tls-protocols "TLSv1.2 TLSv1.3"',
        )
    old = [p for p in protos if p in ("TLSv1", "TLSv1.1")]
    if old:
        add(
            "error",
            "tls-protocols",
            f"tls-protocols allows {' and '.join(old)} (deprecated, RFC 8996)",
            'use tls-protocols "TLSv1.2 TLSv1.3"',
        )
