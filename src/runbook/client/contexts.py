"""Every ``ssl.SSLContext`` the runbook builds: the one TLS context factory.

Three verification modes, one vocabulary for every caller (clients, probes, audit, diagnosis,
rotation, watch, bench):

``strict``
    What Python 3.13's default context enforces: ``VERIFY_X509_STRICT`` (RFC 5280: a CA needs a
    keyUsage with keyCertSign, critical basicConstraints, key identifiers ...), names only in
    subjectAltName. What the runbook issues always passes; it is the profile it moves deployments to.
``compatible``
    What Redis, ``redis-cli`` and plain OpenSSL accept: the chain must verify to the given CA and the
    name must match, but OpenSSL's default flags apply (a CA made by a guide's ``openssl req -x509``
    lines, without keyUsage, is accepted). Admin paths connect this way so that strictness is a
    finding (``runbook adopt``), never a reason to refuse a reload.
``none``
    No verification: probes that read the presented chain or ask "does anything answer TLS here".

Also here: the server side of an in-memory handshake (:func:`server_context`) and what OpenSSL makes
of a cipher string (:func:`cipher_suites`). Nothing else in the package constructs a context.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from runbook.pki import DEFAULT_CLIENT, PkiPaths

Mode = Literal["strict", "compatible", "none"]
MODES: tuple[Mode, ...] = ("strict", "compatible", "none")
NO_CHECK_TIME = 0x200000  # X509_V_FLAG_NO_CHECK_TIME: dates judged elsewhere (the audit's cert-expiry)
LENIENT_CIPHERS = "DEFAULT:@SECLEVEL=0"  # probes: accept whatever the server offers, judge it afterwards


@dataclass(frozen=True)
class TlsClientFiles:
    """The files a client needs: the CA to trust and, for mutual TLS, its certificate and key."""

    ca: str
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_pki(cls, pki_dir: Path | str, client: str | None = DEFAULT_CLIENT) -> TlsClientFiles:
        paths = PkiPaths(Path(pki_dir))
        if client is None:
            return cls(str(paths.ca_cert))
        return cls(str(paths.ca_cert), str(paths.client_cert(client)), str(paths.client_key(client)))


def _no_prompt() -> bytes:
    """Password callback for unencrypted keys: an encrypted key fails at once instead of prompting."""
    return b""


def tls_context(
    files: TlsClientFiles | None,
    *,
    mode: Mode = "strict",
    check_hostname: bool = True,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    maximum: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    ignore_dates: bool = False,
    client_cert: bool = True,
    key_password: bytes | Callable[[], bytes] | None = None,
    common_name: bool | None = None,
) -> ssl.SSLContext:
    """A client context: trusts ``files.ca`` (only it), presents ``files.cert``, TLS 1.2+ by default.

    ``files=None`` (or an empty ``files.ca``) trusts the system store, as an application without a CA
    setting does.
    ``mode`` is ``strict`` / ``compatible`` / ``none`` (module docstring); ``check_hostname`` is
    ignored under ``none``. ``minimum == maximum`` pins one version (older versions allowed: probing
    for them is the point). ``ciphers`` is an OpenSSL cipher string (:data:`LENIENT_CIPHERS` to see
    whatever a server offers). ``ignore_dates`` verifies the chain but not validity periods.
    ``client_cert=False`` presents no certificate although ``files`` names one. ``key_password``: the
    passphrase (or a callback) of an encrypted client key; without one an encrypted key fails at once
    (never a prompt on the terminal). ``common_name``: may a name match the subject CN of a certificate
    without subjectAltName (default: only in ``compatible`` mode, as OpenSSL-based clients allow).
    Raises ``OSError``/``ssl.SSLError`` when a file cannot be read or the key does not match.
    """
    if mode not in MODES:
        raise ValueError(f"unknown TLS mode {mode!r}: one of {', '.join(MODES)}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: probes still ask for them on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    if ciphers:
        ctx.set_ciphers(ciphers)
    if mode == "none":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        if files is None or not files.ca:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            ctx.load_verify_locations(files.ca)
        flags = int(ctx.verify_flags) | (NO_CHECK_TIME if ignore_dates else 0)
        if mode == "strict":
            flags |= int(ssl.VERIFY_X509_STRICT)
        ctx.verify_flags = ssl.VerifyFlags(flags)
        ctx.check_hostname = check_hostname
        ctx.hostname_checks_common_name = mode == "compatible" if common_name is None else common_name
    if client_cert and files is not None and files.cert:
        ctx.load_cert_chain(files.cert, files.key, password=key_password or _no_prompt)
    return ctx


def server_context(
    cert: str,
    key: str,
    *,
    ca: str | None = None,
    mode: Mode = "strict",
    password: bytes | None = None,
) -> ssl.SSLContext:
    """The server side of a handshake (TLS 1.2+): presents ``cert``/``key``; with ``ca``, requires and
    verifies a client certificate in ``mode`` (``strict`` adds ``VERIFY_X509_STRICT``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key, password=password)
    if ca:
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        if mode == "strict":
            ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def cipher_suites(cipher_string: str) -> list[dict[str, Any]] | None:
    """What OpenSSL expands ``cipher_string`` to (``SSLContext.get_ciphers()`` rows, security level 0);
    None when OpenSSL rejects the string (no cipher matches)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.set_ciphers(cipher_string + ":@SECLEVEL=0")
    except ssl.SSLError:
        return None
    return [dict(c) for c in ctx.get_ciphers()]


def ssl_kwargs(files: TlsClientFiles, *, check_hostname: bool = True, strict: bool = True) -> dict[str, Any]:
    """The redis-py ``ssl_*`` keyword arguments that really exist, for a client or a pool (what the
    snippets print for applications; the runbook's own clients pass a context instead)."""
    kwargs: dict[str, Any] = {
        "ssl_ca_certs": files.ca,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": check_hostname,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
    }
    if files.cert:
        kwargs["ssl_certfile"] = files.cert
        kwargs["ssl_keyfile"] = files.key
    if strict:
        kwargs["ssl_include_verify_flags"] = [ssl.VERIFY_X509_STRICT]
    return kwargs
