"""redis.conf TLS settings: render, parse (quotes, include, last-wins) and lint; apply to a server.

* :func:`render` turns :class:`TlsSettings` into a commented redis.conf TLS section covering every
  TLS directive of Redis 7 (only the ones that apply are emitted). Presets: ``strict`` (plaintext
  port closed, mutual TLS required, TLS 1.2 + 1.3, ECDHE + AEAD ciphers only, server cipher order,
  session caching) and ``migration`` (the plaintext port kept open on loopback only, loudly
  flagged as temporary). Whenever replication or cluster is on, the outgoing links present a
  clientAuth certificate (``tls-client-cert-file``): a server-only certificate is refused by a
  primary that requires client certificates, with nothing logged at the default level.
* :func:`parse` reads a redis.conf like Redis does (``sdssplitargs`` quoting, case-insensitive
  names, ``include`` with globs, the last occurrence wins).
* :func:`lint` finds TLS mistakes; each :class:`~runbook.results.Finding` names its directive in
  ``subject`` and in the message.
* :func:`apply_tls` changes a running server with one ``CONFIG SET`` (atomic in Redis 7) and
  ``CONFIG REWRITE`` only when the server runs from a config file we own.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import ssl
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509

from runbook import pki as pki_mod
from runbook.errors import RunbookError
from runbook.results import Finding

Preset = Literal["strict", "migration"]
PRESETS: tuple[str, ...] = ("strict", "migration")
AUTH_CLIENTS: tuple[str, ...] = ("yes", "optional", "no")
NODE_CLIENT = "redis-node"  # the clientAuth identity of outgoing replication / cluster links

STRICT_PROTOCOLS = "TLSv1.2 TLSv1.3"
STRICT_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)
STRICT_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

# Every TLS directive of Redis 7 with the one-line comment render() writes above it.
TLS_DIRECTIVES: dict[str, str] = {
    "port": "Plaintext port: 0 closes it, so clients can only speak TLS.",
    "tls-port": "The TLS port clients connect to.",
    "tls-cert-file": "Server certificate (PEM, chain allowed) presented to clients and replicas.",
    "tls-key-file": "Private key of tls-cert-file (keep it 0600, owned by the redis user).",
    "tls-key-file-pass": "Passphrase of tls-key-file (keep this file 0600).",
    "tls-client-cert-file": "Certificate with clientAuth presented on outgoing replication/cluster links.",
    "tls-client-key-file": "Private key of tls-client-cert-file.",
    "tls-client-key-file-pass": "Passphrase of tls-client-key-file (keep this file 0600).",
    "tls-dh-params-file": "DH parameters, only needed for DHE ciphers (the strict preset uses none).",
    "tls-ca-cert-file": "CA bundle that client, replica and cluster-peer certificates must chain to.",
    "tls-ca-cert-dir": "Directory of hashed CA certificates (alternative to tls-ca-cert-file).",
    "tls-auth-clients": "yes: every client must present a certificate signed by the CA (mutual TLS).",
    "tls-replication": "Replication links (this server as a replica) use TLS.",
    "tls-cluster": "The cluster bus between nodes uses TLS.",
    "tls-protocols": "Only TLS 1.2 and TLS 1.3; TLSv1 and TLSv1.1 are broken.",
    "tls-ciphers": "TLS 1.2 ciphers: ECDHE key exchange with AEAD encryption only (no CBC, RC4, 3DES).",
    "tls-ciphersuites": "TLS 1.3 suites: AES-GCM and ChaCha20-Poly1305.",
    "tls-prefer-server-ciphers": "The server's cipher order wins over the client's.",
    "tls-session-caching": "Cache TLS sessions so reconnecting clients resume cheaply.",
    "tls-session-cache-size": "Number of cached TLS sessions.",
    "tls-session-cache-timeout": "Seconds a cached TLS session stays valid.",
}
YES_NO = ("yes", "no")
_ENUMS: dict[str, tuple[str, ...]] = {
    "tls-auth-clients": AUTH_CLIENTS,
    "tls-replication": YES_NO,
    "tls-cluster": YES_NO,
    "tls-prefer-server-ciphers": YES_NO,
    "tls-session-caching": YES_NO,
    "cluster-enabled": YES_NO,
}
KNOWN_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_WEAK_NAME = re.compile(r"(RC4|3DES|DES|NULL|EXP|EXPORT|MD5|ADH|AECDH|ANON|IDEA|SEED|CAMELLIA|PSK|SRP)")
_AEAD_NAME = re.compile(r"(GCM|CHACHA20|CCM)")


# --------------------------------------------------------------------------- render


@dataclass
class TlsSettings:
    """What :func:`render` writes. ``None`` / empty means "leave the directive out"."""

    cert_file: str
    key_file: str
    ca_cert_file: str = ""
    tls_port: int = 6379
    port: int = 0
    bind: str = ""
    key_file_pass: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    client_key_file_pass: str = ""
    dh_params_file: str = ""
    ca_cert_dir: str = ""
    auth_clients: str = "yes"
    replication: bool = False
    cluster: bool = False
    protocols: str = STRICT_PROTOCOLS
    ciphers: str = STRICT_CIPHERS
    ciphersuites: str = STRICT_CIPHERSUITES
    prefer_server_ciphers: bool | None = True
    session_caching: bool | None = True
    session_cache_size: int | None = None
    session_cache_timeout: int | None = None
    preset: str = "strict"

    def validate(self) -> None:
        if self.auth_clients not in AUTH_CLIENTS:
            raise RunbookError(
                f"tls-auth-clients {self.auth_clients!r} is not valid: choose {', '.join(AUTH_CLIENTS)}"
            )
        for name, value in (("tls-port", self.tls_port), ("port", self.port)):
            if not 0 <= value <= 65535:
                raise RunbookError(f"{name} {value} is out of range: use 1-65535 (0 closes the port)")
        if self.tls_port == 0:
            raise RunbookError("tls-port 0 disables TLS: pass a port such as --tls-port 6379")
        if self.port and self.port == self.tls_port:
            raise RunbookError(f"port and tls-port are both {self.port}: give them different numbers")
        bad = [p for p in self.protocols.split() if p not in KNOWN_PROTOCOLS]
        if bad:
            raise RunbookError(f"unknown TLS protocol {bad[0]!r}: use TLSv1.2 and/or TLSv1.3")
        if (self.replication or self.cluster) and not self.client_cert_file:
            raise RunbookError(
                "replication/cluster links need a clientAuth certificate: set client_cert_file "
                f"(settings_for_pki issues {NODE_CLIENT} for you)"
            )


def settings_for_pki(
    pki_dir: Path | str,
    preset: str = "strict",
    *,
    tls_port: int | None = None,
    auth_clients: str = "yes",
    plaintext_port: int | None = None,
    replication: bool = False,
    cluster: bool = False,
    node_client: str = NODE_CLIENT,
) -> TlsSettings:
    """Settings for the PKI in ``pki_dir`` (absolute paths) under ``preset``. Reads nothing.

    ``strict`` puts TLS on 6379 by default. ``migration`` keeps the plaintext port (default 6379,
    or ``plaintext_port``) open, bound to loopback only, with TLS beside it (default 6380). With ``replication``/``cluster`` the outgoing links use the ``node_client``
    certificate (``clients/redis-node.crt``, clientAuth): see :func:`ensure_node_client`.
    """
    if preset not in PRESETS:
        raise RunbookError(f"unknown preset {preset!r}: choose {' or '.join(PRESETS)}")
    paths = pki_mod.PkiPaths(Path(pki_dir).resolve())
    if preset == "migration":
        port = 6379 if plaintext_port is None else plaintext_port
        tls_port = 6380 if tls_port is None else tls_port
        bind = "127.0.0.1 -::1"
    else:
        port = plaintext_port or 0
        tls_port = 6379 if tls_port is None else tls_port
        bind = ""
    settings = TlsSettings(
        cert_file=str(paths.server_cert),
        key_file=str(paths.server_key),
        ca_cert_file=str(paths.ca_cert),
        tls_port=tls_port,
        port=port,
        bind=bind,
        auth_clients=auth_clients,
        replication=replication,
        cluster=cluster,
        preset=preset,
    )
    if replication or cluster:
        settings.client_cert_file = str(paths.client_cert(node_client))
        settings.client_key_file = str(paths.client_key(node_client))
    settings.validate()
    return settings


def ensure_node_client(pki_dir: Path | str, name: str = NODE_CLIENT) -> tuple[Path, Path]:
    """Issue the clientAuth certificate of outgoing replication/cluster links if missing. Writes files.

    Uses :func:`runbook.pki.create_pki` on the existing PKI with a spec taken from the server
    certificate itself, so nothing else is touched. Idempotent. Returns (cert, key).
    """
    paths = pki_mod.PkiPaths(Path(pki_dir))
    cert, key = paths.client_cert(name), paths.client_key(name)
    if cert.exists() and key.exists():
        return cert, key
    if not paths.server_cert.exists():
        raise RunbookError(f"no server certificate in {paths.root}: run notebook 01 or `runbook pki create`")
    info = pki_mod.inspect(paths.server_cert)
    ca_pass = (
        pki_mod.passphrase_from_env(pki_mod.CA_ENV)
        if paths.ca_key.exists() and pki_mod.key_is_encrypted(paths.ca_key)
        else None
    )
    spec = pki_mod.PkiSpec(
        hostnames=[s[4:] for s in info.sans if s.startswith("DNS:")],
        ips=[s[3:] for s in info.sans if s.startswith("IP:")],
        local_names=False,
        clients=[name],
        key_type=info.key_type,
        ca_passphrase=ca_pass,
    )
    pki_mod.create_pki(paths.root, spec)
    return cert, key


def quote(value: str) -> str:
    """Quote a redis.conf argument when it holds spaces, quotes or is empty."""
    if value and not re.search(r"[\s\"'\\]", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def directives(settings: TlsSettings) -> dict[str, str]:
    """The TLS directives of ``settings`` in render order (values quoted for redis.conf)."""
    settings.validate()
    s = settings
    out: dict[str, str] = {}
    if s.bind:
        out["bind"] = s.bind
    out["port"] = str(s.port)
    out["tls-port"] = str(s.tls_port)
    out["tls-cert-file"] = quote(s.cert_file)
    out["tls-key-file"] = quote(s.key_file)
    if s.key_file_pass:
        out["tls-key-file-pass"] = quote(s.key_file_pass)
    if s.client_cert_file:
        out["tls-client-cert-file"] = quote(s.client_cert_file)
        out["tls-client-key-file"] = quote(s.client_key_file or s.key_file)
        if s.client_key_file_pass:
            out["tls-client-key-file-pass"] = quote(s.client_key_file_pass)
    if s.dh_params_file:
        out["tls-dh-params-file"] = quote(s.dh_params_file)
    if s.ca_cert_file:
        out["tls-ca-cert-file"] = quote(s.ca_cert_file)
    if s.ca_cert_dir:
        out["tls-ca-cert-dir"] = quote(s.ca_cert_dir)
    out["tls-auth-clients"] = s.auth_clients
    if s.replication or s.cluster:
        out["tls-replication"] = "yes"
    if s.cluster:
        out["tls-cluster"] = "yes"
    if s.protocols:
        out["tls-protocols"] = quote(s.protocols)
    if s.ciphers and "TLSv1.2" in s.protocols.split():
        out["tls-ciphers"] = quote(s.ciphers)
    if s.ciphersuites and "TLSv1.3" in s.protocols.split():
        out["tls-ciphersuites"] = quote(s.ciphersuites)
    if s.prefer_server_ciphers is not None:
        out["tls-prefer-server-ciphers"] = _yn(s.prefer_server_ciphers)
    if s.session_caching is not None:
        out["tls-session-caching"] = _yn(s.session_caching)
    if s.session_caching is not False:
        if s.session_cache_size is not None:
            out["tls-session-cache-size"] = str(s.session_cache_size)
        if s.session_cache_timeout is not None:
            out["tls-session-cache-timeout"] = str(s.session_cache_timeout)
    return out


def render(settings: TlsSettings) -> str:
    """A commented redis.conf TLS section for ``settings`` (text; nothing written)."""
    lines = [
        f"# ---- TLS (rendered by redis-tls-runbook, preset {settings.preset}) ----",
        "# Only the TLS directives that apply are written; each has a one-line comment.",
    ]
    if settings.port:
        lines += [
            "#",
            "# !!! TEMPORARY MIGRATION CONFIG: the plaintext port is still open (loopback only) so",
            "# !!! clients can move to TLS. Close it (port 0, preset strict) as soon as they have.",
        ]
    for name, value in directives(settings).items():
        comment = TLS_DIRECTIVES.get(name, "")
        if name == "bind":
            comment = "Listen on loopback only while the plaintext port is open."
        elif name == "port" and settings.port:
            comment = "Plaintext port, TEMPORARY: open for the migration only; set 0 when done."
        elif name == "tls-auth-clients" and value != "yes":
            comment = f"{value}: clients without a certificate are accepted (mutual TLS NOT enforced)."
        lines += ["", f"# {comment}", f"{name} {value}"]
    return "\n".join(lines) + "\n"


def conf_text(items: Mapping[str, str]) -> str:
    """Directives (already quoted values) -> redis.conf lines."""
    return "".join(f"{k} {v}\n" for k, v in items.items())


def write_conf(path: Path | str, text: str) -> Path:
    """Write a rendered config atomically; 0600 when it holds a passphrase, else 0644. Writes a file.

    Idempotent: an identical file is left alone; a different one is backed up first."""
    from runbook import files

    target = Path(path)
    mode = files.PRIVATE if re.search(r"^tls-(client-)?key-file-pass\s", text, re.M) else files.PUBLIC
    if target.is_file() and target.read_text() == text and stat.S_IMODE(target.stat().st_mode) == mode:
        return target  # idempotent: nothing to change
    if target.exists():
        files.backup([target], target.parent)
    return files.write_file(target, text.encode(), mode)


# --------------------------------------------------------------------------- parse


def split_args(line: str) -> list[str]:
    """Split one redis.conf line like Redis's ``sdssplitargs`` (double/single quotes, escapes)."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur: list[str] = []
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    raise ValueError("unbalanced double quotes")
                c = line[i]
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and _is_hex(line[i + 2 : i + 4]):
                    cur.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    cur.append(
                        {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}.get(line[i + 1], line[i + 1])
                    )
                    i += 1
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_dq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif in_sq:
                if i >= n:
                    raise ValueError("unbalanced single quotes")
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    cur.append("'")
                    i += 1
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_sq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n or line[i].isspace():
                    break
                c = line[i]
                if c == '"':
                    in_dq = True
                elif c == "'":
                    in_sq = True
                else:
                    cur.append(c)
            i += 1
        args.append("".join(cur))


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)


@dataclass
class ParsedConfig:
    """A parsed redis.conf: the last value of each directive and where it came from."""

    path: str
    args: dict[str, list[str]] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The directive's arguments joined by one space, or ``default`` when absent."""
        got = self.args.get(name.lower())
        return " ".join(got) if got is not None else default

    def has(self, name: str) -> bool:
        return name.lower() in self.args

    def as_directives(self) -> dict[str, str]:
        return {k: " ".join(quote(a) for a in v) for k, v in self.args.items()}


def parse(path: Path | str) -> ParsedConfig:
    """Parse a redis.conf file (and its includes). Reads files; raises RunbookError if missing."""
    target = Path(path)
    if not target.is_file():
        raise RunbookError(f"config file {target} not found: give the path of a redis.conf")
    parsed = ParsedConfig(str(target))
    _parse_into(parsed, target, set())
    return parsed


def parse_text(text: str, base: Path | str = ".", name: str = "<text>") -> ParsedConfig:
    """Parse redis.conf ``text``; relative includes resolve against ``base``. Reads includes only."""
    parsed = ParsedConfig(name)
    _parse_lines(parsed, text, Path(base), name, set())
    return parsed


def _parse_into(parsed: ParsedConfig, path: Path, seen: set[Path]) -> None:
    real = path.resolve()
    if real in seen:
        parsed.errors.append(Finding("error", "include", f"include loop at {path}", "remove the cycle"))
        return
    seen.add(real)
    parsed.files.append(str(path))
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        parsed.errors.append(
            Finding("error", "include", f"cannot read {path}: {exc.strerror}", "fix the path or permissions")
        )
        return
    _parse_lines(parsed, text, path.parent, str(path), seen)
    seen.discard(real)


def _parse_lines(parsed: ParsedConfig, text: str, base: Path, name: str, seen: set[Path]) -> None:
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            argv = split_args(line)
        except ValueError as exc:
            parsed.errors.append(
                Finding("error", "syntax", f"{name}:{number}: {exc}", "fix the quoting on that line")
            )
            continue
        if not argv:
            continue
        key, values = argv[0].lower(), argv[1:]
        if key == "include":
            for pattern in values:
                target = Path(pattern) if Path(pattern).is_absolute() else base / pattern
                matches = sorted(glob.glob(str(target))) if glob.has_magic(str(target)) else [str(target)]
                if not matches and glob.has_magic(str(target)):
                    continue
                for match in matches:
                    if Path(match).is_file():
                        _parse_into(parsed, Path(match), seen)
                    else:
                        parsed.errors.append(
                            Finding(
                                "error",
                                "include",
                                f"include {pattern}: {match} not found ({name}:{number})",
                                "fix the include path (Redis will not start)",
                            )
                        )
            continue
        parsed.args[key] = values
        parsed.origin[key] = f"{name}:{number}"


# --------------------------------------------------------------------------- lint


def _as_parsed(source: Path | str | ParsedConfig | Mapping[str, str]) -> ParsedConfig:
    if isinstance(source, ParsedConfig):
        return source
    if isinstance(source, Mapping):
        return parse_text(conf_text(source), name="<directives>")
    return parse(source)


def lint(
    source: Path | str | ParsedConfig | Mapping[str, str],
    *,
    warn_days: int = 30,
    migration: bool = False,
    now: dt.datetime | None = None,
) -> list[Finding]:
    """TLS mistakes in a redis.conf (path, parsed config or directives dict). Reads the files it names.

    Every finding's ``subject`` is the directive at fault and its message names it too.
    ``migration=True`` downgrades a plaintext port bound to loopback only (and
    ``tls-auth-clients optional``) from error to warning, for the migration window.
    """
    conf = _as_parsed(source)
    findings: list[Finding] = list(conf.errors)
    base = Path(conf.path).parent if conf.path not in ("<text>", "<directives>") else Path.cwd()
    when = now or dt.datetime.now(dt.UTC)

    def add(severity: str, directive: str, message: str, fix: str) -> None:
        findings.append(Finding(severity, directive, message, fix))  # type: ignore[arg-type]

    _lint_names(conf, add)
    _lint_ports(conf, add, migration)
    _lint_auth(conf, add, migration)
    _lint_protocols(conf, add)
    _lint_ciphers(conf, add)
    pairs = _lint_files(conf, base, add, warn_days, when)
    _lint_links(conf, add, pairs)
    _lint_conf_mode(conf, add)
    return findings


Add = Any  # callable(severity, directive, message, fix)


def _lint_names(conf: ParsedConfig, add: Add) -> None:
    for name in conf.args:
        if name.startswith("tls-") and name not in TLS_DIRECTIVES:
            close = [d for d in TLS_DIRECTIVES if d.startswith(name[:8])]
            add(
                "error",
                name,
                f"{name} is not a Redis TLS directive (Redis refuses to start)",
                f"did you mean {close[0]}?" if close else "remove it",
            )
    for name, allowed in _ENUMS.items():
        value = conf.get(name)
        if value is not None and value.lower() not in allowed:
            add(
                "error",
                name,
                f"{name} {value!r} is not valid (Redis refuses to start)",
                f"use {'|'.join(allowed)}",
            )


def _int(conf: ParsedConfig, name: str, default: int) -> int | None:
    value = conf.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None


def _bind_is_loopback(conf: ParsedConfig) -> bool:
    bind = conf.args.get("bind")
    if not bind:
        return False  # Redis 7 default: every interface
    loopback = {"127.0.0.1", "::1", "localhost"}
    return all(a.lstrip("-") in loopback for a in bind)


def _lint_ports(conf: ParsedConfig, add: Add, migration: bool) -> None:
    tls_port = _int(conf, "tls-port", 0)
    if tls_port is None or not 0 <= tls_port <= 65535:
        add("error", "tls-port", f"tls-port {conf.get('tls-port')!r} is not a port number", "tls-port 6379")
    elif tls_port == 0:
        add("error", "tls-port", "tls-port is not set: this server speaks no TLS at all", "set tls-port 6379")
    port = _int(conf, "port", 6379)
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


def _lint_auth(conf: ParsedConfig, add: Add, migration: bool) -> None:
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


def _lint_protocols(conf: ParsedConfig, add: Add) -> None:
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


def weak_ciphers(cipher_string: str) -> list[str]:
    """TLS 1.2 ciphers of an OpenSSL cipher string that are not ECDHE + AEAD, with the reason.

    Names are checked as written (so ciphers the local OpenSSL lacks, like RC4, are caught too)
    and the string is expanded by OpenSSL (so aliases such as ``HIGH`` or ``ALL`` are caught).
    """
    weak: dict[str, str] = {}
    for token in re.split(r"[:, ]+", cipher_string):
        if not token or token[0] in "!-+@" or "-" not in token or token.upper() != token:
            continue
        reason = _cipher_weakness(token, None)
        if reason:
            weak[token] = reason
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.set_ciphers(cipher_string + ":@SECLEVEL=0")
    except ssl.SSLError:
        return [f"{n} ({r})" for n, r in weak.items()]
    for cipher in ctx.get_ciphers():
        name = cipher["name"]
        if name.startswith("TLS_"):
            continue
        reason = _cipher_weakness(name, dict(cipher))
        if reason and name not in weak:
            weak[name] = reason
    return [f"{n} ({r})" for n, r in weak.items()]


def _cipher_weakness(name: str, info: dict[str, Any] | None) -> str:
    upper = name.upper()
    match = _WEAK_NAME.search(upper)
    if match:
        return match.group(1)
    aead = bool(info["aead"]) if info else bool(_AEAD_NAME.search(upper))
    if not aead:
        return "CBC, not AEAD"
    kea = info["kea"] if info else ("kx-ecdhe" if upper.startswith("ECDHE-") else "other")
    if kea != "kx-ecdhe":
        return "no ECDHE forward secrecy"
    if "CCM8" in upper:
        return "CCM8 short tag"
    return ""


def _lint_ciphers(conf: ParsedConfig, add: Add) -> None:
    protos = (conf.get("tls-protocols") or STRICT_PROTOCOLS).split()
    tls12 = any(p in protos for p in ("TLSv1", "TLSv1.1", "TLSv1.2"))
    value = conf.get("tls-ciphers")
    if value is None:
        if tls12:
            add(
                "warn",
                "tls-ciphers",
                "tls-ciphers is not set: the OpenSSL default list includes CBC (non-AEAD) ciphers",
                f"set tls-ciphers {STRICT_CIPHERS}",
            )
    else:
        weak = weak_ciphers(value)
        if weak:
            shown = ", ".join(weak[:4]) + (f" and {len(weak) - 4} more" if len(weak) > 4 else "")
            add(
                "error",
                "tls-ciphers",
                f"tls-ciphers allows weak TLS 1.2 ciphers: {shown}",
                f"set tls-ciphers {STRICT_CIPHERS}",
            )
    suites = conf.get("tls-ciphersuites")
    if suites:
        bad = [s for s in suites.split(":") if s and s not in STRICT_CIPHERSUITES.split(":")]
        if bad:
            add(
                "warn",
                "tls-ciphersuites",
                f"tls-ciphersuites includes {', '.join(bad)} (not AES-GCM or ChaCha20-Poly1305)",
                f"set tls-ciphersuites {STRICT_CIPHERSUITES}",
            )
    if (conf.get("tls-prefer-server-ciphers") or "no").lower() != "yes":
        add(
            "info",
            "tls-prefer-server-ciphers",
            "tls-prefer-server-ciphers is off: the client's cipher order wins",
            "set tls-prefer-server-ciphers yes",
        )


@dataclass
class _Pair:
    cert: x509.Certificate | None = None
    key: Any = None


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


def _lint_files(
    conf: ParsedConfig, base: Path, add: Add, warn_days: int, now: dt.datetime
) -> dict[str, _Pair]:
    """Check every file directive; returns the loaded (cert, key) pairs by role."""
    pairs: dict[str, _Pair] = {"server": _Pair(), "client": _Pair()}
    loaded_cas: list[x509.Certificate] = []
    for cert_d, key_d, pass_d, role in (
        ("tls-cert-file", "tls-key-file", "tls-key-file-pass", "server"),
        ("tls-client-cert-file", "tls-client-key-file", "tls-client-key-file-pass", "client"),
    ):
        cert_v, key_v = conf.get(cert_d), conf.get(key_d)
        if role == "server" and _int(conf, "tls-port", 0) and not cert_v:
            add(
                "error",
                cert_d,
                f"{cert_d} is missing while tls-port is set",
                f"set {cert_d} to the server certificate",
            )
        if role == "server" and _int(conf, "tls-port", 0) and not key_v:
            add(
                "error", key_d, f"{key_d} is missing while tls-port is set", f"set {key_d} to its private key"
            )
        if role == "client" and cert_v and not key_v:
            add("error", key_d, f"{key_d} is missing while {cert_d} is set", f"set {key_d}")
        pair = pairs[role]
        if cert_v:
            path = _resolve(base, cert_v)
            if not _readable(path):
                add("error", cert_d, f"{cert_d} {path}: {_why(path)}", "fix the path or permissions")
            else:
                try:
                    pair.cert = pki_mod.load_cert(path)
                except RunbookError:
                    add(
                        "error",
                        cert_d,
                        f"{cert_d} {path} is not a PEM certificate",
                        "point it at the .crt file",
                    )
                if pair.cert is not None:
                    _lint_validity(add, cert_d, pair.cert, warn_days, now)
                    _lint_strength(add, cert_d, pair.cert)
        if key_v:
            path = _resolve(base, key_v)
            if not _readable(path):
                add("error", key_d, f"{key_d} {path}: {_why(path)}", "fix the path or permissions")
            else:
                _lint_key_mode(add, key_d, path)
                password = conf.get(pass_d)
                encrypted = pki_mod.key_is_encrypted(path)
                try:
                    pair.key = pki_mod.load_key(path, password.encode() if password and encrypted else None)
                except RunbookError as exc:
                    if encrypted:
                        problem = "is missing" if not password else "is wrong"
                        add(
                            "error",
                            pass_d,
                            f"{pass_d} {problem} for the encrypted {key_d} {path.name}",
                            f"set {pass_d} to the key's passphrase",
                        )
                    else:
                        add("error", key_d, f"{key_d} {path}: {exc}", "point it at the .key file")
        if pair.cert is not None and pair.key is not None and not pki_mod.key_matches(pair.cert, pair.key):
            add(
                "error",
                key_d,
                f"{key_d} does not match the certificate in {cert_d}",
                "point both at the same pair (re-issue them together)",
            )
    ca_v = conf.get("tls-ca-cert-file")
    if ca_v:
        path = _resolve(base, ca_v)
        if not _readable(path):
            add(
                "error",
                "tls-ca-cert-file",
                f"tls-ca-cert-file {path}: {_why(path)}",
                "fix the path or permissions",
            )
        else:
            try:
                loaded_cas = pki_mod.load_certs(path)
            except RunbookError:
                add(
                    "error",
                    "tls-ca-cert-file",
                    f"tls-ca-cert-file {path} is not a PEM certificate",
                    "use ca.crt",
                )
            for ca in loaded_cas:
                _lint_validity(add, "tls-ca-cert-file", ca, warn_days, now)
                _lint_strength(add, "tls-ca-cert-file", ca)
    ca_dir = conf.get("tls-ca-cert-dir")
    if ca_dir:
        path = _resolve(base, ca_dir)
        if not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
            add(
                "error",
                "tls-ca-cert-dir",
                f"tls-ca-cert-dir {path}: {_why(path)}",
                "fix the path or permissions",
            )
    dh = conf.get("tls-dh-params-file")
    if dh and not _readable(_resolve(base, dh)):
        path = _resolve(base, dh)
        add(
            "error",
            "tls-dh-params-file",
            f"tls-dh-params-file {path}: {_why(path)}",
            "fix the path or drop it",
        )
    if loaded_cas and not any(_is_ca(ca) for ca in loaded_cas):
        add(
            "error",
            "tls-ca-cert-file",
            "tls-ca-cert-file holds no CA certificate (basicConstraints CA:FALSE): no client or peer verifies",
            "point it at ca.crt, the CA that issued the certificates",
        )
    linked = _links_on(conf)
    if loaded_cas:
        for directive, role in (("tls-cert-file", "server"), ("tls-client-cert-file", "client")):
            cert = pairs[role].cert
            if cert is not None and not any(pki_mod._signed_by(cert, ca) for ca in loaded_cas):
                add(
                    "error" if linked else "warn",
                    directive,
                    f"{directive} was not issued by a CA in tls-ca-cert-file: peers (replicas, cluster "
                    "nodes) that trust only that CA will refuse it",
                    "issue it from the same CA or add its CA to the bundle",
                )
    server = pairs["server"].cert
    if server is not None:
        eku = _eku(server)
        if eku is not None and x509.oid.ExtendedKeyUsageOID.SERVER_AUTH not in eku:
            add(
                "error",
                "tls-cert-file",
                "tls-cert-file: the server certificate lacks the serverAuth usage: clients refuse it",
                "issue a server certificate (`runbook pki create`) and point tls-cert-file at it",
            )
    return pairs


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.subject == cert.issuer  # an old v1 self-signed root


def _links_on(conf: ParsedConfig) -> bool:
    """True when the server opens TLS links itself (replica of someone, TLS replication or cluster bus)."""
    return bool(conf.get("replicaof") or conf.get("slaveof")) or any(
        (conf.get(d) or "no").lower() == "yes" for d in ("tls-replication", "tls-cluster")
    )


def _lint_strength(add: Add, directive: str, cert: x509.Certificate) -> None:
    kind, size = pki_mod.key_description(cert.public_key())
    if kind.startswith("rsa") and size < 2048:
        add(
            "error",
            directive,
            f"{directive}: RSA key of {size} bits (minimum 2048)",
            "re-issue with rsa-2048+ or ECDSA",
        )
    algo = cert.signature_hash_algorithm
    if algo is not None and algo.name in ("md5", "sha1"):
        add(
            "error",
            directive,
            f"{directive}: certificate signed with {algo.name}",
            "re-issue it with SHA-256",
        )


def _why(path: Path) -> str:
    if not path.exists():
        return "not found"
    if path.is_dir():
        return "is a directory, not a file"
    return "not readable by this user"


def _lint_key_mode(add: Add, directive: str, path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        add(
            "error",
            directive,
            f"{directive} {path.name} has mode {mode:04o}: readable by group/others",
            f"chmod 600 {path}",
        )


def _lint_validity(
    add: Add, directive: str, cert: x509.Certificate, warn_days: int, now: dt.datetime
) -> None:
    subject = cert.subject.rfc4514_string()
    if cert.not_valid_after_utc <= now:
        add(
            "error",
            directive,
            f"{directive}: certificate {subject} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
            "rotate it (notebook 05)",
        )
    elif cert.not_valid_before_utc > now:
        add(
            "error",
            directive,
            f"{directive}: certificate {subject} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
            "check the clock or re-issue it",
        )
    elif cert.not_valid_after_utc - now < dt.timedelta(days=warn_days):
        left = (cert.not_valid_after_utc - now).days
        add(
            "warn",
            directive,
            f"{directive}: certificate {subject} expires in {left} days (< {warn_days})",
            "rotate it soon (notebook 05)",
        )


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def _lint_links(conf: ParsedConfig, add: Add, pairs: dict[str, _Pair]) -> None:
    replica_of = conf.get("replicaof") or conf.get("slaveof")
    tls_repl = (conf.get("tls-replication") or "no").lower() == "yes"
    cluster = (conf.get("cluster-enabled") or "no").lower() == "yes"
    tls_cluster = (conf.get("tls-cluster") or "no").lower() == "yes"
    if replica_of and not tls_repl:
        add(
            "error",
            "tls-replication",
            f"replicaof {replica_of} without tls-replication yes: replication travels in plaintext "
            "(or fails against a TLS-only primary)",
            "set tls-replication yes and point replicaof at the primary's tls-port",
        )
    if cluster and not tls_cluster:
        add(
            "error",
            "tls-cluster",
            "cluster-enabled yes without tls-cluster yes: the cluster bus travels in plaintext",
            "set tls-cluster yes (and tls-replication yes)",
        )
    if cluster and tls_cluster and not tls_repl:
        add(
            "error",
            "tls-replication",
            "cluster-enabled yes without tls-replication yes: replicas in the cluster sync in plaintext",
            "set tls-replication yes",
        )
    links = bool(replica_of) or tls_repl or (cluster and tls_cluster)
    auth = (conf.get("tls-auth-clients") or "yes").lower()
    if not links or auth == "no":
        return
    directive = "tls-client-cert-file" if conf.get("tls-client-cert-file") else "tls-cert-file"
    cert = pairs["client" if directive == "tls-client-cert-file" else "server"].cert
    if cert is None:
        return
    eku = _eku(cert)
    if eku is not None and x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        add(
            "error",
            directive,
            f"{directive}: the certificate for outgoing replication/cluster links lacks clientAuth; a peer "
            "requiring client certificates refuses it (sslv3 alert unsupported certificate) and logs nothing",
            f"set tls-client-cert-file/tls-client-key-file to a clientAuth certificate (e.g. clients/{NODE_CLIENT}.crt)",
        )


def _lint_conf_mode(conf: ParsedConfig, add: Add) -> None:
    for directive in ("tls-key-file-pass", "tls-client-key-file-pass"):
        if not conf.get(directive):
            continue
        origin = conf.origin.get(directive, "").rsplit(":", 1)[0]
        path = Path(origin)
        if not origin or not path.is_file():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007:
            add(
                "error",
                directive,
                f"{directive} is in {path.name}, which has mode {mode:04o}: readable by others",
                f"chmod 600 {path}",
            )
        elif mode & 0o070:
            add(
                "warn",
                directive,
                f"{directive} is in {path.name}, which has mode {mode:04o}: readable by its group",
                f"chmod 600 {path} unless only the redis group can read it",
            )


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


# --------------------------------------------------------------------------- apply to a server


@dataclass(frozen=True)
class ApplyReport:
    """What :func:`apply_tls` changed on a server (values never include passphrases)."""

    changed: list[str]
    rewritten: bool
    config_file: str


def config_set_args(items: Mapping[str, str]) -> list[str]:
    """Directives (redis.conf-quoted) -> flat ``CONFIG SET`` arguments (unquoted values)."""
    out: list[str] = []
    for name, value in items.items():
        out += [name, " ".join(split_args(value))]
    return out


def apply_tls(client: Any, items: Mapping[str, str], *, owned_dir: Path | str | None = None) -> ApplyReport:
    """Apply TLS directives to a running server. Changes the server.

    One ``CONFIG SET`` with every pair (atomic in Redis 7: all or nothing). ``CONFIG REWRITE``
    follows only when the server's config file lies under ``owned_dir`` (a file we generated).
    """
    tls_items = {k: v for k, v in items.items() if k in TLS_DIRECTIVES}
    if not tls_items:
        raise RunbookError("nothing to apply: give TLS directives such as tls-cert-file")
    client.execute_command("CONFIG", "SET", *config_set_args(tls_items))
    info = client.info("server")
    conf_file = str(info.get("config_file") or "")
    rewritten = False
    if owned_dir and conf_file and Path(conf_file).resolve().is_relative_to(Path(owned_dir).resolve()):
        client.execute_command("CONFIG", "REWRITE")
        rewritten = True
    return ApplyReport(sorted(tls_items), rewritten, conf_file)


def deploy_instructions(conf_path: str, host: str, port: int, tls_port: int, pki_dir: str = "pki") -> str:
    """The commands an operator runs to deploy a rendered TLS section on an external server."""
    cli = (
        f"redis-cli -h {host} -p {tls_port} --tls --cacert {pki_dir}/ca.crt "
        f"--cert {pki_dir}/redis-client.crt --key {pki_dir}/redis-client.key"
    )
    return "\n".join(
        [
            "# 1. copy the certificates and the TLS section to the server (keys 0600, owned by redis)",
            f"scp {pki_dir}/ca.crt {pki_dir}/redis-server.crt {pki_dir}/redis-server.key {host}:/etc/redis/tls/",
            f"scp {conf_path} {host}:/etc/redis/tls.conf",
            "# 2. include it from redis.conf (last line, so it wins) and check it",
            f"ssh {host} \"grep -q '^include /etc/redis/tls.conf' /etc/redis/redis.conf || "
            "echo 'include /etc/redis/tls.conf' | sudo tee -a /etc/redis/redis.conf\"",
            f"python -m runbook config lint {conf_path}",
            "# 3a. a first switch to TLS (tls-port was 0) needs a restart",
            f"ssh {host} sudo systemctl restart redis-server",
            "# 3b. later certificate changes reload without a restart (one atomic CONFIG SET)",
            f"{cli} CONFIG SET tls-cert-file /etc/redis/tls/redis-server.crt "
            "tls-key-file /etc/redis/tls/redis-server.key tls-ca-cert-file /etc/redis/tls/ca.crt",
            "# 4. verify: TLS answers, plaintext is refused",
            f"{cli} PING",
            f"redis-cli -h {host} -p {port} PING   # must fail",
        ]
    )
