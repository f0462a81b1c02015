"""Render :class:`~runbook.config.settings.TlsSettings` as a commented redis.conf TLS section.

Every TLS directive of Redis 7 is covered; only the ones that apply are emitted, each under a
one-line comment saying what it does. :func:`write_conf` writes the result (atomically, backed up).
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from runbook import files
from runbook.config.settings import TLS_DIRECTIVES, TlsSettings
from runbook.config.syntax import quote


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


def write_conf(path: Path | str, text: str) -> Path:
    """Write a rendered config atomically; 0600 when it holds a passphrase, else 0644. Writes a file.

    Idempotent: an identical file is left alone; a different one is backed up first."""
    target = Path(path)
    mode = files.PRIVATE if re.search(r"^tls-(client-)?key-file-pass\s", text, re.M) else files.PUBLIC
    if target.is_file() and target.read_text() == text and stat.S_IMODE(target.stat().st_mode) == mode:
        return target  # idempotent: nothing to change
    if target.exists():
        files.backup([target], target.parent)
    return files.write_file(target, text.encode(), mode)
